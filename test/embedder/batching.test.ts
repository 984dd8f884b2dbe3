import { describe, expect, it } from 'vitest';
import { TOKEN_BUDGET, planBatches } from '../../src/embedder/batching.js';

describe('planBatches: model calls of similar-length texts under a token budget', () => {
  it('keeps the budget at 512 padded tokens (measured; see batching.ts)', () => {
    expect(TOKEN_BUDGET).toBe(512);
  });

  it('puts short texts together, up to the row cap', () => {
    const counts = Array.from({ length: 10 }, () => 10);
    const order = counts.map((_, index) => index);
    expect(planBatches(order, counts, 16)).toEqual([order]);
    expect(planBatches(order, counts, 4)).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(planBatches(order, counts, 1)).toEqual(order.map((index) => [index]));
  });

  it('starts a new call when padding every row to the newest, longest one would pass the budget', () => {
    // Rows x longest: 3 x 100 = 300 fits; 4 x 200 = 800 does not; 3 x 600 does not (and 600 goes alone).
    const counts = [100, 100, 100, 200, 200, 600];
    expect(planBatches([0, 1, 2, 3, 4, 5], counts, 16)).toEqual([[0, 1, 2], [3, 4], [5]]);
  });

  it('allows a call of exactly the budget, not one token more', () => {
    expect(planBatches([0, 1, 2, 3, 4], [128, 128, 128, 128, 128], 16)).toEqual([[0, 1, 2, 3], [4]]);
    expect(planBatches([0, 1], [256, 257], 16)).toEqual([[0], [1]]);
    expect(planBatches([0, 1], [256, 256], 16)).toEqual([[0, 1]]);
  });

  it('follows the given order (indices sorted by length), whatever the positions', () => {
    const counts = [300, 10, 20];
    expect(planBatches([1, 2, 0], counts, 16)).toEqual([[1, 2], [0]]);
  });

  it('plans nothing for no texts', () => {
    expect(planBatches([], [], 16)).toEqual([]);
  });
});
