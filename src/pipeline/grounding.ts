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
  /** What the similarity must reach; null when neither a calibrated default nor --min-score applies (nothing is flagged). */
  threshold: number | null;
}

/**
 * Calibrated defaults, by embedding model and chunker: the 5th percentile of the best similarity of
 * held-out real questions, rounded down (test/fixtures/grounding/README.md has the sets, the method
 * and what it flags). Another model has other similarities: it gets no default and flags nothing
 * until --min-score says where its line is.
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

export function judge(similarity: number | undefined, threshold: number | undefined): Grounding {
  const grounded = similarity !== undefined && (threshold === undefined || similarity >= threshold);
  return { grounded, similarity: similarity ?? null, threshold: threshold ?? null };
}
