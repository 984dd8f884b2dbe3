import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_GLOB, DEFAULT_SOURCE_URL } from '../../src/config.js';
import type { AskRequest, CalibrateRequest, ChatSettings, DoctorRequest, EvalRequest, ExportRequest, GetRequest, IngestRequest, SearchRequest } from '../../src/engine/engine.js';
import type { EmbeddingSettings } from '../../src/engine/settings.js';
import { UsageError } from '../../src/errors.js';
import type * as requests from '../../src/service/requests.js';
import { routeFor } from '../../src/service/routes.js';

/**
 * Loaded by each describe's beforeAll rather than imported: a module that fails to load then fails
 * the tests of that describe. (A test file that fails to import has no tests, and a hook of the
 * file's own fails none, so `npm run mutate` would count a bug that breaks the load as not caught.)
 */
let REQUESTS: typeof requests.REQUESTS;
async function loadRequests(): Promise<void> {
  ({ REQUESTS } = await import('../../src/service/requests.js'));
}

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
  RAGOSS_SOURCE: 'https://service.invalid/docs.zip',
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

/** What the service answers a body it refuses: the one line, and the hint. */
function refusal(read: () => unknown): { message: string; hint: string | undefined } {
  try {
    read();
  } catch (error) {
    if (error instanceof UsageError) return { message: error.message, hint: error.hint };
    throw error;
  }
  throw new Error('the body was accepted');
}

/** A request as the service reads it after the CLI encoded it and it crossed the wire as JSON. */
const overTheWire = (body: Record<string, unknown>) => JSON.parse(JSON.stringify(body)) as Record<string, unknown>;

const chat: ChatSettings = { baseUrl: 'http://127.0.0.1:8080/v1', model: 'openai/gpt-oss-20b', apiKey: 'sk-cli-key', maxTokens: 512, reasoningEffort: 'low', timeoutMs: 30_000, maxRetries: 3 };

describe("the service's requests, encoded by the CLI and read back by the service", () => {
  beforeAll(loadRequests);

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

describe('what the service makes of a body', () => {
  beforeAll(loadRequests);

  it('a search or an ask names its question', () => {
    expect(refusal(() => REQUESTS.search.read({}, SERVICE_ENV))).toEqual({ message: '"question" is required', hint: 'send {"question": "How is data stored in milvus?"}' });
    expect(refusal(() => REQUESTS.ask.read({ question: '   ' }, SERVICE_ENV)).message).toBe('the question is empty');
    expect(REQUESTS.search.read({ question: '  How is data stored in milvus?\n' }, SERVICE_ENV).question).toBe('How is data stored in milvus?');
  });

  it('embedding: left out or null, the request has none of its own; a partial one builds on the settings the service\'s environment resolves', () => {
    expect(REQUESTS.search.read({ question: 'q' }, SERVICE_ENV)).not.toHaveProperty('embedding');
    expect(REQUESTS.search.read({ question: 'q', embedding: null }, SERVICE_ENV)).not.toHaveProperty('embedding');
    const env = { ...SERVICE_ENV, RAGOSS_EMBEDDING_URL: 'http://embed.service.invalid/v1', RAGOSS_EMBEDDING_API_KEY: 'ek-service-key', RAGOSS_EMBEDDING_CONCURRENCY: '2' };
    expect(REQUESTS.search.read({ question: 'q', embedding: { dtype: 'q8' } }, env).embedding).toMatchObject({ url: 'http://embed.service.invalid/v1', dtype: 'q8', server: { apiKey: 'ek-service-key', concurrency: 2 } });
    expect(refusal(() => REQUESTS.search.read({ question: 'q', embedding: { url: 'ftp://x' } }, SERVICE_ENV))).toEqual({
      message: '"embedding.url" must be an http(s) URL',
      hint: 'send {"embedding": {"url": "http://localhost:7997"}} or leave "embedding" out for the service\'s own',
    });
  });

  it('rerank: the service\'s key goes with its own reranker, however it is named; an object is the whole choice; none is no rerank stage', () => {
    const own = SERVICE_ENV.RAGOSS_RERANK;
    expect(REQUESTS.search.read({ question: 'q', rerank: own }, SERVICE_ENV).rerank).toEqual({ target: own, model: 'service-model', format: 'tei', apiKey: 'rk-service-key', candidates: 50, budgetMs: 9000 });
    // What the object leaves out is the default, not the service's setting.
    expect(REQUESTS.search.read({ question: 'q', rerank: { target: own } }, SERVICE_ENV).rerank).toStrictEqual({ target: own, format: 'auto', apiKey: 'rk-service-key', candidates: 20, budgetMs: 5000 });
    expect(REQUESTS.search.read({ question: 'q', rerank: { target: 'cross-encoder/tiny', budgetMs: 250 } }, SERVICE_ENV).rerank).toStrictEqual({ target: 'cross-encoder/tiny', format: 'auto', candidates: 20, budgetMs: 250 });
    expect(REQUESTS.search.read({ question: 'q', rerank: 'none' }, SERVICE_ENV)).not.toHaveProperty('rerank');
    expect(REQUESTS.search.read({ question: 'q', rerank: { target: 'none' } }, SERVICE_ENV)).not.toHaveProperty('rerank');
  });

  it('ask: the context budget the CLI resolved arrives unchanged, and a caller\'s apiKey of "" is no key (the service\'s own)', () => {
    const request: AskRequest = { collection: 'docs', question: 'q', topK: 3, chat, force: false, cite: false, context: { tokens: 2000, maxHits: 10 } };
    expect(REQUESTS.ask.read(overTheWire(REQUESTS.ask.write(request)), SERVICE_ENV)).toEqual(request);
    // A budget without a cap: not the service's RAGOSS_TOP_K as the cap.
    const budget: AskRequest = { ...request, context: { tokens: 1500 } };
    expect(REQUESTS.ask.read(overTheWire(REQUESTS.ask.write(budget)), SERVICE_ENV).context).toStrictEqual({ tokens: 1500 });
    expect(refusal(() => REQUESTS.ask.read({ question: 'q', context: 5 }, SERVICE_ENV)).message).toBe('"context" must be null or an object such as {"tokens": 2000, "maxHits": 10}');
    expect(REQUESTS.ask.read({ question: 'q', apiKey: '' }, SERVICE_ENV).chat.apiKey).toBe('sk-service-key');
    // Only true is true.
    expect(REQUESTS.ask.read({ question: 'q', force: 'true', cite: 1 }, SERVICE_ENV)).toMatchObject({ force: false, cite: false });
  });

  it('eval: the questions are a non-empty array, each refused by its index', () => {
    const shape = '"questions" must be a non-empty array of {"question", "expected": [...]} or {"question", "gold": [...]}';
    expect(refusal(() => REQUESTS.eval.read({}, SERVICE_ENV)).message).toBe(shape);
    expect(refusal(() => REQUESTS.eval.read({ questions: 'How is data stored in milvus?' }, SERVICE_ENV)).message).toBe(shape);
    expect(refusal(() => REQUESTS.eval.read({ questions: [] }, SERVICE_ENV)).message).toBe(shape);
    expect(refusal(() => REQUESTS.eval.read({ questions: [{ question: 'q1', expected: [] }, { question: 'q2' }] }, SERVICE_ENV)).message).toBe(
      'questions[1] needs "question" (string) and "expected" (array of headings, [] when the docs do not cover it) or "gold" (array of {"source", "heading"})',
    );
  });

  it('ingest: left out, the source and glob are the service\'s (RAGOSS_SOURCE, RAGOSS_GLOB), then the defaults; a source is a URL or an absolute path', () => {
    expect(REQUESTS.ingest.read({}, SERVICE_ENV)).toMatchObject({ source: 'https://service.invalid/docs.zip', glob: 'service/**/*.md', collection: 'service_collection', chunker: 'markdown', refresh: false, replace: false, full: false, dryRun: false });
    expect(REQUESTS.ingest.read({}, { HOME: '/home/service' })).toMatchObject({ source: DEFAULT_SOURCE_URL, glob: DEFAULT_GLOB });
    expect(REQUESTS.ingest.read({ source: 'http://docs.invalid/docs.zip' }, SERVICE_ENV).source).toBe('http://docs.invalid/docs.zip');
    expect(REQUESTS.ingest.read({ source: 'HTTPS://docs.invalid/docs.zip' }, SERVICE_ENV).source).toBe('HTTPS://docs.invalid/docs.zip');
    expect(refusal(() => REQUESTS.ingest.read({ source: 'docs.zip' }, SERVICE_ENV))).toEqual({ message: '"source" must be a URL or an absolute path, got "docs.zip"', hint: 'the service does not share your working directory' });
    expect(refusal(() => REQUESTS.ingest.read({ source: 'mirror/https://docs.invalid/docs.zip' }, SERVICE_ENV)).message).toBe('"source" must be a URL or an absolute path, got "mirror/https://docs.invalid/docs.zip"');
    expect(refusal(() => REQUESTS.ingest.read({}, { ...SERVICE_ENV, RAGOSS_SOURCE: 'docs' })).message).toBe('"source" must be a URL or an absolute path, got "docs"');
  });

  it('get: a page by its source, trimmed; a chunk is an index of 0 or more', () => {
    const hint = 'send {"source": "en/faq/product_faq.md"}, optionally with "heading" or "chunk"';
    expect(refusal(() => REQUESTS.get.read({}, SERVICE_ENV))).toEqual({ message: '"source" is required', hint });
    expect(refusal(() => REQUESTS.get.read({ source: '  ', heading: 'h' }, SERVICE_ENV))).toEqual({ message: '"source" is required', hint });
    // The whole page: no heading, no chunk.
    expect(REQUESTS.get.read({ source: ' en/faq/product_faq.md ' }, SERVICE_ENV)).toStrictEqual({ source: 'en/faq/product_faq.md', collection: 'service_collection', linkTemplate: 'https://mirror.invalid/{name}' });
    expect(REQUESTS.get.read({ source: 'a.md', chunk: 2 }, SERVICE_ENV).chunk).toBe(2);
    expect(REQUESTS.get.read({ source: 'a.md', chunk: '3' }, SERVICE_ENV).chunk).toBe(3);
    for (const chunk of ['', ' ', 1.5, -1, 'first']) {
      expect(refusal(() => REQUESTS.get.read({ source: 'a.md', chunk }, SERVICE_ENV)).message).toBe(`"chunk" must be a chunk index (0 or more), got "${chunk}"`);
    }
  });

  it('export: the snapshot is written at an absolute path', () => {
    const hint = 'send {"out": "/abs/path/docs.parquet"}';
    expect(refusal(() => REQUESTS.export.read({}, SERVICE_ENV))).toEqual({ message: '"out" must be an absolute path of the snapshot to write, got nothing', hint });
    expect(refusal(() => REQUESTS.export.read({ out: 'docs.parquet' }, SERVICE_ENV))).toEqual({ message: '"out" must be an absolute path of the snapshot to write, got "docs.parquet"', hint });
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
