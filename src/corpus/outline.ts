/**
 * A markdown page's headings, as a reader sees them: not inside code fences, not in front matter.
 * Both chunkers name each chunk's section from it, and `get` cuts a section out of a page with it.
 */

export const FENCE = /^\s{0,3}(`{3,}|~{3,})/;
export const HEADING = /^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
/** Front matter: `---` … `---` at the very top (a BOM allowed before it). */
export const FRONT_MATTER = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---\r?\n/;

export interface Heading {
  /** 1-based line number in the file. */
  line: number;
  level: number;
  /** As written after the #s, trailing #s and spaces dropped (code spans and punctuation kept). */
  text: string;
}

/** Tracks ``` / ~~~ fences line by line: a fence closes only with its own marker, at least as long. */
export class FenceTracker {
  private open: string | undefined;

  /** Whether `line` is a fence line or inside a fence (so neither a heading nor a paragraph break). */
  inCode(line: string): boolean {
    const match = FENCE.exec(line);
    if (match) {
      const marker = match[1] as string;
      if (this.open === undefined) this.open = marker;
      else if (marker[0] === this.open[0] && marker.length >= this.open.length && line.trim() === marker) this.open = undefined;
      return true;
    }
    return this.open !== undefined;
  }
}

/** How many lines the front matter takes (0 without any). */
export function frontMatterLines(text: string): number {
  const match = FRONT_MATTER.exec(text);
  return match === null ? 0 : match[0].split('\n').length - 1;
}

export function headingsOf(text: string): Heading[] {
  const lines = text.split('\n');
  const fences = new FenceTracker();
  const headings: Heading[] = [];
  for (let index = frontMatterLines(text); index < lines.length; index++) {
    const line = (lines[index] as string).replace(/\r$/, '');
    if (fences.inCode(line)) continue;
    const match = HEADING.exec(line);
    if (match !== null) headings.push({ line: index + 1, level: (match[1] as string).length, text: (match[2] as string).trim() });
  }
  return headings;
}

/** The heading a line sits under: the last one at or above it (undefined above the first). */
export function headingAt(headings: readonly Heading[], line: number): Heading | undefined {
  let found: Heading | undefined;
  for (const heading of headings) {
    if (heading.line > line) break;
    found = heading;
  }
  return found;
}

/**
 * The anchor milvus.io gives a heading: punctuation (code-span backticks, dots, `&`, `?`) dropped,
 * then every space a `-`, case kept. "Load & Release Collection" → "Load--Release-Collection";
 * "`queryCoord.autoBalance`" → "queryCoordautoBalance" (as the docs' own cross-links have them).
 */
export function headingAnchor(heading: string): string {
  return heading
    .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
    .trim()
    .replace(/\s/g, '-');
}

/** Where a line starts in `text`, for each line (and one past the end). */
export function lineOffsets(text: string): number[] {
  const offsets = [0];
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) offsets.push(index + 1);
  return offsets;
}

/**
 * A section exactly as the page has it: from its heading line to the next heading of the same or a
 * higher level (its subsections included), or to the end of the page.
 */
export function sectionText(page: string, heading: Heading): string {
  const headings = headingsOf(page);
  const next = headings.find((other) => other.line > heading.line && other.level <= heading.level);
  const offsets = lineOffsets(page);
  const start = offsets[heading.line - 1] ?? page.length;
  const end = next === undefined ? page.length : (offsets[next.line - 1] ?? page.length);
  return page.slice(start, end);
}
