import { describe, expect, it } from 'vitest';
import type { AskRequest, CalibrateRequest, ChatSettings, DoctorRequest, EvalRequest, ExportRequest, GetRequest, IngestRequest, SearchRequest } from '../../src/engine/engine.js';
import type { EmbeddingSettings } from '../../src/engine/settings.js';
import { parseRequest, wireRequest } from '../../src/service/requests.js';

/**
 * The service's own environment, set to differ from every request below: what the CLI resolved
 * must win, and what it left to the defaults must stay unset, not be filled from here.
 */
const SERVICE_ENV = {
  HOME: '/home/service',
  RAGOSS_COLLECTION: 'service_collection',
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
    expect(parseRequest.search(overTheWire(wireRequest.search(full)), SERVICE_ENV)).toEqual(full);
    const defaults: SearchRequest = { collection: 'docs', question: 'How is data stored in milvus?', topK: 3 };
    expect(parseRequest.search(overTheWire(wireRequest.search(defaults)), SERVICE_ENV)).toEqual(defaults);
  });

  it('ask: the chat settings too, key included, and force and cite', () => {
    const request: AskRequest = { collection: 'docs', question: 'How is data stored in milvus?', topK: 3, chat, force: true, cite: true };
    expect(parseRequest.ask(overTheWire(wireRequest.ask(request)), SERVICE_ENV)).toEqual(request);
    const keyless: AskRequest = { ...request, chat: { ...chat, apiKey: undefined, maxTokens: undefined, reasoningEffort: undefined }, force: false, cite: false };
    const read = parseRequest.ask(overTheWire(wireRequest.ask(keyless)), SERVICE_ENV);
    // A CLI without a key sends none, and the service uses its own (its user started it with one);
    // a token budget and reasoning effort the CLI's user did not set stay unset.
    expect(read).toEqual({ ...keyless, chat: { ...keyless.chat, apiKey: 'sk-service-key' } });
    // An HTTP client that says nothing gets the service's settings, as documented.
    const bare = parseRequest.ask({ question: 'How is data stored in milvus?' }, SERVICE_ENV);
    expect(bare.chat).toMatchObject({ maxTokens: 11, reasoningEffort: 'high', model: 'openai/gpt-oss-120b', baseUrl: 'http://service.invalid/v1', timeoutMs: 7000 });
    expect(bare).toMatchObject({ collection: 'service_collection', topK: 9, mode: 'bm25', minScore: 0.99, linkTemplate: 'https://mirror.invalid/{name}' });
    expect(bare.rerank).toEqual({ target: 'http://service-reranker.invalid/rerank', model: 'service-model', format: 'tei', apiKey: 'rk-service-key', candidates: 50, budgetMs: 9000 });
    // A reranker named by a bare string takes the rest from the service; a cross-encoder's name works too.
    const named = parseRequest.search({ question: 'q', rerank: 'http://elsewhere.invalid/rerank' }, SERVICE_ENV).rerank;
    expect(named).toMatchObject({ target: 'http://elsewhere.invalid/rerank', candidates: 50 });
    // The service's key goes to its own reranker only.
    expect(named?.apiKey).toBeUndefined();
    expect(parseRequest.search({ question: 'q', rerank: null }, SERVICE_ENV).rerank).toBeUndefined();
  });

  it('eval, calibrate, get, ingest, export and doctor', () => {
    const evalRequest: EvalRequest = { collection: 'docs', questions: [{ question: 'q1', expected: ['Where does Milvus store data?'] }, { question: 'q2', expected: [], gold: [{ source: 'en/faq/product_faq.md', heading: 'A' }] }], topK: 3 };
    expect(parseRequest.eval(overTheWire(wireRequest.eval(evalRequest)), SERVICE_ENV)).toEqual(evalRequest);
    const curved: EvalRequest = { ...evalRequest, questions: [{ question: 'q3', expected: [], kind: 'programming' }], curve: true };
    expect(parseRequest.eval(overTheWire(wireRequest.eval(curved)), SERVICE_ENV)).toEqual(curved);
    const calibrate: CalibrateRequest = { collection: 'docs', embeddingModel: 'Xenova/all-mpnet-base-v2' };
    expect(parseRequest.calibrate(overTheWire(wireRequest.calibrate(calibrate)), SERVICE_ENV)).toEqual(calibrate);
    const reranked: EvalRequest = { ...evalRequest, rerank: { target: 'cross-encoder/tiny', format: 'auto', candidates: 20, budgetMs: 5000 } };
    expect(parseRequest.eval(overTheWire(wireRequest.eval(reranked)), SERVICE_ENV)).toEqual(reranked);
    const get: GetRequest = { collection: 'docs', source: 'en/faq/product_faq.md', heading: 'Where does Milvus store data?' };
    expect(parseRequest.get(overTheWire(wireRequest.get(get)), SERVICE_ENV)).toEqual(get);
    const chunk: GetRequest = { collection: 'docs', source: 'product_faq.md', chunk: 0, linkTemplate: 'none' };
    expect(parseRequest.get(overTheWire(wireRequest.get(chunk)), SERVICE_ENV)).toEqual(chunk);
    const ingest: IngestRequest = { source: '/data/docs.zip', glob: 'en/**/*.md', collection: 'docs', embeddingModel: 'Xenova/all-mpnet-base-v2', chunker: 'seed', refresh: true, replace: false, full: true, dryRun: false };
    expect(parseRequest.ingest(overTheWire(wireRequest.ingest(ingest)), SERVICE_ENV)).toEqual(ingest);
    const exportRequest: ExportRequest = { collection: 'docs', out: '/tmp/docs.parquet' };
    expect(parseRequest.export(overTheWire(wireRequest.export(exportRequest)), SERVICE_ENV)).toEqual(exportRequest);
    const doctor: DoctorRequest = { collection: 'docs', chat };
    expect(parseRequest.doctor(overTheWire(wireRequest.doctor(doctor)), SERVICE_ENV)).toEqual(doctor);
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
    expect(parseRequest.search(overTheWire(wireRequest.search(search)), SERVICE_ENV, own)).toEqual(search);
    const keyed = { ...mine, modelDir: '/home/me/models', server: { ...mine.server, apiKey: 'ek-cli-key', dimensions: 768 } };
    const ingest: IngestRequest = { source: '/data/docs.zip', glob: 'en/**/*.md', collection: 'docs', chunker: 'seed', refresh: false, replace: false, full: false, dryRun: false, embedding: keyed };
    expect(parseRequest.ingest(overTheWire(wireRequest.ingest(ingest)), SERVICE_ENV, own)).toEqual(ingest);
    const doctor: DoctorRequest = { collection: 'docs', chat, embedding: keyed };
    expect(parseRequest.doctor(overTheWire(wireRequest.doctor(doctor)), SERVICE_ENV, own)).toEqual(doctor);
    // No embedding: the service's own settings (the engine's), not a copy.
    expect(parseRequest.search({ question: 'q', embedding: null }, SERVICE_ENV, own).embedding).toBeUndefined();
    // An API caller's partial choice builds on the service's; its key only for the service's own server.
    const sameServer = parseRequest.search({ question: 'q', embedding: { dtype: 'q8' } }, SERVICE_ENV, own).embedding;
    expect(sameServer).toEqual({ ...own, dtype: 'q8' });
    const elsewhere = parseRequest.search({ question: 'q', embedding: { url: 'http://elsewhere.invalid' } }, SERVICE_ENV, own).embedding;
    expect(elsewhere?.server.apiKey).toBeUndefined();
    expect(elsewhere?.cacheDir).toBe(own.cacheDir);
  });

  it('embedding: a malformed choice is refused in one line naming the field', () => {
    const read = (embedding: unknown) => () => parseRequest.search({ question: 'q', embedding }, SERVICE_ENV);
    expect(read({ url: 'ftp://x' })).toThrow('"embedding.url" must be an http(s) URL');
    expect(read({ modelDir: 'relative/models' })).toThrow('"embedding.modelDir" must be an absolute path');
    expect(read({ dtype: 'fp64' })).toThrow('"embedding.dtype"');
    expect(read({ server: { concurrency: 0 } })).toThrow('"embedding.server.concurrency"');
    expect(read({ cacheDir: '/elsewhere' })).toThrow('"embedding"');
    expect(read('http://x')).toThrow('"embedding"');
  });
});
