import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointReranker, parseRerankScores } from '../../src/rerank/endpoint.js';
import type { Reranker } from '../../src/rerank/reranker.js';
import { rerankHits } from '../../src/pipeline/rerank.js';
import type { RankedHit } from '../../src/pipeline/retrieve.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer();
});
afterAll(() => server.close());

const QUESTION = 'where does milvus store data';
const PASSAGES = ['milvus index types', 'milvus store data in object storage', 'data', 'unrelated text'];

function hits(texts: readonly string[]): RankedHit[] {
  return texts.map((text, index) => ({ rank: index + 1, score: 1 - index / 10, text, source: `s${index}.md`, chunkIndex: index }));
}

const never = new AbortController().signal;

describe('EndpointReranker', () => {
  it.each([
    ['auto', ['documents', 'texts']],
    ['cohere', ['documents']],
    ['tei', ['texts']],
  ] as const)('speaks %s: sends %j and reads the answer it gets', async (format, fields) => {
    const reranker = new EndpointReranker({ url: server.url, apiKey: 'rk-secret-1', model: 'tiny-ce', format });
    const scores = await reranker.score(QUESTION, PASSAGES, never);
    expect(scores).toEqual([0.2, 0.6, 0.2, 0]);
    const sent = server.requests.at(-1);
    expect(sent?.route).toBe('/rerank');
    expect(sent?.authorization).toBe('Bearer rk-secret-1');
    expect(sent?.body['model']).toBe('tiny-ce');
    for (const field of ['documents', 'texts']) expect(field in (sent?.body ?? {})).toBe((fields as readonly string[]).includes(field));
  });

  it('takes the route itself or the API base', () => {
    expect(new EndpointReranker({ url: 'http://127.0.0.1:1/v2/rerank', apiKey: undefined, model: undefined, format: 'auto' }).name).toBe('http://127.0.0.1:1/v2/rerank');
    expect(new EndpointReranker({ url: 'http://127.0.0.1:1/v1', apiKey: undefined, model: undefined, format: 'auto' }).name).toBe('http://127.0.0.1:1/v1/rerank');
  });
});

describe('parseRerankScores', () => {
  it('reads both answers by index; a passage left out scores lowest', () => {
    expect(parseRerankScores({ results: [{ index: 2, relevance_score: 0.9 }, { index: 0, relevance_score: 0.1 }] }, 3, 'X')).toEqual([0.1, Number.NEGATIVE_INFINITY, 0.9]);
    expect(parseRerankScores([{ index: 1, score: 2 }, { index: 0, score: -1 }], 2, 'X')).toEqual([-1, 2]);
  });

  it('refuses what it cannot place', () => {
    expect(() => parseRerankScores({ data: [] }, 1, 'X')).toThrow('rerank endpoint X answered in a shape ragoss does not know (no results list)');
    expect(() => parseRerankScores([{ index: 5, score: 1 }], 2, 'X')).toThrow(/\(index 5\)/);
    expect(() => parseRerankScores([{ index: 0, score: 1 }, { index: 0, score: 2 }], 2, 'X')).toThrow(/\(index 0\)/);
    expect(() => parseRerankScores([{ index: 0, score: 'high' }], 1, 'X')).toThrow(/\(score high for index 0\)/);
  });
});

describe('rerankHits', () => {
  const fixed = (scores: number[], delayMs = 0): Reranker => ({
    name: 'fixed',
    score: (_question, passages) => new Promise((resolve) => setTimeout(() => resolve(scores.slice(0, passages.length)), delayMs)),
    close: async () => undefined,
  });

  it('orders by the reranker, keeps retrieval order on ties, renumbers and cuts to top K', async () => {
    const { hits: ranked, fallback } = await rerankHits(QUESTION, hits(['a', 'b', 'c', 'd']), fixed([0.1, 0.7, 0.7, 0.9]), { topK: 3, budgetMs: 1000, signal: never });
    expect(fallback).toBeUndefined();
    expect(ranked.map((hit) => [hit.rank, hit.text, hit.rerankScore])).toEqual([
      [1, 'd', 0.9],
      [2, 'b', 0.7],
      [3, 'c', 0.7],
    ]);
    // The retrieval score stays what retrieval said.
    expect(ranked[0]?.score).toBeCloseTo(0.7);
  });

  it('keeps the retrieval order past the budget, and says why', async () => {
    const { hits: ranked, fallback } = await rerankHits(QUESTION, hits(['a', 'b', 'c']), fixed([0, 0, 1], 500), { topK: 2, budgetMs: 50, signal: never });
    expect(ranked.map((hit) => hit.text)).toEqual(['a', 'b']);
    expect(fallback).toBe('fixed did not answer within 0.05s');
  });

  it('keeps the retrieval order when the reranker fails', async () => {
    server.failNext('/rerank', { status: 500 });
    const reranker = new EndpointReranker({ url: server.url, apiKey: undefined, model: undefined, format: 'auto' });
    const { hits: ranked, fallback } = await rerankHits(QUESTION, hits(PASSAGES), reranker, { topK: 2, budgetMs: 2000, signal: never });
    expect(ranked.map((hit) => hit.text)).toEqual(PASSAGES.slice(0, 2));
    expect(fallback).toBe(`rerank endpoint ${server.url}/rerank failed (HTTP 500): injected 500`);
  });

  it('a slow server is cut off at the budget, not at its own pace', async () => {
    server.failNext('/rerank', { delayMs: 2000 });
    const reranker = new EndpointReranker({ url: server.url, apiKey: undefined, model: undefined, format: 'auto' });
    const started = performance.now();
    const { fallback } = await rerankHits(QUESTION, hits(PASSAGES), reranker, { topK: 2, budgetMs: 200, signal: never });
    expect(fallback).toBe(`${server.url}/rerank did not answer within 0.2s`);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('a cancelled command is cancelled, not a fallback', async () => {
    const controller = new AbortController();
    controller.abort(new Error('interrupted'));
    await expect(rerankHits(QUESTION, hits(['a', 'b']), fixed([1, 0], 100), { topK: 2, budgetMs: 1000, signal: controller.signal })).rejects.toThrow('interrupted');
  });
});
