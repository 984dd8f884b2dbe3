/** Exactly the seed tutorial's chunking: `text.split("# ")`, empty pieces included. */
export function splitMarkdown(text: string): string[] {
  return text.split('# ');
}
