import { describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embedder/embedder.js';
import { QueryVectors } from '../../src/embedder/query-vectors.js';

/** Vectors that name their text, and a log of every batch the model was asked for. */
function countingEmbedder(modelName = 'm', dtype = 'fp32'): Embedder & { batches: string[][] } {
  const batches: string[][] = [];
  const vectorOf = (text: string) => Float32Array.from([text.length, text.charCodeAt(0)]);
  return {
    modelName,
    dtype,
    dimension: 2,
    batches,
    embedDocuments: () => Promise.reject(new Error('not for questions')),
    embedQuery: () => Promise.reject(new Error('questions come in batches here')),
    embedQueries: (texts) => {
      batches.push([...texts]);
      return Promise.resolve(texts.map(vectorOf));
    },
    tokenBudget: () => ({ tokens: 1, maxTokens: 1 }),
    close: () => Promise.resolve(),
  };
}

describe('QueryVectors', () => {
  it('embeds each question once, in one batch, and keeps the order asked for', async () => {
    const cache = new QueryVectors();
    const embedder = countingEmbedder();
    const first = await cache.embed(embedder, ['alpha', 'be', 'alpha']);
    expect(first.map((vector) => Array.from(vector))).toEqual([[5, 97], [2, 98], [5, 97]]);
    expect(embedder.batches).toEqual([['alpha', 'be']]);
    // A second mode of the same evaluation: nothing new to embed.
    const second = await cache.embed(embedder, ['be', 'alpha', 'c']);
    expect(second.map((vector) => Array.from(vector))).toEqual([[2, 98], [5, 97], [1, 99]]);
    expect(embedder.batches).toEqual([['alpha', 'be'], ['c']]);
  });

  it('keeps another model or weights apart', async () => {
    const cache = new QueryVectors();
    const fp32 = countingEmbedder('m', 'fp32');
    const int8 = countingEmbedder('m', 'int8');
    await cache.embed(fp32, ['q']);
    await cache.embed(int8, ['q']);
    expect(int8.batches).toEqual([['q']]);
  });

  it('forgets the oldest beyond its capacity, and still answers a set larger than it', async () => {
    const cache = new QueryVectors(2);
    const embedder = countingEmbedder();
    expect(await cache.embed(embedder, ['a', 'bb', 'ccc'])).toHaveLength(3);
    await cache.embed(embedder, ['bb', 'ccc']);
    expect(embedder.batches).toEqual([['a', 'bb', 'ccc']]);
    await cache.embed(embedder, ['a']);
    expect(embedder.batches).toEqual([['a', 'bb', 'ccc'], ['a']]);
  });
});
