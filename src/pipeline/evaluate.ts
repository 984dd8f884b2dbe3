import { readFile } from 'node:fs/promises';
import { chunkHeading } from '../corpus/chunk.js';
import { RagossError, UsageError } from '../errors.js';
import type { RankedHit } from './retrieve.js';
import type { RefusalSignal } from './grounding.js';

/** A chunk that answers the question: its file, and the heading of the section it sits under. */
export interface GoldChunk {
  source: string;
  heading: string;
}

export interface EvalQuestion {
  question: string;
  /** Headings of answering chunks (the FAQ format): a hit is a chunk whose heading starts with one. Empty (and no gold): an off-topic question, which the grounding check should flag. */
  expected: string[];
  /** When present, scoring is by source and heading, whatever the chunker (the full-docs format). */
  gold?: GoldChunk[];
  /** What kind of question it is ("kind" or "topic" in the file: unrelated, programming, adjacent...): grounding is reported per kind. */
  kind?: string;
}

export interface EvalMiss {
  question: string;
  expected: string[];
  retrieved: string[];
}

/** How the grounding check did: off-topic questions should be flagged, real ones not. */
export interface GroundingReport {
  realQuestions: number;
  /** Real questions the check said the docs do not cover (false alarms). */
  realFlagged: string[];
  offTopicQuestions: number;
  offTopicFlagged: number;
  /** Off-topic questions the check let through. */
  offTopicMissed: string[];
  /** Questions, real or not, that the nearest-probe signal refused (they cleared the line). */
  refusedByProbe: string[];
  /** The same counts per kind of question (questions without one: "real" or "off-topic"). */
  byKind: KindCount[];
  /** With `curve`: refused and caught as the line moves (see `groundingCurve`). */
  curve?: CurvePoint[];
}

/** One kind of question: how many there were and how many the check flagged. */
export interface KindCount {
  kind: string;
  /** Whether questions of this kind are real ones (flagging them is a false alarm). */
  real: boolean;
  questions: number;
  flagged: number;
}

/** At one line: the share of each kind flagged (for real kinds, refused; for off-topic ones, caught). */
export interface CurvePoint {
  threshold: number;
  flagged: Record<string, number>;
}

export interface EvalReport {
  /** Real questions (with expected headings or gold chunks): what recall and MRR are over. */
  questions: number;
  topK: number;
  /** Share of questions with an answering chunk in the top k. */
  recallAtK: number;
  /** Mean of 1/rank of the first answering chunk (0 when none). */
  mrr: number;
  /** Same, counting any chunk from an answering file: present when the questions name gold sources. */
  page?: { recallAtK: number; mrr: number };
  /** Whether what `ask` would send holds the answer (the context builder's passages, or the top k). */
  context?: ContextRecall;
  misses: EvalMiss[];
  grounding: GroundingReport;
}

const FORMAT_HINT = 'one {"question", "expected": [headings]} or {"question", "gold": [{"source", "heading"}]} object a line ("expected": [] for a question the docs do not cover)';

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function parseGold(value: unknown): GoldChunk[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const gold = value.map((item: unknown) => item as Partial<GoldChunk> | null);
  if (!gold.every((item) => item !== null && typeof item === 'object' && typeof item.source === 'string' && typeof item.heading === 'string')) return undefined;
  return gold.map((item) => ({ source: item?.source as string, heading: item?.heading as string }));
}

/** One question of an eval file or request body; `where` names it in the error. */
export function parseEvalQuestion(value: unknown, where: string): EvalQuestion {
  const record = (value ?? {}) as Record<string, unknown>;
  const gold = record['gold'] === undefined ? undefined : parseGold(record['gold']);
  const expected = record['expected'] ?? [];
  if (typeof record['question'] !== 'string' || !isStringArray(expected) || (record['gold'] !== undefined && gold === undefined) || (record['expected'] === undefined && gold === undefined)) {
    throw new UsageError(`${where} needs "question" (string) and "expected" (array of headings, [] when the docs do not cover it) or "gold" (array of {"source", "heading"})`);
  }
  const kind = record['kind'] ?? record['topic'];
  return { question: record['question'], expected, ...(gold === undefined ? {} : { gold }), ...(typeof kind === 'string' && kind !== '' ? { kind } : {}) };
}

export async function readEvalQuestions(path: string): Promise<EvalQuestion[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${path}`, `pass a JSONL file with ${FORMAT_HINT}`);
  }
  const questions = text
    .split('\n')
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, number }) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new UsageError(`${path}:${number} is not valid JSON`);
      }
      return parseEvalQuestion(parsed, `${path}:${number}`);
    });
  if (questions.length === 0) throw new UsageError(`${path} has no questions`, `put ${FORMAT_HINT}`);
  return questions;
}

/** A hit answers the question when its heading (see `chunkHeading`) starts with an expected one. */
export function isRelevant(hitText: string, expected: readonly string[]): boolean {
  const heading = chunkHeading(hitText);
  return expected.some((item) => heading.startsWith(item));
}

/**
 * Gold scoring works for any chunker: the hit comes from a gold file and contains that file's gold
 * heading (a markdown chunk carries it in its path; a seed chunk starts with it).
 */
export function isGoldHit(hit: Pick<RankedHit, 'source' | 'text'>, gold: readonly GoldChunk[]): boolean {
  return gold.some((item) => item.source === hit.source && hit.text.includes(item.heading));
}

export function isGoldPage(hit: Pick<RankedHit, 'source'>, gold: readonly GoldChunk[]): boolean {
  return gold.some((item) => item.source === hit.source);
}

/** Recall@k and MRR from the rank (1-based) of each question's first relevant hit, 0 when none. */
function score(firstRanks: readonly number[]): { recallAtK: number; mrr: number } {
  const found = firstRanks.filter((rank) => rank > 0);
  return { recallAtK: found.length / firstRanks.length, mrr: found.reduce((sum, rank) => sum + 1 / rank, 0) / firstRanks.length };
}

const rankOfFirst = (hits: readonly RankedHit[], relevant: (hit: RankedHit) => boolean) => hits.findIndex(relevant) + 1;

export function isOffTopic(question: EvalQuestion): boolean {
  return question.expected.length === 0 && (question.gold === undefined || question.gold.length === 0);
}

/** What eval needs of a search: the ranked hits, whether the grounding check passed, and the similarity it read. */
export interface EvalSearch {
  hits: RankedHit[];
  grounded: boolean;
  similarity: number | null;
  /** Which signal refused it (null or absent: none). */
  refusedBy?: RefusalSignal | null;
  /** Whether the nearest-probe signal refuses it, whatever the line (the curve moves the line alone); absent: no such check. */
  closerToProbe?: boolean;
  /** What `ask` would send the model for the question, and the prompt's length in characters. */
  sent?: { passages: ReadonlyArray<Pick<RankedHit, 'source' | 'text'>>; promptChars: number };
}

/** Context recall: the share of real questions whose answer is inside what `ask` would send. */
export interface ContextRecall {
  recall: number;
  /** The median prompt (system and user messages) in characters. */
  medianPromptChars: number;
}

/** A passage holds the answer: a gold section of its file, or (the FAQ format) an expected heading. */
function holdsAnswer(passage: Pick<RankedHit, 'source' | 'text'>, item: EvalQuestion): boolean {
  return item.gold === undefined ? item.expected.some((heading) => passage.text.includes(heading)) : isGoldHit(passage, item.gold);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** A question's kind for the per-kind counts: its own, else real or off-topic. */
export function kindOf(question: EvalQuestion): string {
  return question.kind ?? (isOffTopic(question) ? 'off-topic' : 'real');
}

/** A question's best similarity, its kind and whether it is real: what the counts and the curve are made of. */
interface Scored {
  kind: string;
  real: boolean;
  similarity: number | null;
  closerToProbe: boolean;
  flagged: boolean;
}

function countByKind(scored: readonly Scored[]): KindCount[] {
  const counts = new Map<string, KindCount>();
  for (const item of scored) {
    const count = counts.get(item.kind) ?? { kind: item.kind, real: item.real, questions: 0, flagged: 0 };
    count.questions++;
    if (item.flagged) count.flagged++;
    counts.set(item.kind, count);
  }
  // Real kinds first, then off-topic ones, each in the order first met.
  return [...counts.values()].sort((a, b) => Number(b.real) - Number(a.real));
}

/** Lines every 0.01 across the similarities seen (and the line used), two decimals each. */
const CURVE_STEP = 0.01;

/**
 * The share of each kind flagged at each line from just below the lowest similarity to just above
 * the highest: where refused real questions and caught off-topic ones trade.
 */
export function groundingCurve(scored: readonly (Pick<Scored, 'kind' | 'similarity'> & { closerToProbe?: boolean })[]): CurvePoint[] {
  const similarities = scored.flatMap((item) => (item.similarity === null ? [] : [item.similarity]));
  if (similarities.length === 0) return [];
  // The nudge keeps 0.3 / 0.01 (29.999...) on step 30.
  const low = Math.floor(Math.min(...similarities) / CURVE_STEP + 1e-9);
  const high = Math.ceil(Math.max(...similarities) / CURVE_STEP - 1e-9);
  const kinds = [...new Set(scored.map((item) => item.kind))];
  const points: CurvePoint[] = [];
  for (let step = low; step <= high; step++) {
    const threshold = Number((step * CURVE_STEP).toFixed(2));
    const flagged: Record<string, number> = {};
    for (const kind of kinds) {
      const ofKind = scored.filter((item) => item.kind === kind);
      const below = ofKind.filter((item) => item.similarity === null || item.similarity < threshold || item.closerToProbe === true).length;
      flagged[kind] = Number((below / ofKind.length).toFixed(4));
    }
    points.push({ threshold, flagged });
  }
  return points;
}

export async function evaluate(
  questions: readonly EvalQuestion[],
  topK: number,
  search: (question: string) => Promise<EvalSearch>,
  options: { curve?: boolean } = {},
): Promise<EvalReport> {
  if (questions.length === 0) throw new RagossError('no questions to evaluate');
  const scored: Scored[] = [];
  const sectionRanks: number[] = [];
  const pageRanks: number[] = [];
  const misses: EvalMiss[] = [];
  const grounding: GroundingReport = { realQuestions: 0, realFlagged: [], offTopicQuestions: 0, offTopicFlagged: 0, offTopicMissed: [], refusedByProbe: [], byKind: [] };
  const sentHolds: boolean[] = [];
  const promptChars: number[] = [];
  for (const item of questions) {
    const { hits, grounded, similarity, closerToProbe, refusedBy, sent } = await search(item.question);
    scored.push({ kind: kindOf(item), real: !isOffTopic(item), similarity, closerToProbe: closerToProbe ?? false, flagged: !grounded });
    if (refusedBy === 'nearest probe') grounding.refusedByProbe.push(item.question);
    if (isOffTopic(item)) {
      grounding.offTopicQuestions++;
      if (grounded) grounding.offTopicMissed.push(item.question);
      else grounding.offTopicFlagged++;
      continue;
    }
    grounding.realQuestions++;
    if (!grounded) grounding.realFlagged.push(item.question);
    if (sent !== undefined) {
      sentHolds.push(sent.passages.some((passage) => holdsAnswer(passage, item)));
      promptChars.push(sent.promptChars);
    }
    const { gold } = item;
    const rank = rankOfFirst(hits, gold === undefined ? (hit) => isRelevant(hit.text, item.expected) : (hit) => isGoldHit(hit, gold));
    sectionRanks.push(rank);
    if (gold !== undefined) pageRanks.push(rankOfFirst(hits, (hit) => isGoldPage(hit, gold)));
    if (rank === 0) {
      const expected = gold === undefined ? item.expected : gold.map((chunk) => `${chunk.source} › ${chunk.heading}`);
      misses.push({ question: item.question, expected, retrieved: hits.map((hit) => `${hit.source} › ${chunkHeading(hit.text)}`) });
    }
  }
  // The page figure only means something when every real question names its pages.
  const page = pageRanks.length > 0 && pageRanks.length === sectionRanks.length ? score(pageRanks) : undefined;
  const scores = sectionRanks.length === 0 ? { recallAtK: 0, mrr: 0 } : score(sectionRanks);
  grounding.byKind = countByKind(scored);
  if (options.curve === true) grounding.curve = groundingCurve(scored);
  const context: ContextRecall | undefined = sentHolds.length === 0 ? undefined : { recall: sentHolds.filter(Boolean).length / sentHolds.length, medianPromptChars: median(promptChars) };
  return { questions: sectionRanks.length, topK, ...scores, ...(page === undefined ? {} : { page }), ...(context === undefined ? {} : { context }), misses, grounding };
}
