/**
 * Most tokens, padding included (rows x longest row), sent to the model in one call. Measured on
 * all-mpnet-base-v2 (2 cores): throughput per real token is flat from ~256 to ~1024 and falls off
 * above, where the activations leave the cache; batches of 16 long chunks ran ~30% slower.
 */
export const TOKEN_BUDGET = 512;

/**
 * Groups indices (already sorted by ascending token count) into model calls: at most `maxRows`
 * texts and at most TOKEN_BUDGET padded tokens each (a text longer than the budget goes alone).
 */
export function planBatches(sortedIndices: readonly number[], tokenCounts: readonly number[], maxRows: number): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  for (const index of sortedIndices) {
    const longest = tokenCounts[index] as number;
    if (current.length > 0 && (current.length >= maxRows || (current.length + 1) * longest > TOKEN_BUDGET)) {
      batches.push(current);
      current = [];
    }
    current.push(index);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
