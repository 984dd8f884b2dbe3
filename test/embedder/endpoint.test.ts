import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointEmbedder, estimateTokens, parseEmbeddings, type EndpointEmbedderOptions } from '../../src/embedder/endpoint.js';
import { RagossError } from '../../src/errors.js';
import { silentProgress } from '../../src/progress.js';
import { bagOfWordsVector, startModelServer, type ModelServer } from '../helpers/model-server.js';

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer({ dimension: 16, models: ['fake-embedder'] });
});
afterAll(() => server.close());

function options(overrides: Partial<EndpointEmbedderOptions> = {}): EndpointEmbedderOptions {
  return {
    url: server.url,
    apiKey: undefined,
    dimensions: undefined,
    batchSize: 3,
    concurrency: 2,
    timeoutMs: 5000,
    maxRetries: 2,
    maxTokens: 512,
    modelName: undefined,
    progress: silentProgress,
    sleep: async () => undefined,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<RagossError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(RagossError);
  return error as RagossError;
}

describe('EndpointEmbedder', () => {
  it('names the one model the server lists and learns its width from a probe', async () => {
    const embedder = await EndpointEmbedder.connect(options());
    expect(embedder.modelName).toBe('fake-embedder');
    expect(embedder.dimension).toBe(16);
    expect(embedder.endpoint).toBe(server.url);
    expect(embedder.dtype).toBeUndefined();
  });

  it('returns vectors in input order, normalised, in batches with at most `concurrency` in flight', async () => {
    const embedder = await EndpointEmbedder.connect(options({ modelName: 'fake-embedder' }));
    const texts = Array.from({ length: 10 }, (_, index) => `chunk number ${index} about milvus ${'segment '.repeat(index)}`);
    const before = server.requests.length;
    const counts: number[] = [];
    const vectors = await embedder.embedDocuments(texts, (count) => counts.push(count));
    const sent = server.requests.slice(before).filter((request) => request.route === '/embeddings');
    expect(sent.map((request) => (request.body['input'] as string[]).length)).toEqual([3, 3, 3, 1]);
    // Sent shortest first, so each request holds texts of like length (the last, longest, alone).
    expect(sent.flatMap((request) => request.body['input'] as string[]).sort()).toEqual([...texts].sort());
    expect(sent.filter((request) => (request.body['input'] as string[]).length === 1).map((request) => request.body['input'])).toEqual([[texts[9]]]);
    expect(sent.every((request) => request.body['model'] === 'fake-embedder' && request.body['encoding_format'] === 'float')).toBe(true);
    expect(server.maxInFlight).toBeLessThanOrEqual(2);
    expect(counts.at(-1)).toBe(10);
    vectors.forEach((vector, index) => {
      const expected = bagOfWordsVector(texts[index] as string, 16);
      expect(Array.from(vector).map((value) => value.toFixed(5))).toEqual(expected.map((value) => value.toFixed(5)));
    });
  });

  it('sends `dimensions` only when asked, and refuses a server that ignores it', async () => {
    const before = server.requests.length;
    await EndpointEmbedder.connect(options({ modelName: 'fake-embedder' }));
    expect(server.requests[before]?.body).not.toHaveProperty('dimensions');
    const error = await rejection(EndpointEmbedder.connect(options({ modelName: 'fake-embedder', dimensions: 8 })));
    expect(error.message).toBe(`embedding endpoint ${server.url} returned 16-dim vectors for fake-embedder, not the 8 asked for`);
    expect(server.requests.at(-1)?.body['dimensions']).toBe(8);
  });

  it('refuses vectors that change width mid-way (the server changed models)', async () => {
    const embedder = await EndpointEmbedder.connect(options({ modelName: 'fake-embedder' }));
    server.setDimension(12);
    try {
      const error = await rejection(embedder.embedDocuments(['a', 'b']));
      expect(error.message).toBe(`embedding endpoint ${server.url} returned 12-dim vectors for fake-embedder, not 16 as before`);
    } finally {
      server.setDimension(16);
    }
  });

  it('asks for a model name when the server lists several, or none', async () => {
    const several = await startModelServer({ models: ['a', 'b'] });
    try {
      const error = await rejection(EndpointEmbedder.connect(options({ url: several.url })));
      expect(error.message).toBe(`embedding endpoint ${several.url} serves 2 models (a, b)`);
      expect(error.hint).toBe('name the model with --embedding-model (env RAGOSS_EMBEDDING_MODEL)');
    } finally {
      await several.close();
    }
  });

  it('retries a busy server during a batch and carries on', async () => {
    const embedder = await EndpointEmbedder.connect(options({ modelName: 'fake-embedder' }));
    server.failNext('/embeddings', { status: 429, headers: { 'retry-after': '1' } }, { status: 503 });
    const vectors = await embedder.embedDocuments(['one', 'two', 'three', 'four']);
    expect(vectors).toHaveLength(4);
  });
});

describe('parseEmbeddings', () => {
  it('places vectors by index, reads base64 float32, and refuses other shapes', () => {
    const base64 = Buffer.from(new Float32Array([0.5, -1]).buffer).toString('base64');
    const vectors = parseEmbeddings({ data: [{ index: 1, embedding: base64 }, { index: 0, embedding: [1, 2] }] }, 2, 'X');
    expect(vectors.map((vector) => Array.from(vector))).toEqual([[1, 2], [0.5, -1]]);
    expect(() => parseEmbeddings({ data: [] }, 1, 'X')).toThrow(/\(0 vectors for 1 texts\)/);
    expect(() => parseEmbeddings({ embeddings: [] }, 1, 'X')).toThrow(/\(no "data" list\)/);
    expect(() => parseEmbeddings({ data: [{ index: 0, embedding: [1] }, { index: 0, embedding: [1] }] }, 2, 'X')).toThrow(/index 0/);
    expect(() => parseEmbeddings({ data: [{ index: 0, embedding: ['x'] }] }, 1, 'X')).toThrow(/not a list of numbers/);
  });
});

describe('estimateTokens', () => {
  it('counts punctuation and digits one each and long words in pieces, plus the two special tokens', () => {
    expect(estimateTokens('')).toBe(2);
    expect(estimateTokens('How is data stored?')).toBe(2 + 4 + 1);
    expect(estimateTokens('internationalization 2024')).toBe(2 + 4 + 4);
  });
});
