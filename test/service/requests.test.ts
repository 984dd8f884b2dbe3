import { describe, expect, it } from 'vitest';
import type { AskRequest, CalibrateRequest, ChatSettings, DoctorRequest, EvalRequest, ExportRequest, GetRequest, IngestRequest, SearchRequest } from '../../src/engine/engine.js';
import type { EmbeddingSettings } from '../../src/engine/settings.js';
import { REQUESTS } from '../../src/service/requests.js';
import { routeFor } from '../../src/service/routes.js';

/**
 * The service's own environment, set to differ from every request below: what the CLI resolved
 * must win, and what it left to the defaults must stay unset, not be filled from here.
 */
const SERVICE_ENV = {
  HOME: '/home/service',
  RAGOSS_COLLECTION: 'service_collection',
  RAGOSS_EMBEDDING_MODEL: 'service/embedding-model',
  RAGOSS_TOP_K: '9',
  RAGOSS_MODE: 'bm25',
  RAGOSS_MIN_SCORE: '0.99',
  RAGOSS_LINK_TEMPLATE: 'https://mirror.invalid/{name}',
  RAGOSS_MODEL: 'openai/gpt-oss-120b',
  RAGOSS_BASE_URL: 'http://service.invalid/v1',
  RAGOSS_MAX_TOKENS: '11',
  RAGOSS_REASONING_EFFORT: 'high',
  RAGOSS_TIMEOUT: '7',
  RAGOSS_GLOB: 'service/**/*.md',
  RAGOSS_CHUNKER: 'markdown',
  OPENAI_API_KEY: 'sk-service-key',
  RAGOSS_RERANK: 'http://service-reranker.invalid/rerank',
  RAGOSS_RERANK_CANDIDATES: '50',
  RAGOSS_RERANK_TIMEOUT: '9',
  RAGOSS_RERANK_MODEL: 'service-model',
  RAGOSS_RERANK_FORMAT: 'tei',
  RAGOSS_RERANK_API_KEY: 'rk-service-key',
};

/** A request as the service reads it after the CLI encoded it and it crossed the wire as JSON. */
const overTheWire = (body: Record<string, unknown>) => JSON.parse(JSON.stringify(body)) as Record<string, unknown>;

const chat: ChatSettings = { baseUrl: 'http://127.0.0.1:8080/v1', model: 'openai/gpt-oss-20b', apiKey: 'sk-cli-key', maxTokens: 512, reasoningEffort: 'low', timeoutMs: 30_000, maxRetries: 3 };

describe("the service's requests, encoded by the CLI and read back by the service", () => {
  it('search: every resolved setting arrives unchanged; the defaults left unset stay unset', () => {
    const full: SearchRequest = {
      collection: 'docs',
      embeddingModel: 'Xenova/all-mpnet-base-v2',
      question: 'How is data stored in milvus?',
      topK: 5,
      mode: 'hybrid',
      minScore: 0.42,
      linkTemplate: 'https://example.invalid/{path}#L{line}',
      rerank: { target: 'http://127.0.0.1:7997/rerank', model: 'tiny-ce', format: 'cohere', apiKey: 'rk-cli-key', candidates: 12, budgetMs: 1500 },
    };
    expect(REQUESTS.search.read(overTheWire(REQUESTS.search.write(full)), SERVICE_ENV)).toEqual(full);
    const defaults: SearchRequest = { collection: 'docs', question: 'How is data stored in milvus?', topK: 3 };
    expect(REQUESTS.search.read(overTheWire(REQUESTS.search.write(defaults)), SERVICE_ENV)).toEqual(defaults);
  });

  it('ask: the chat settings too, key included, and force and cite', () => {
    const request: AskRequest = { collection: 'docs', question: 'How is data stored in milvus?', topK: 3, chat, force: true, cite: true };
    expect(REQUESTS.ask.read(overTheWire(REQUESTS.ask.write(request)), SERVICE_ENV)).toEqual(request);
    const keyless: AskRequest = { ...request, chat: { ...chat, apiKey: undefined, maxTokens: undefined, reasoningEffort: undefined }, force: false, cite: false };
    const read = REQUESTS.ask.read(overTheWire(REQUESTS.ask.write(keyless)), SERVICE_ENV);
    // A CLI without a key sends none, and the service uses its own (its user started it with one);
    // a token budget and reasoning effort the CLI's user did not set stay unset.
    expect(read).toEqual({ ...keyless, chat: { ...keyless.chat, apiKey: 'sk-service-key' } });
    // An HTTP client that says nothing gets the service's settings, as documented.
    const bare = REQUESTS.ask.read({ question: 'How is data stored in milvus?' }, SERVICE_ENV);
    expect(bare.chat).toMatchObject({ maxTokens: 11, reasoningEffort: 'high', model: 'openai/gpt-oss-120b', baseUrl: 'http://service.invalid/v1', timeoutMs: 7000 });
    expect(bare).toMatchObject({ collection: 'service_collection', embeddingModel: 'service/embedding-model', topK: 9, mode: 'bm25', minScore: 0.99, linkTemplate: 'https://mirror.invalid/{name}' });
    expect(bare.rerank).toEqual({ target: 'http://service-reranker.invalid/rerank', model: 'service-model', format: 'tei', apiKey: 'rk-service-key', candidates: 50, budgetMs: 9000 });
    // A reranker named by a bare string takes the rest from the service; a cross-encoder's name works too.
    const named = REQUESTS.search.read({ question: 'q', rerank: 'http://elsewhere.invalid/rerank' }, SERVICE_ENV).rerank;
    expect(named).toMatchObject({ target: 'http://elsewhere.invalid/rerank', candidates: 50 });
    // The service's key goes to its own reranker only.
    expect(named?.apiKey).toBeUndefined();
    expect(REQUESTS.search.read({ question: 'q', rerank: null }, SERVICE_ENV).rerank).toBeUndefined();
  });

  it('eval, calibrate, get, ingest, export and doctor', () => {
    const evalRequest: EvalRequest = { collection: 'docs', questions: [{ question: 'q1', expected: ['Where does Milvus store data?'] }, { question: 'q2', expected: [], gold: [{ source: 'en/faq/product_faq.md', heading: 'A' }] }], topK: 3 };
    expect(REQUESTS.eval.read(overTheWire(REQUESTS.eval.write(evalRequest)), SERVICE_ENV)).toEqual(evalRequest);
    const curved: EvalRequest = { ...evalRequest, questions: [{ question: 'q3', expected: [], kind: 'programming' }], curve: true };
    expect(REQUESTS.eval.read(overTheWire(REQUESTS.eval.write(curved)), SERVICE_ENV)).toEqual(curved);
    const calibrate: CalibrateRequest = { collection: 'docs', embeddingModel: 'Xenova/all-mpnet-base-v2' };
    expect(REQUESTS.calibrate.read(overTheWire(REQUESTS.calibrate.write(calibrate)), SERVICE_ENV)).toEqual(calibrate);
    const reranked: EvalRequest = { ...evalRequest, rerank: { target: 'cross-encoder/tiny', format: 'auto', candidates: 20, budgetMs: 5000 } };
    expect(REQUESTS.eval.read(overTheWire(REQUESTS.eval.write(reranked)), SERVICE_ENV)).toEqual(reranked);
    const get: GetRequest = { collection: 'docs', source: 'en/faq/product_faq.md', heading: 'Where does Milvus store data?' };
    expect(REQUESTS.get.read(overTheWire(REQUESTS.get.write(get)), SERVICE_ENV)).toEqual(get);
    const chunk: GetRequest = { collection: 'docs', source: 'product_faq.md', chunk: 0, linkTemplate: 'none' };
    expect(REQUESTS.get.read(overTheWire(REQUESTS.get.write(chunk)), SERVICE_ENV)).toEqual(chunk);
    const ingest: IngestRequest = { source: '/data/docs.zip', glob: 'en/**/*.md', collection: 'docs', embeddingModel: 'Xenova/all-mpnet-base-v2', chunker: 'seed', refresh: true, replace: false, full: true, dryRun: false };
    expect(REQUESTS.ingest.read(overTheWire(REQUESTS.ingest.write(ingest)), SERVICE_ENV)).toEqual(ingest);
    const exportRequest: ExportRequest = { collection: 'docs', out: '/tmp/docs.parquet' };
    expect(REQUESTS.export.read(overTheWire(REQUESTS.export.write(exportRequest)), SERVICE_ENV)).toEqual(exportRequest);
    const doctor: DoctorRequest = { collection: 'docs', chat };
    expect(REQUESTS.doctor.read(overTheWire(REQUESTS.doctor.write(doctor)), SERVICE_ENV)).toEqual(doctor);
  });

  it('embedding: every setting the CLI resolved arrives, unset ones stay unset, and the service\'s key goes to its own server only', () => {
    const own: EmbeddingSettings = {
      modelDir: '/srv/models',
      cacheDir: '/home/service/.ragoss/models',
      offline: true,
      dtype: 'int8',
      batchSize: 8,
      hubEndpoint: 'http://hub.service.invalid',
      url: 'http://embed.service.invalid/v1',
      server: { apiKey: 'ek-service-key', dimensions: 256, batchSize: 64, concurrency: 8, timeoutMs: 9000, maxRetries: 1, maxTokens: 128 },
    };
    const mine: EmbeddingSettings = {
      modelDir: undefined,
      cacheDir: own.cacheDir,
      offline: false,
      dtype: 'fp32',
      batchSize: 16,
      hubEndpoint: undefined,
      url: 'http://127.0.0.1:7997',
      server: { apiKey: undefined, dimensions: undefined, batchSize: 32, concurrency: 4, timeoutMs: 300_000, maxRetries: 5, maxTokens: 512 },
    };
    const search: SearchRequest = { collection: 'docs', question: 'q', topK: 3, embedding: mine };
    expect(REQUESTS.search.read(overTheWire(REQUESTS.search.write(search)), SERVICE_ENV, own)).toEqual(search);
    const keyed = { ...mine, modelDir: '/home/me/models', server: { ...mine.server, apiKey: 'ek-cli-key', dimensions: 768 } };
    const ingest: IngestRequest = { source: '/data/docs.zip', glob: 'en/**/*.md', collection: 'docs', chunker: 'seed', refresh: false, replace: false, full: false, dryRun: false, embedding: keyed };
    expect(REQUESTS.ingest.read(overTheWire(REQUESTS.ingest.write(ingest)), SERVICE_ENV, own)).toEqual(ingest);
    const doctor: DoctorRequest = { collection: 'docs', chat, embedding: keyed };
    expect(REQUESTS.doctor.read(overTheWire(REQUESTS.doctor.write(doctor)), SERVICE_ENV, own)).toEqual(doctor);
    // No embedding: the service's own settings (the engine's), not a copy.
    expect(REQUESTS.search.read({ question: 'q', embedding: null }, SERVICE_ENV, own).embedding).toBeUndefined();
    // An API caller's partial choice builds on the service's; its key only for the service's own server.
    const sameServer = REQUESTS.search.read({ question: 'q', embedding: { dtype: 'q8' } }, SERVICE_ENV, own).embedding;
    expect(sameServer).toEqual({ ...own, dtype: 'q8' });
    const elsewhere = REQUESTS.search.read({ question: 'q', embedding: { url: 'http://elsewhere.invalid' } }, SERVICE_ENV, own).embedding;
    expect(elsewhere?.server.apiKey).toBeUndefined();
    expect(elsewhere?.cacheDir).toBe(own.cacheDir);
  });

  it('embedding: a malformed choice is refused in one line naming the field', () => {
    const read = (embedding: unknown) => () => REQUESTS.search.read({ question: 'q', embedding }, SERVICE_ENV);
    expect(read({ url: 'ftp://x' })).toThrow('"embedding.url" must be an http(s) URL');
    expect(read({ modelDir: 'relative/models' })).toThrow('"embedding.modelDir" must be an absolute path');
    expect(read({ dtype: 'fp64' })).toThrow('"embedding.dtype"');
    expect(read({ server: { concurrency: 0 } })).toThrow('"embedding.server.concurrency"');
    expect(read({ cacheDir: '/elsewhere' })).toThrow('"embedding"');
    expect(read('http://x')).toThrow('"embedding"');
  });

  it('null is the command\'s default for every setting the service\'s environment would fill, and the CLI sends its unset ones so', () => {
    const unset = { question: 'q', mode: null, minScore: null, linkTemplate: null, rerank: null, maxTokens: null, reasoningEffort: null, context: null };
    const read = REQUESTS.ask.read(unset, { ...SERVICE_ENV, RAGOSS_CONTEXT_TOKENS: '900' });
    expect(read).not.toHaveProperty('mode');
    expect(read).not.toHaveProperty('minScore');
    expect(read).not.toHaveProperty('linkTemplate');
    expect(read).not.toHaveProperty('rerank');
    expect(read).not.toHaveProperty('context');
    expect(read.chat).toMatchObject({ maxTokens: undefined, reasoningEffort: undefined, model: 'openai/gpt-oss-120b' });
    // Left out, the service's environment fills the same fields.
    expect(REQUESTS.ask.read({ question: 'q' }, { ...SERVICE_ENV, RAGOSS_CONTEXT_TOKENS: '900' })).toMatchObject({ mode: 'bm25', minScore: 0.99, context: { tokens: 900 }, chat: { maxTokens: 11 } });
    const written = REQUESTS.ask.write({ collection: 'docs', question: 'q', topK: 3, chat: { ...chat, maxTokens: undefined, reasoningEffort: undefined }, force: false, cite: false });
    expect(Object.entries(written).filter(([, value]) => value === null).map(([key]) => key).sort()).toEqual(['context', 'embeddingModel', 'linkTemplate', 'maxTokens', 'minScore', 'mode', 'reasoningEffort', 'rerank']);
    // eval carries the same settings the same way.
    const evalWritten = REQUESTS.eval.write({ collection: 'docs', questions: [{ question: 'q', expected: [] }], topK: 3 });
    expect(Object.entries(evalWritten).filter(([, value]) => value === null).map(([key]) => key).sort()).toEqual(['context', 'embeddingModel', 'minScore', 'mode', 'rerank']);
  });

  it('a body that does not fit is refused in one line naming the key, nested keys by their path', () => {
    const search = (body: Record<string, unknown>) => () => REQUESTS.search.read({ question: 'q', ...body }, SERVICE_ENV);
    expect(search({ topK: {} })).toThrow('"topK" must be a string');
    expect(search({ rerank: 5 })).toThrow('"rerank" must be null, a URL or model name, or an object with "target"');
    expect(search({ rerank: { target: {} } })).toThrow('"rerank.target" must be a string');
    expect(search({ rerank: { candidates: 5 } })).toThrow('"rerank" needs a "target"');
    expect(() => REQUESTS.ask.read({ question: 'q', context: { tokens: [] } }, SERVICE_ENV)).toThrow('"context.tokens" must be a string');
    expect(() => REQUESTS.eval.read({ questions: [] }, SERVICE_ENV)).toThrow('"questions" must be a non-empty array');
    expect(() => REQUESTS.get.read({ source: 'a.md', heading: 'h', chunk: 1 }, SERVICE_ENV)).toThrow('send "heading" or "chunk", not both');
  });
});

describe('the routes', () => {
  it('one path may serve two methods as two routes; a method a path does not take is no route', () => {
    expect(routeFor('GET', '/v1/jobs')).toBe('jobList');
    expect(routeFor('POST', '/v1/jobs')).toBe('jobs');
    expect(routeFor('GET', '/v1/collections')).toBe('collections');
    expect(routeFor('POST', '/v1/collections')).toBe('collections');
    expect(routeFor('GET', '/v1/search')).toBeUndefined();
    expect(routeFor('POST', '/v1/health')).toBeUndefined();
    expect(routeFor(undefined, '/v1/search')).toBeUndefined();
    expect(routeFor('POST', '/v1/nope')).toBeUndefined();
  });
});
