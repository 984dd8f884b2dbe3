import { FRONT_MATTER, FenceTracker, HEADING, frontMatterLines, headingAt, headingsOf, lineOffsets, type Heading } from './outline.js';

/**
 * How documents become chunks. `seed` is the tutorial's `text.split("# ")`, kept byte for byte so
 * its 72 FAQ chunks and answers stay as published; `markdown` follows the document's structure.
 */
export const CHUNKERS = ['seed', 'markdown'] as const;
export type ChunkerName = (typeof CHUNKERS)[number];
export const DEFAULT_CHUNKER: ChunkerName = 'seed';

/** The embedding model's reach: a chunk longer than it reads loses its tail in retrieval. */
export interface TokenLimit {
  maxTokens: number;
  countTokens(text: string): number;
}

/**
 * The longest chunk the markdown chunker makes, in tokens, when the model reads more: sentence
 * models like all-mpnet-base-v2 were trained on short passages (128 tokens) and mean-pool every
 * token, so a 384-token chunk's vector blurs what each of its paragraphs is about. Measured on the
 * whole docs: 256 against 384 took dense recall@3 from 0.733 to 0.800 and hybrid from 0.867 to 0.933.
 */
export const MARKDOWN_TARGET_TOKENS = 256;

/** Separates the levels of a chunk's heading path on its first line: "Title › Section › Subsection". */
export const PATH_SEPARATOR = ' › ';

/** Exactly the seed tutorial's chunking: `text.split("# ")`, empty pieces included. */
export function splitSeed(text: string): string[] {
  return text.split('# ');
}

/**
 * A chunk and where it sits in its file. `text` is what is embedded, searched and shown; `raw` is
 * the file's own bytes the chunk stands for, so that a page's chunks, their raws joined in order,
 * give back the file exactly (`ragoss get`), whichever chunker cut it.
 */
export interface ChunkSpan {
  text: string;
  raw: string;
  /** 1-based line where the chunk's own content starts (its section heading, when it opens one). */
  line: number;
  /** The heading the chunk sits under, as the file writes it; '' above the page's first heading. */
  heading: string;
}

export function chunkText(chunker: ChunkerName, text: string, path: string, limit: TokenLimit | undefined): string[] {
  return chunkSpans(chunker, text, path, limit).map((span) => span.text);
}

export function chunkSpans(chunker: ChunkerName, text: string, path: string, limit: TokenLimit | undefined): ChunkSpan[] {
  if (chunker === 'seed') return seedSpans(text);
  if (limit === undefined) throw new Error('the markdown chunker needs the embedding model\'s token limit');
  return markdownSpans(text, path, limit);
}

const countNewlines = (text: string) => text.split('\n').length - 1;

/** The seed's pieces; each after the first stands for the "# " it was split at, then itself. */
function seedSpans(text: string): ChunkSpan[] {
  const headings = headingsOf(text);
  let line = 1;
  return splitSeed(text).map((piece, index) => {
    // The first piece starts at the top of the file, before any heading on line 1; every later one
    // starts after a "# ", so a heading on its line is at or above it.
    const under = headingAt(headings, index === 0 ? line - 1 : line);
    const span = { text: piece, raw: index === 0 ? piece : `# ${piece}`, line, heading: under?.text ?? '' };
    line += countNewlines(piece);
    return span;
  });
}

/** A line of the file and its 0-based index there. */
interface Line {
  text: string;
  index: number;
}

interface Section {
  /** Heading texts from the page title down to this section's own heading. */
  path: string[];
  /** Lines under the heading, the heading line itself excluded. */
  lines: Line[];
  /** Where the section's bytes begin: its heading line, or an empty parent's it absorbed. */
  start: number;
  /** Its own heading's line; undefined for the part of the page above the first heading. */
  headingIndex?: number;
}

/** Front matter (`---` … `---` at the top) gives the page title and is not content. */
function splitFrontMatter(text: string): { title: string | undefined; body: string } {
  const match = FRONT_MATTER.exec(text);
  if (!match) return { title: undefined, body: text };
  const title = /^title:\s*(.+?)\s*$/m.exec(match[1] ?? '')?.[1]?.replace(/^(["'])(.*)\1$/, '$2');
  return { title, body: text.slice(match[0].length) };
}

function fileTitle(path: string): string {
  const name = path.split('/').at(-1) ?? path;
  return name.replace(/\.md$/i, '').replace(/[_-]+/g, ' ');
}

/** Splits at headings outside code fences; each section knows its heading path. */
function sections(lines: readonly Line[], title: string): Section[] {
  const result: Section[] = [{ path: [title], lines: [], start: 0 }];
  // stack[level] is the heading text open at that level (1-6); level 0 is the page title.
  const stack: string[] = [title];
  const fences = new FenceTracker();
  for (const line of lines) {
    const heading = fences.inCode(line.text) ? null : HEADING.exec(line.text);
    if (heading === null) {
      (result.at(-1) as Section).lines.push(line);
      continue;
    }
    const level = (heading[1] as string).length;
    const text = (heading[2] as string).trim();
    stack.length = level;
    stack[level] = text;
    const path = stack.filter((part, index) => part !== undefined && part !== '' && !(index === 1 && part === title));
    result.push({ path: path.length > 0 ? path : [title], lines: [], start: line.index, headingIndex: line.index });
  }
  return result;
}

const isBlank = (lines: readonly Line[]) => lines.every((line) => line.text.trim() === '');

/**
 * A heading with nothing under it (e.g. "## Install" directly followed by "### On Linux") says
 * little alone: it joins the section it opens, whose path already names it (and whose bytes now
 * begin at the absorbed heading).
 */
function mergeEmptySections(all: readonly Section[]): Section[] {
  const merged: Section[] = [];
  let carriedStart: number | undefined;
  for (let index = 0; index < all.length; index++) {
    const section = { ...(all[index] as Section) };
    section.start = carriedStart ?? section.start;
    carriedStart = undefined;
    if (isBlank(section.lines)) {
      const next = all[index + 1];
      const nextIsChild = next !== undefined && next.path.length > section.path.length;
      if (nextIsChild || index === 0) {
        carriedStart = section.start;
        continue;
      }
      // A heading with no content and no child keeps its place: its title alone may be the answer.
    }
    merged.push(section);
  }
  return merged;
}

/** A paragraph or code block and the line it starts at. */
interface Block {
  text: string;
  index: number;
}

/** Paragraphs (blank-line separated) with every fenced code block kept as one block. */
function blocks(lines: readonly Line[]): Block[] {
  const result: Block[] = [];
  let current: Line[] = [];
  const fences = new FenceTracker();
  const flush = () => {
    if (!isBlank(current)) result.push({ text: current.map((line) => line.text).join('\n').replace(/^\n+|\s+$/g, ''), index: (current[0] as Line).index });
    current = [];
  };
  for (const line of lines) {
    if (!fences.inCode(line.text) && line.text.trim() === '') flush();
    else current.push(line);
  }
  flush();
  return result;
}

/**
 * Greedy packing of blocks into chunks under the limit; a block too long alone is cut at lines.
 * Each piece is tokenized once and counts are added (whitespace between pieces makes no tokens):
 * re-tokenizing every candidate made chunking the whole docs take 14 s instead of 1.
 */
function pack(header: string, pieces: readonly Block[], limit: TokenLimit): Block[] {
  const specialTokens = limit.countTokens('');
  const cost = (text: string) => limit.countTokens(text) - specialTokens;
  const budget = Math.min(limit.maxTokens, MARKDOWN_TARGET_TOKENS) - specialTokens - cost(header);
  const chunks: Block[] = [];
  let current: string[] = [];
  let currentIndex = 0;
  let used = 0;
  const add = (text: string, index: number, textCost: number) => {
    if (current.length === 0) currentIndex = index;
    current.push(text);
    used += textCost;
  };
  const emit = (separator: string) => {
    if (current.length > 0) chunks.push({ text: `${header}\n\n${current.join(separator)}`, index: currentIndex });
    current = [];
    used = 0;
  };
  for (const piece of pieces) {
    const pieceCost = cost(piece.text);
    if (used + pieceCost <= budget) {
      add(piece.text, piece.index, pieceCost);
      continue;
    }
    emit('\n\n');
    if (pieceCost <= budget) {
      add(piece.text, piece.index, pieceCost);
      continue;
    }
    piece.text.split('\n').forEach((line, offset) => {
      const lineCost = cost(line);
      if (current.length > 0 && used + lineCost > budget) emit('\n');
      add(line, piece.index + offset, lineCost);
    });
    emit('\n');
  }
  emit('\n\n');
  return chunks;
}

/**
 * Structure-aware chunks: one per section (headings inside code fences are code, not headings),
 * each starting with its page title and heading path so it says what it is about even alone, and
 * split at paragraph boundaries, path repeated, when longer than the model reads.
 */
export function chunkMarkdown(text: string, path: string, limit: TokenLimit): string[] {
  return markdownSpans(text, path, limit).map((span) => span.text);
}

function markdownSpans(text: string, path: string, limit: TokenLimit): ChunkSpan[] {
  const normalized = text.replace(/\r\n/g, '\n');
  const { title: frontTitle, body } = splitFrontMatter(normalized);
  const firstH1 = /^\s{0,3}#\s+(.+?)\s*#*\s*$/m.exec(body)?.[1];
  const title = frontTitle ?? firstH1 ?? fileTitle(path);
  const bodyStart = frontMatterLines(normalized);
  const lines = body.split('\n').map((line, offset) => ({ text: line, index: bodyStart + offset }));
  const drafts: Array<{ text: string; start: number; line: number }> = [];
  for (const section of mergeEmptySections(sections(lines, title))) {
    const header = section.path.join(PATH_SEPARATOR);
    const pieces = blocks(section.lines);
    const packed = pieces.length === 0 ? [{ text: header, index: section.start }] : pack(header, pieces, limit);
    packed.forEach((chunk, order) => {
      const first = order === 0;
      drafts.push({ text: chunk.text, start: first ? section.start : chunk.index, line: (first ? (section.headingIndex ?? chunk.index) : chunk.index) + 1 });
    });
  }
  return withRaw(text, drafts, headingsOf(normalized));
}

/** Gives each chunk the file's lines from where it starts to where the next one does (the first from line 1). */
function withRaw(text: string, drafts: ReadonlyArray<{ text: string; start: number; line: number }>, headings: readonly Heading[]): ChunkSpan[] {
  const offsets = lineOffsets(text);
  return drafts.map((draft, order) => {
    const start = order === 0 ? 0 : draft.start;
    const next = drafts[order + 1];
    if (next !== undefined && next.start <= start) throw new Error(`markdown chunker: chunk ${order + 1} starts at line ${next.start + 1}, not after line ${start + 1}`);
    const raw = text.slice(offsets[start] ?? text.length, next === undefined ? text.length : (offsets[next.start] ?? text.length));
    return { text: draft.text, raw, line: draft.line, heading: headingAt(headings, draft.line)?.text ?? '' };
  });
}

/**
 * The heading a chunk answers to: the last level of a markdown chunk's path line, or a seed chunk's
 * first line (the text after the "# " it was split at). Lets eval score either chunker.
 */
export function chunkHeading(text: string): string {
  const firstLine = text.trimStart().split('\n')[0] ?? '';
  return (firstLine.split(PATH_SEPARATOR).at(-1) ?? '').replace(/^#+\s*/, '').trim();
}
