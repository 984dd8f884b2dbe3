import type { GroundingCalibration } from '../types.js';

/**
 * "The docs don't cover this": the best dense similarity between the question and any chunk, held
 * against a threshold. Dense similarity, whatever the search mode: hybrid's RRF score is a rank sum
 * and BM25's is unbounded, neither says how close the nearest passage is.
 */
export interface Grounding {
  /** False when no chunk comes close enough to the question: the docs do not seem to cover it. */
  grounded: boolean;
  /** The best inner-product similarity of the question's vector to a chunk's; null on an empty collection. */
  similarity: number | null;
  /** What the similarity must reach; null when no line applies (nothing is flagged). */
  threshold: number | null;
  /** Where the line came from (see `ThresholdSource`). */
  thresholdSource: ThresholdSource;
  /**
   * The off-topic probe closest to the question and its similarity: the second signal, read when the
   * collection's calibrated line applies (null otherwise).
   */
  nearestProbe: NearestProbe | null;
  /** Which signal refused the question; null when it was not refused. */
  refusedBy: RefusalSignal | null;
}

export interface NearestProbe {
  question: string;
  similarity: number;
}

/**
 * similarity: the best similarity is below the line (or there is no passage at all); nearest probe:
 * the question is closer to one of ragoss's off-topic probes than to any passage, by more than
 * PROBE_MARGIN.
 */
export const REFUSAL_SIGNALS = ['similarity', 'nearest probe'] as const;
export type RefusalSignal = (typeof REFUSAL_SIGNALS)[number];

/**
 * How much closer to an off-topic probe than to the nearest passage a question must be to be
 * refused although it clears the line. General-programming questions that share the docs' words
 * ("how do I store a list in a single database column") clear a line low enough for short real
 * questions, but sit nearer a probe of their own kind than any passage. Real questions can be
 * nearer a probe too ("store a list of tags in one field": 0.18 nearer, on the whole docs), so the
 * margin is the largest such gap of any real question in the sets measured before it was chosen
 * (test/fixtures/grounding, both collections), 0.184, rounded up to the next 0.05. Measured on a
 * set written after it: test/fixtures/grounding/README.md.
 */
export const PROBE_MARGIN = 0.2;

/**
 * min-score: --min-score / RAGOSS_MIN_SCORE; collection: the line calibrated for the collection at
 * ingest (or by `ragoss calibrate`); model default: a collection without one, a fixed line per
 * model and chunker; none: no line at all, nothing is flagged.
 */
export const THRESHOLD_SOURCES = ['min-score', 'collection', 'model default', 'none'] as const;
export type ThresholdSource = (typeof THRESHOLD_SOURCES)[number];

/**
 * The line sits at the null distribution's median: half the probes fall below it. Not at its
 * maximum: the upper tail is probes that share the docs' subject (a database question on a docs
 * corpus, 0.66 on the whole docs), and a line up there refuses real questions, while for a tool run
 * from scripts a refused real question is the expensive error. The percentile is the highest step of
 * the null (0.5, 0.6, 0.7, 0.75, ...) at which, with the nearest-probe check beside it, at most 1% of
 * the real questions on record are refused on the FAQ (145) and on the whole docs (319); the 75th,
 * chosen on the dev sets alone with fewer probes, refused 3.4% on the whole docs. What the off-topic
 * questions lose to the lower line, the nearest-probe check takes back (PROBE_MARGIN).
 * test/fixtures/grounding/README.md has the measurements.
 */
export const CALIBRATION_RULE = { quantile: 0.5, margin: 0 } as const;

/**
 * Whether a recorded calibration was drawn the way this ragoss draws lines (rule and probe set): one
 * an older ragoss drew, or a snapshot carried, still works, but `ragoss calibrate` would move it.
 */
export function drawnByCurrentRule(calibration: GroundingCalibration, probes: number): boolean {
  return calibration.quantile === CALIBRATION_RULE.quantile && calibration.margin === CALIBRATION_RULE.margin && calibration.probes === probes;
}

/** The `q` quantile of `values`, linearly interpolated between order statistics. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const position = (sorted.length - 1) * Math.min(1, Math.max(0, q));
  const below = Math.floor(position);
  const above = Math.min(sorted.length - 1, below + 1);
  const lower = sorted[below] as number;
  return lower + ((sorted[above] as number) - lower) * (position - below);
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The collection's line from its null distribution (each probe's best similarity on its chunks). */
export function calibrateThreshold(nullSimilarities: readonly number[], rule: { quantile: number; margin: number } = CALIBRATION_RULE): GroundingCalibration {
  const nullQuantile = quantile(nullSimilarities, rule.quantile);
  const nullMax = Math.max(...nullSimilarities);
  const percentile = round3(rule.quantile * 100);
  return {
    threshold: round3(nullQuantile + rule.margin),
    method: `${percentile}th percentile of ${nullSimilarities.length} off-topic probes' best similarity on this collection${rule.margin === 0 ? '' : `, + ${rule.margin}`}`,
    probes: nullSimilarities.length,
    nullMax: round3(nullMax),
    nullQuantile: round3(nullQuantile),
    quantile: rule.quantile,
    margin: rule.margin,
  };
}

/**
 * The line every probe's best similarity is tracked for, batch by batch of chunk vectors: exact
 * inner products, so an ingest calibrates while it stores, without a search per probe.
 */
export class NullDistribution {
  private readonly best: Float64Array;

  constructor(private readonly probes: readonly Float32Array[]) {
    this.best = new Float64Array(probes.length).fill(Number.NEGATIVE_INFINITY);
  }

  observe(vectors: readonly Float32Array[]): void {
    this.probes.forEach((probe, index) => {
      let best = this.best[index] as number;
      for (const vector of vectors) best = Math.max(best, innerProduct(probe, vector));
      this.best[index] = best;
    });
  }

  /** Each probe's best similarity; empty until a vector was observed. */
  similarities(): number[] {
    return [...this.best].filter((value) => Number.isFinite(value));
  }
}

/**
 * Fixed lines for collections without a calibration (made before ragoss calibrated at ingest), by
 * embedding model and chunker: the 5th percentile of the best similarity of held-out real
 * questions, rounded down (test/fixtures/grounding/README.md). Another model gets no default and
 * flags nothing until --min-score says where its line is.
 */
const THRESHOLDS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  'all-mpnet-base-v2': { seed: 0.49, markdown: 0.49 },
};

/**
 * Keyed by the model's own name, without its publisher: the same weights are Xenova/all-mpnet-base-v2
 * here, sentence-transformers/all-mpnet-base-v2 or all-mpnet-base-v2 on an embedding server.
 */
export function defaultThreshold(embeddingModel: string, chunker: string): number | undefined {
  return THRESHOLDS[embeddingModel.split('/').at(-1) ?? embeddingModel]?.[chunker];
}

/** What a collection offers to draw its line from. */
export interface GroundedCollection {
  embeddingModel: string;
  chunker: string;
  grounding?: GroundingCalibration;
}

/** The line a question must reach: --min-score, else the collection's calibration, else the model's default. */
export function groundingLine(minScore: number | undefined, collection: GroundedCollection): { threshold: number | undefined; source: ThresholdSource } {
  if (minScore !== undefined) return { threshold: minScore, source: 'min-score' };
  if (collection.grounding !== undefined) return { threshold: collection.grounding.threshold, source: 'collection' };
  const fallback = defaultThreshold(collection.embeddingModel, collection.chunker);
  return fallback === undefined ? { threshold: undefined, source: 'none' } : { threshold: fallback, source: 'model default' };
}

/** The line first (what a user can move with --min-score), then the nearest probe, when one was read. */
export function judge(similarity: number | undefined, line: { threshold: number | undefined; source: ThresholdSource }, probe?: NearestProbe): Grounding {
  const { threshold } = line;
  const belowLine = similarity === undefined || (threshold !== undefined && similarity < threshold);
  const refusedBy: RefusalSignal | null = belowLine ? 'similarity' : closerToProbe(similarity, probe) ? 'nearest probe' : null;
  return { grounded: refusedBy === null, similarity: similarity ?? null, threshold: threshold ?? null, thresholdSource: line.source, nearestProbe: probe ?? null, refusedBy };
}

/** Whether the nearest-probe signal refuses the question, whatever the line (eval's curve moves the line alone). */
export function closerToProbe(similarity: number | null | undefined, probe: NearestProbe | null | undefined): boolean {
  return similarity !== null && similarity !== undefined && probe !== null && probe !== undefined && probe.similarity - similarity > PROBE_MARGIN;
}

/** The inner product of two vectors of one width (normalized vectors: their cosine similarity). */
export function innerProduct(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let dim = 0; dim < a.length; dim++) dot += (a[dim] as number) * (b[dim] as number);
  return dot;
}
