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
}

/**
 * min-score: --min-score / RAGOSS_MIN_SCORE; collection: the line calibrated for the collection at
 * ingest (or by `ragoss calibrate`); model default: a collection without one, a fixed line per
 * model and chunker; none: no line at all, nothing is flagged.
 */
export const THRESHOLD_SOURCES = ['min-score', 'collection', 'model default', 'none'] as const;
export type ThresholdSource = (typeof THRESHOLD_SOURCES)[number];

/**
 * The line sits at the null distribution's upper quartile: three in four probes fall below it. Not at
 * its maximum: the upper tail is probes that share the docs' subject (a database question on a docs
 * corpus, 0.66 on the whole docs), and a line up there refuses real questions (half of the held-out
 * ones on the whole docs), while for a tool run from scripts a refused real question is the
 * expensive error. The quartile is the highest step of the null (0.6, 0.7, 0.75, 0.8, ...) at which
 * no dev question (../shared/data) is refused on the FAQ or the whole docs. What it catches and
 * refuses on held-out sets: test/fixtures/grounding/README.md.
 */
export const CALIBRATION_RULE = { quantile: 0.75, margin: 0 } as const;

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
      for (const vector of vectors) {
        let dot = 0;
        for (let dim = 0; dim < probe.length; dim++) dot += (probe[dim] as number) * (vector[dim] as number);
        if (dot > best) best = dot;
      }
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

export function judge(similarity: number | undefined, line: { threshold: number | undefined; source: ThresholdSource }): Grounding {
  const { threshold } = line;
  const grounded = similarity !== undefined && (threshold === undefined || similarity >= threshold);
  return { grounded, similarity: similarity ?? null, threshold: threshold ?? null, thresholdSource: line.source };
}
