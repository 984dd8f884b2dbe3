/**
 * Tokens as gpt-oss counts them: its o200k tokenizer (o200k_harmony is o200k_base plus the chat
 * format's special tokens, which passages never contain). Loaded on first use (about 0.15 s): only
 * an `ask` that fills a context budget needs it.
 */
export async function chatTokenCounter(): Promise<(text: string) => number> {
  const { countTokens } = await import('gpt-tokenizer/encoding/o200k_base');
  return (text) => countTokens(text);
}
