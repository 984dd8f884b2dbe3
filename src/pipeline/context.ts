import type { PageChunk } from '../store/store.js';
import type { RankedHit } from './retrieve.js';

/**
 * What `ask` sends the model from a whole-docs (markdown) collection: not the top 3 chunks, but a
 * token budget filled from the ranked hits, best first. A hit brings its whole section when the
 * section is short (the answer is often a sibling chunk of the one that ranked), adjacent chunks of
 * one section are merged in file order, and no chunk is sent twice.
 */
export interface ContextPassage {
  /** The best rank among the hits it holds. */
  rank: number;
  source: string;
  /** The section's heading as the file writes it ('' above the first heading). */
  heading: string;
  /** First and last line of the file it covers (1-based). */
  line: number;
  lineEnd: number;
  /** The chunks it holds, in file order. */
  chunks: number[];
  /** What the model reads: the section's heading path once, then the chunks' text in file order. */
  text: string;
  tokens: number;
  url?: string;
}

/**
 * The defaults, measured (docs/commands.md, "Answers from the whole docs"): on 94 whole-docs questions with
 * gold sections, 20 hybrid hits hold the answer for 0.979, and 1,750 tokens filled from them send it
 * for 0.957, with a median prompt of 7,778 characters (10 hits: at most 0.904; 2,000 tokens: no
 * more found, 8,822 characters).
 */
export const DEFAULT_CONTEXT_TOKENS = 1750;
/** Hits that may bring passages when --top-k does not say. */
export const DEFAULT_CONTEXT_HITS = 20;

export interface ContextBudget {
  /** Tokens of passage text, at most (the chat model's tokenizer counts). */
  tokens: number;
  /** Hits that may bring passages, at most (`--top-k`). */
  maxHits: number;
}

export interface ContextParts {
  /** Every chunk of a page, in chunk order. */
  pageChunks(source: string): Promise<readonly PageChunk[]>;
  countTokens(text: string): number;
  /** Where a reader can check a passage, when ragoss can tell. */
  urlOf(passage: Pick<ContextPassage, 'source' | 'heading' | 'line'>): string | undefined;
}

export interface BuiltContext {
  passages: ContextPassage[];
  /** Tokens of the passages' text, all together. */
  tokens: number;
  /** Hits read to fill it. */
  hitsUsed: number;
}

/**
 * A section brings all its chunks only while it stays under this share of the budget: one long
 * section must not crowd out the other hits (a half sent the same answers with longer prompts).
 */
const SECTION_SHARE = 0.25;

/** A markdown chunk's text is `heading path\n\nbody`; the body is what follows the first blank line. */
function splitHeader(text: string): { header: string; body: string } {
  const cut = text.indexOf('\n\n');
  return cut === -1 ? { header: '', body: text } : { header: text.slice(0, cut), body: text.slice(cut + 2) };
}

/** The run of chunks around `index` that sit under the same heading: the section without its subsections. */
function sectionRun(chunks: readonly PageChunk[], index: number): PageChunk[] {
  const heading = chunks[index]?.heading;
  let first = index;
  let last = index;
  while (first > 0 && chunks[first - 1]?.heading === heading) first--;
  while (last < chunks.length - 1 && chunks[last + 1]?.heading === heading) last++;
  return chunks.slice(first, last + 1);
}

/** First and last line of the file a run of chunks covers (their raws joined are those bytes). */
function lineRange(chunks: readonly PageChunk[], run: readonly PageChunk[]): { line: number; lineEnd: number } {
  const before = chunks.slice(0, run[0]?.chunkIndex ?? 0).reduce((lines, chunk) => lines + newlines(chunk.raw), 0);
  const raw = run.map((chunk) => chunk.raw).join('');
  const leading = newlines(/^\s*/.exec(raw)?.[0] ?? '');
  return { line: before + leading + 1, lineEnd: before + newlines(raw.trimEnd()) + 1 };
}

function newlines(text: string): number {
  let count = 0;
  for (let index = text.indexOf('\n'); index !== -1; index = text.indexOf('\n', index + 1)) count++;
  return count;
}

/** The run's text for the model: the heading path once, then each chunk's body. */
function runText(run: readonly PageChunk[]): string {
  const parts = run.map((chunk) => splitHeader(chunk.text));
  const header = parts[0]?.header ?? '';
  const bodies = parts.map((part) => (part.header === header ? part.body : `${part.header}\n\n${part.body}`).trim());
  return [header, ...bodies].filter((part) => part !== '').join('\n\n');
}

/** Consecutive chunk indexes as runs: [3, 4, 7] → [[3, 4], [7]]. */
function consecutive(indexes: readonly number[]): number[][] {
  const runs: number[][] = [];
  for (const index of [...indexes].sort((a, b) => a - b)) {
    const last = runs.at(-1);
    if (last !== undefined && last.at(-1) === index - 1) last.push(index);
    else runs.push([index]);
  }
  return runs;
}

/**
 * Fills the budget from the hits in two passes, best first. Breadth: each hit's own chunk, while it
 * fits (the answer ranks 4th to 10th as often as it sits beside a hit). Depth: then each hit's
 * section, whole, when it is short and the rest of it fits (the answer is often a sibling chunk of
 * the one that ranked). The passages come out in the order of their best hit, neighbouring chunks
 * merged.
 */
export async function buildContext(hits: readonly RankedHit[], budget: ContextBudget, parts: ContextParts): Promise<BuiltContext> {
  const pages = new Map<string, Promise<readonly PageChunk[]>>();
  const pageOf = (source: string) => {
    let page = pages.get(source);
    if (page === undefined) pages.set(source, (page = parts.pageChunks(source)));
    return page;
  };
  // Chosen chunks per page, with the best rank that brought each.
  const chosen = new Map<string, Map<number, number>>();
  const takenIn = (source: string) => {
    let taken = chosen.get(source);
    if (taken === undefined) chosen.set(source, (taken = new Map<number, number>()));
    return taken;
  };
  let spent = 0;
  const used = hits.slice(0, budget.maxHits);
  const take = (source: string, rank: number, chunks: readonly PageChunk[], cost: number): boolean => {
    if (spent + cost > budget.tokens) return false;
    spent += cost;
    const taken = takenIn(source);
    for (const chunk of chunks) taken.set(chunk.chunkIndex, Math.min(taken.get(chunk.chunkIndex) ?? rank, rank));
    return true;
  };
  for (const hit of used) {
    const own = (await pageOf(hit.source))[hit.chunkIndex];
    if (own === undefined || takenIn(hit.source).has(hit.chunkIndex)) continue;
    take(hit.source, hit.rank, [own], parts.countTokens(own.text));
  }
  for (const hit of used) {
    const chunks = await pageOf(hit.source);
    if (chunks[hit.chunkIndex] === undefined || !takenIn(hit.source).has(hit.chunkIndex)) continue;
    const section = sectionRun(chunks, hit.chunkIndex);
    if (parts.countTokens(runText(section)) > budget.tokens * SECTION_SHARE) continue;
    const rest = section.filter((chunk) => !takenIn(hit.source).has(chunk.chunkIndex));
    if (rest.length > 0) take(hit.source, hit.rank, rest, rest.reduce((sum, chunk) => sum + parts.countTokens(splitHeader(chunk.text).body), 0));
  }
  const hitsUsed = used.length;
  const passages: ContextPassage[] = [];
  for (const [source, taken] of chosen) {
    const chunks = await pageOf(source);
    for (const indexes of consecutive([...taken.keys()])) {
      // A run crossing a heading is two passages: each says which section it is.
      for (const run of splitByHeading(indexes.map((index) => chunks[index] as PageChunk))) {
        const text = runText(run);
        const place = { source, heading: run[0]?.heading ?? '', ...lineRange(chunks, run) };
        const url = parts.urlOf(place);
        passages.push({
          rank: Math.min(...run.map((chunk) => taken.get(chunk.chunkIndex) as number)),
          ...place,
          chunks: run.map((chunk) => chunk.chunkIndex),
          text,
          tokens: parts.countTokens(text),
          ...(url === undefined ? {} : { url }),
        });
      }
    }
  }
  passages.sort((a, b) => a.rank - b.rank || a.source.localeCompare(b.source) || a.line - b.line);
  return { passages, tokens: passages.reduce((sum, passage) => sum + passage.tokens, 0), hitsUsed };
}

function splitByHeading(run: readonly PageChunk[]): PageChunk[][] {
  const groups: PageChunk[][] = [];
  for (const chunk of run) {
    const last = groups.at(-1);
    if (last !== undefined && last[0]?.heading === chunk.heading) last.push(chunk);
    else groups.push([chunk]);
  }
  return groups;
}
