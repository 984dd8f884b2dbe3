import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CHAT_BASE_URL,
  DEFAULT_CHAT_MODEL,
  DEFAULT_COLLECTION,
  embeddingTarget,
  engineSettings,
  resolveContext,
  parseBoolean,
  parseDuration,
  parsePositiveInt,
  pick,
  resolveChatConfig,
  resolveChunker,
  resolveCommonConfig,
  resolveDaemonUse,
  resolveEvalModes,
  resolveHome,
  resolveLinkTemplate,
  resolveMinScore,
  resolveMode,
  resolveRerank,
  resolveTopK,
  settingName,
  validateQuestion,
} from '../src/config.js';
import { defaultMode } from '../src/engine/settings.js';
import { describeLocation, parseMilvusUri } from '../src/store/location.js';
import { expandHome } from '../src/system.js';
import { UsageError } from '../src/errors.js';

/** The usage error `run` throws, with its message and hint. */
function usageError(run: () => unknown): UsageError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  }
  throw new Error('expected a usage error');
}

const EMBEDDED = { kind: 'embedded', dataDir: '/h/milvus' } as const;
const SERVER = { kind: 'server', address: 'localhost:19530', ssl: false } as const;

describe('pick, expandHome, resolveHome', () => {
  it('takes a flag over the env var, and treats empty strings as unset', () => {
    expect(pick('flag', { X: 'env' }, 'X')).toBe('flag');
    expect(pick('', { X: 'env' }, 'X')).toBe('env');
    expect(pick(undefined, { X: 'env' }, 'X')).toBe('env');
    expect(pick(undefined, { X: '' }, 'X')).toBeUndefined();
    expect(pick(undefined, {}, 'X')).toBeUndefined();
  });

  it('expands ~ and ~/ only', () => {
    expect(expandHome('~')).toBe(homedir());
    expect(expandHome('~/x/y')).toBe(join(homedir(), 'x/y'));
    expect(expandHome('/a/~/b')).toBe('/a/~/b');
    expect(expandHome('~user')).toBe('~user');
  });

  it('puts the ragoss home in ~/.ragoss unless RAGOSS_HOME says otherwise', () => {
    expect(resolveHome({})).toBe(join(homedir(), '.ragoss'));
    expect(resolveHome({ RAGOSS_HOME: '~/rh' })).toBe(join(homedir(), 'rh'));
    expect(resolveHome({ RAGOSS_HOME: '' })).toBe(join(homedir(), '.ragoss'));
  });

  it('names the flag when a flag gave the value, else the env var', () => {
    expect(settingName('3', '--top-k', 'RAGOSS_TOP_K')).toBe('--top-k');
    expect(settingName(undefined, '--top-k', 'RAGOSS_TOP_K')).toBe('RAGOSS_TOP_K');
  });
});

describe('numbers, booleans and durations', () => {
  it('accepts whole numbers of 1 or more and says what was wrong otherwise', () => {
    expect(parsePositiveInt(undefined, 'X', 7)).toBe(7);
    expect(parsePositiveInt('1', 'X', 7)).toBe(1);
    expect(parsePositiveInt('42', 'X', 7)).toBe(42);
    for (const bad of ['0', '-1', '1.5', 'abc', ' ']) {
      expect(usageError(() => parsePositiveInt(bad, 'RAGOSS_X', 7)).message).toBe(`RAGOSS_X must be a whole number of 1 or more, got "${bad}"`);
    }
  });

  it('reads 1/true/yes/on (any case) as true, everything else as false', () => {
    for (const yes of ['1', 'true', 'TRUE', 'yes', 'Yes', 'on', 'ON', true]) expect(parseBoolean(yes)).toBe(true);
    for (const no of ['0', 'false', 'no', 'off', '', 'maybe', undefined, false]) expect(parseBoolean(no)).toBe(false);
  });

  it('parses durations in ms, s (the default unit), m and h', () => {
    expect(parseDuration(undefined, '--idle-timeout', 123)).toBe(123);
    expect(parseDuration('600', '--idle-timeout', 0)).toBe(600_000);
    expect(parseDuration('90s', '--idle-timeout', 0)).toBe(90_000);
    expect(parseDuration('250ms', '--idle-timeout', 0)).toBe(250);
    expect(parseDuration('10m', '--idle-timeout', 0)).toBe(600_000);
    expect(parseDuration('1h', '--idle-timeout', 0)).toBe(3_600_000);
    expect(parseDuration('1.5m', '--idle-timeout', 0)).toBe(90_000);
    expect(parseDuration(' 0 ', '--idle-timeout', 5)).toBe(0);
    for (const bad of ['10 minutes', '-5', 'm', '1d', '1.s']) {
      expect(usageError(() => parseDuration(bad, '--idle-timeout', 0)).message).toBe(`--idle-timeout must be a duration such as 600, 90s, 10m or 1h (0 for never), got "${bad}"`);
    }
  });
});

describe('Milvus locations', () => {
  it('reads http, https, tcp and grpc URLs and host:port as servers, with default ports', () => {
    expect(parseMilvusUri('tcp://db:1234', '/h', undefined)).toEqual({ kind: 'server', address: 'db:1234', ssl: false, token: undefined });
    expect(parseMilvusUri('GRPC://db', '/h', 't')).toEqual({ kind: 'server', address: 'db:19530', ssl: false, token: 't' });
    expect(parseMilvusUri('http://db', '/h', undefined)).toMatchObject({ address: 'db:19530', ssl: false });
    expect(parseMilvusUri('https://db', '/h', undefined)).toMatchObject({ address: 'db:443', ssl: true });
    expect(parseMilvusUri('db.example:19530', '/h', undefined)).toEqual({ kind: 'server', address: 'db.example:19530', ssl: false, token: undefined });
  });

  it('refuses other schemes, saying which forms work', () => {
    const error = usageError(() => parseMilvusUri('unix:///tmp/milvus.sock', '/h', undefined));
    expect(error.message).toBe('unsupported MILVUS_URI scheme in "unix:///tmp/milvus.sock"');
    expect(error.hint).toMatch(/^use http:\/\/host:port, https:\/\/host:port or /);
  });

  it('reads anything else as a path to embedded data', () => {
    expect(parseMilvusUri('data/milvus', '/h', undefined)).toMatchObject({ kind: 'embedded' });
    expect(parseMilvusUri('host:port', '/h', undefined)).toMatchObject({ kind: 'embedded' });
  });

  it('describes a location the way the CLI prints it', () => {
    expect(describeLocation({ kind: 'server', address: 'db:19530', ssl: false })).toBe('http://db:19530');
    expect(describeLocation({ kind: 'server', address: 'db:443', ssl: true })).toBe('https://db:443');
    expect(describeLocation({ kind: 'embedded', dataDir: '/h/milvus' })).toBe('/h/milvus');
  });
});

describe('resolveCommonConfig: every shared setting from flags, env or defaults', () => {
  it('uses the defaults when nothing is set', () => {
    const config = resolveCommonConfig({}, { RAGOSS_HOME: '/rh' });
    expect(config).toMatchObject({ home: '/rh', location: { kind: 'embedded', dataDir: '/rh/milvus' }, milvusTimeoutMs: 10_000, lockTimeoutMs: 120_000, startTimeoutMs: 60_000, quiet: false, verbose: false, json: false, milvusLiteExecutable: undefined, secrets: [] });
    expect(config.embedding).toEqual({
      explicitModel: undefined,
      modelDir: undefined,
      cacheDir: '/rh/models',
      offline: false,
      dtype: 'fp32',
      batchSize: 16,
      hubEndpoint: undefined,
      url: undefined,
      server: { apiKey: undefined, dimensions: undefined, batchSize: 32, concurrency: 4, timeoutMs: 300_000, maxRetries: 5, maxTokens: 512 },
    });
  });

  it('reads the embedding server settings, and refuses a URL that is not http(s)', () => {
    const env = {
      RAGOSS_EMBEDDING_URL: 'http://gpu:8080/v1/',
      RAGOSS_EMBEDDING_API_KEY: 'emb-key',
      RAGOSS_EMBEDDING_DIMENSIONS: '256',
      RAGOSS_EMBEDDING_BATCH: '64',
      RAGOSS_EMBEDDING_CONCURRENCY: '8',
      RAGOSS_EMBEDDING_TIMEOUT: '30',
      RAGOSS_EMBEDDING_RETRIES: '0',
      RAGOSS_EMBEDDING_MAX_TOKENS: '8191',
    };
    const { embedding, secrets } = resolveCommonConfig({}, env);
    expect(embedding.url).toBe('http://gpu:8080/v1');
    expect(embedding.server).toEqual({ apiKey: 'emb-key', dimensions: 256, batchSize: 64, concurrency: 8, timeoutMs: 30_000, maxRetries: 0, maxTokens: 8191 });
    expect(secrets).toContain('emb-key');
    expect(resolveCommonConfig({ embeddingUrl: 'https://api.openai.com/v1' }, env).embedding.url).toBe('https://api.openai.com/v1');
    expect(usageError(() => resolveCommonConfig({ embeddingUrl: 'localhost:7997' }, {})).message).toBe('--embedding-url must be an http(s) URL, got "localhost:7997"');
    expect(usageError(() => resolveCommonConfig({}, { RAGOSS_EMBEDDING_URL: 'ftp://x' })).message).toBe('RAGOSS_EMBEDDING_URL must be an http(s) URL, got "ftp://x"');
    expect(usageError(() => resolveCommonConfig({}, { RAGOSS_EMBEDDING_RETRIES: '-1' })).message).toBe('RAGOSS_EMBEDDING_RETRIES must be a whole number of 0 or more, got "-1"');
  });

  it('reads the rerank stage: flags over env, none for off', () => {
    const env = { RAGOSS_RERANK: 'http://r:7997/rerank', RAGOSS_RERANK_CANDIDATES: '30', RAGOSS_RERANK_TIMEOUT: '2', RAGOSS_RERANK_MODEL: 'rerank-v3.5', RAGOSS_RERANK_FORMAT: 'tei', RAGOSS_RERANK_API_KEY: 'rk' };
    expect(resolveRerank({}, env)).toEqual({ target: 'http://r:7997/rerank', model: 'rerank-v3.5', format: 'tei', apiKey: 'rk', candidates: 30, budgetMs: 2000 });
    expect(resolveRerank({ rerank: 'Xenova/ms-marco-MiniLM-L-6-v2', rerankCandidates: '10', rerankTimeout: '500ms' }, {})).toEqual({ target: 'Xenova/ms-marco-MiniLM-L-6-v2', format: 'auto', candidates: 10, budgetMs: 500 });
    expect(resolveRerank({}, {})).toBeUndefined();
    expect(resolveRerank({ rerank: 'none' }, env)).toBeUndefined();
    expect(usageError(() => resolveRerank({}, { RAGOSS_RERANK: 'x', RAGOSS_RERANK_FORMAT: 'jina' })).message).toBe('RAGOSS_RERANK_FORMAT must be one of auto, cohere, tei, got "jina"');
    expect(usageError(() => resolveRerank({ rerank: 'x', rerankCandidates: '0' }, {})).message).toBe('--rerank-candidates must be a whole number of 1 or more, got "0"');
    const badScheme = usageError(() => resolveRerank({}, { RAGOSS_RERANK: 'grpc://r:7997' }));
    expect(badScheme.message).toBe('RAGOSS_RERANK must be an http(s) URL or a model name, got "grpc://r:7997"');
    expect(badScheme.hint).toBe('e.g. http://localhost:7997/rerank or Xenova/ms-marco-MiniLM-L-6-v2');
    expect(usageError(() => resolveRerank({ rerank: 'ftp://r/rerank' }, {})).message).toBe('--rerank must be an http(s) URL or a model name, got "ftp://r/rerank"');
    expect(resolveRerank({}, { RAGOSS_RERANK: 'HTTPS://r/rerank' })?.target).toBe('HTTPS://r/rerank');
  });

  it('reads the grounding threshold: a similarity from -1 to 1, flag over env, unset for the default', () => {
    expect(resolveMinScore(undefined, {})).toBeUndefined();
    expect(resolveMinScore(undefined, { RAGOSS_MIN_SCORE: '0.3' })).toBe(0.3);
    expect(resolveMinScore('-1', { RAGOSS_MIN_SCORE: '0.3' })).toBe(-1);
    expect(resolveMinScore('1', {})).toBe(1);
    expect(resolveMinScore('0', {})).toBe(0);
    expect(resolveMinScore('', {})).toBeUndefined();
    for (const bad of [' ', 'high', '1.01', '-1.5', 'NaN', 'Infinity']) {
      const error = usageError(() => resolveMinScore(bad, {}));
      expect(error.message).toBe(`--min-score must be a similarity from -1 to 1 (e.g. 0.3), got "${bad}"`);
      expect(error.hint).toBe("or leave it out for the default of the collection's model");
    }
    expect(usageError(() => resolveMinScore(undefined, { RAGOSS_MIN_SCORE: '2' })).message).toBe('RAGOSS_MIN_SCORE must be a similarity from -1 to 1 (e.g. 0.3), got "2"');
  });

  it('reads the link template: {path} or {name} required, none turns links off', () => {
    expect(resolveLinkTemplate(undefined, {})).toBeUndefined();
    expect(resolveLinkTemplate('none', { RAGOSS_LINK_TEMPLATE: 'https://x/{path}' })).toBe('none');
    expect(resolveLinkTemplate(undefined, { RAGOSS_LINK_TEMPLATE: 'https://x/{path}' })).toBe('https://x/{path}');
    expect(resolveLinkTemplate('https://x/{name}#{anchor}', {})).toBe('https://x/{name}#{anchor}');
    const error = usageError(() => resolveLinkTemplate('https://x/{anchor}', {}));
    expect(error.message).toBe('--link-template must name the page with {path} or {name}, got "https://x/{anchor}"');
    expect(error.hint).toBe('e.g. https://github.com/milvus-io/milvus-docs/blob/v2.4.x/site/{path}, or none');
    expect(usageError(() => resolveLinkTemplate(undefined, { RAGOSS_LINK_TEMPLATE: 'https://x/' })).message).toBe('RAGOSS_LINK_TEMPLATE must name the page with {path} or {name}, got "https://x/"');
  });

  it('reads each variable', () => {
    const config = resolveCommonConfig(
      {},
      {
        RAGOSS_HOME: '/rh',
        RAGOSS_MODEL_DIR: '~/models',
        RAGOSS_OFFLINE: 'yes',
        RAGOSS_EMBEDDING_DTYPE: 'int8',
        RAGOSS_EMBEDDING_BATCH: '4',
        HF_ENDPOINT: 'http://mirror',
        RAGOSS_MILVUS_TIMEOUT: '3',
        RAGOSS_MILVUS_LITE: '/opt/milvus-lite',
        RAGOSS_LOCK_TIMEOUT: '5',
        RAGOSS_START_TIMEOUT: '90',
      },
    );
    expect(config.embedding).toMatchObject({ modelDir: join(homedir(), 'models'), offline: true, dtype: 'int8', batchSize: 4, hubEndpoint: 'http://mirror' });
    expect(config).toMatchObject({ milvusTimeoutMs: 3000, milvusLiteExecutable: '/opt/milvus-lite', lockTimeoutMs: 5000, startTimeoutMs: 90_000 });
  });

  it('lets flags win: --model-dir, --offline, -q, --verbose, --json', () => {
    const config = resolveCommonConfig({ modelDir: '/flag/models', offline: true, quiet: true, verbose: true, json: true }, { RAGOSS_HOME: '/rh', RAGOSS_MODEL_DIR: '/env/models', RAGOSS_OFFLINE: '0' });
    expect(config.embedding).toMatchObject({ modelDir: '/flag/models', offline: true });
    expect(config).toMatchObject({ quiet: true, verbose: true, json: true });
    expect(resolveCommonConfig({ offline: false }, { RAGOSS_OFFLINE: 'true' }).embedding.offline).toBe(true);
  });

  it('refuses unknown weights and bad numbers, naming the variable', () => {
    expect(usageError(() => resolveCommonConfig({}, { RAGOSS_EMBEDDING_DTYPE: 'fp64' })).message).toBe('RAGOSS_EMBEDDING_DTYPE must be one of fp32, fp16, q8, int8, uint8, q4, got "fp64"');
    for (const dtype of ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4']) expect(resolveCommonConfig({}, { RAGOSS_EMBEDDING_DTYPE: dtype }).embedding.dtype).toBe(dtype);
    expect(usageError(() => resolveCommonConfig({}, { RAGOSS_EMBEDDING_BATCH: '0' })).message).toMatch(/^RAGOSS_EMBEDDING_BATCH must/);
    expect(usageError(() => resolveCommonConfig({}, { RAGOSS_MILVUS_TIMEOUT: 'x' })).message).toMatch(/^RAGOSS_MILVUS_TIMEOUT must/);
    expect(usageError(() => resolveCommonConfig({}, { RAGOSS_LOCK_TIMEOUT: '-2' })).message).toMatch(/^RAGOSS_LOCK_TIMEOUT must/);
    expect(usageError(() => resolveCommonConfig({}, { RAGOSS_START_TIMEOUT: '0' })).message).toMatch(/^RAGOSS_START_TIMEOUT must/);
  });

  it('explains a bad collection name', () => {
    const error = usageError(() => resolveCommonConfig({ collection: '9lives' }, {}));
    expect(error.message).toBe('invalid collection name "9lives"');
    expect(error.hint).toBe('use letters, digits and single underscores, starting with a letter or _');
    expect(resolveCommonConfig({ collection: '_ok_9' }, {}).collection).toBe('_ok_9');
  });

  it('collects every secret of 4 characters or more: the Milvus token, chat keys, the service token', () => {
    const config = resolveCommonConfig({}, { MILVUS_TOKEN: 'root:pw', OPENROUTER_API_KEY: 'sk-or', OPENAI_API_KEY: 'sk-oa', RAGOSS_SERVE_TOKEN: 'serve-tok', OTHER: 'x' });
    expect(config.secrets).toEqual(['root:pw', 'sk-or', 'sk-oa', 'serve-tok']);
    expect(resolveCommonConfig({}, { OPENAI_API_KEY: 'abc' }).secrets).toEqual([]);
    expect(resolveCommonConfig({}, { OPENAI_API_KEY: 'abcd' }).secrets).toEqual(['abcd']);
  });

  it('hands the engine everything but the per-request model', () => {
    const config = resolveCommonConfig({ embeddingModel: 'a/b' }, { RAGOSS_HOME: '/rh', RAGOSS_LOCK_TIMEOUT: '7', RAGOSS_START_TIMEOUT: '30', RAGOSS_MILVUS_LITE: '/x' });
    const settings = engineSettings(config);
    expect(settings).toEqual({ home: '/rh', location: config.location, embedding: { modelDir: undefined, cacheDir: '/rh/models', offline: false, dtype: 'fp32', batchSize: 16, hubEndpoint: undefined, url: undefined, server: { apiKey: undefined, dimensions: undefined, batchSize: 32, concurrency: 4, timeoutMs: 300_000, maxRetries: 5, maxTokens: 512 } }, milvusTimeoutMs: 10_000, milvusLiteExecutable: '/x', lockTimeoutMs: 7000, startTimeoutMs: 30_000 });
  });

  it('resolves the context budget and the cap on its hits: flags over env, neither when unset', () => {
    expect(resolveContext({}, {})).toEqual({});
    expect(resolveContext({ contextTokens: '900', topK: '5' }, { RAGOSS_CONTEXT_TOKENS: '100', RAGOSS_TOP_K: '7' })).toEqual({ tokens: 900, maxHits: 5 });
    expect(resolveContext({}, { RAGOSS_CONTEXT_TOKENS: '100', RAGOSS_TOP_K: '7' })).toEqual({ tokens: 100, maxHits: 7 });
    expect(() => resolveContext({ contextTokens: '0' }, {})).toThrow('--context-tokens must be a whole number of 1 or more, got "0"');
    expect(() => resolveContext({}, { RAGOSS_CONTEXT_TOKENS: 'lots' })).toThrow('RAGOSS_CONTEXT_TOKENS must be a whole number of 1 or more, got "lots"');
    expect(() => resolveContext({ topK: '-1' }, {})).toThrow('--top-k must be a whole number of 1 or more');
  });

  it('gives each request its model and its embedding settings, which travel to the service', () => {
    const config = resolveCommonConfig({ embeddingModel: 'a/b', embeddingUrl: 'http://127.0.0.1:7997/', modelDir: '/models' }, { RAGOSS_HOME: '/rh', RAGOSS_EMBEDDING_API_KEY: 'ek-key' });
    const target = embeddingTarget(config);
    expect(target.embeddingModel).toBe('a/b');
    expect(target.embedding).toEqual(engineSettings(config).embedding);
    expect(target.embedding).toMatchObject({ url: 'http://127.0.0.1:7997', modelDir: '/models', server: { apiKey: 'ek-key' } });
    expect(target.embedding).not.toHaveProperty('explicitModel');
    expect(embeddingTarget(resolveCommonConfig({}, {})).embeddingModel).toBeUndefined();
  });
});

describe('resolveChatConfig', () => {
  it('reads the model, budget, effort and timeout from env, flags winning', () => {
    const env = { RAGOSS_BASE_URL: 'http://localhost:1/v1', RAGOSS_MODEL: 'env-model', RAGOSS_MAX_TOKENS: '100', RAGOSS_REASONING_EFFORT: 'medium', RAGOSS_TIMEOUT: '30' };
    expect(resolveChatConfig({}, env)).toEqual({ baseUrl: 'http://localhost:1/v1', model: 'env-model', apiKey: undefined, maxTokens: 100, reasoningEffort: 'medium', timeoutMs: 30_000, maxRetries: 3 });
    expect(resolveChatConfig({ baseUrl: 'http://localhost:2/v1', model: 'flag-model', maxTokens: '5', reasoningEffort: 'high', timeout: '2' }, env)).toMatchObject({ baseUrl: 'http://localhost:2/v1', model: 'flag-model', maxTokens: 5, reasoningEffort: 'high', timeoutMs: 2000 });
    expect(resolveChatConfig({}, {})).toMatchObject({ maxTokens: undefined, reasoningEffort: undefined, timeoutMs: 120_000 });
  });

  it('sends the OpenRouter key to OpenRouter first, and the OpenAI key elsewhere first', () => {
    expect(resolveChatConfig({}, { OPENAI_API_KEY: 'oa' }).apiKey).toBe('oa');
    expect(resolveChatConfig({ baseUrl: 'https://api.openrouter.ai/v1' }, { OPENROUTER_API_KEY: 'or', OPENAI_API_KEY: 'oa' }).apiKey).toBe('or');
    expect(resolveChatConfig({ baseUrl: 'https://openrouter.ai.example/v1' }, { OPENROUTER_API_KEY: 'or', OPENAI_API_KEY: 'oa' }).apiKey).toBe('oa');
    expect(resolveChatConfig({ baseUrl: 'http://localhost:1/v1' }, { OPENROUTER_API_KEY: 'or' }).apiKey).toBe('or');
  });

  it('names the setting a bad value came from', () => {
    const bad = (flags: Parameters<typeof resolveChatConfig>[0], env: Record<string, string>) => usageError(() => resolveChatConfig(flags, env));
    expect(bad({ baseUrl: 'nope' }, {}).message).toBe('invalid --base-url "nope"');
    expect(bad({}, { RAGOSS_BASE_URL: 'nope' }).message).toBe('invalid RAGOSS_BASE_URL "nope"');
    expect(bad({}, { RAGOSS_BASE_URL: 'nope' }).hint).toBe('use a URL such as http://localhost:11434/v1');
    expect(bad({ reasoningEffort: 'max' }, {}).message).toBe('--reasoning-effort must be low, medium or high, got "max"');
    expect(bad({}, { RAGOSS_REASONING_EFFORT: 'max' }).message).toBe('RAGOSS_REASONING_EFFORT must be low, medium or high, got "max"');
    for (const effort of ['low', 'medium', 'high']) expect(resolveChatConfig({ reasoningEffort: effort }, {}).reasoningEffort).toBe(effort);
    expect(bad({ maxTokens: '0' }, {}).message).toMatch(/^--max-tokens must/);
    expect(bad({}, { RAGOSS_MAX_TOKENS: '0' }).message).toMatch(/^RAGOSS_MAX_TOKENS must/);
    expect(bad({ timeout: '0' }, {}).message).toMatch(/^--timeout must/);
    expect(bad({}, { RAGOSS_TIMEOUT: '0' }).message).toMatch(/^RAGOSS_TIMEOUT must/);
  });
});

describe('per-command settings', () => {
  it('top-k: 3 by default, env, then flag', () => {
    expect(resolveTopK(undefined, {})).toBe(3);
    expect(resolveTopK(undefined, { RAGOSS_TOP_K: '5' })).toBe(5);
    expect(resolveTopK('2', { RAGOSS_TOP_K: '5' })).toBe(2);
    expect(usageError(() => resolveTopK('0', {})).message).toBe('--top-k must be a whole number of 1 or more, got "0"');
    expect(usageError(() => resolveTopK(undefined, { RAGOSS_TOP_K: 'x' })).message).toBe('RAGOSS_TOP_K must be a whole number of 1 or more, got "x"');
  });

  it('mode: the collection decides unless one is chosen; hybrid only for markdown with full text', () => {
    expect(defaultMode({ chunker: 'markdown', fullText: true })).toBe('hybrid');
    expect(defaultMode({ chunker: 'markdown', fullText: false })).toBe('dense');
    expect(defaultMode({ chunker: 'seed', fullText: true })).toBe('dense');
    expect(resolveMode(undefined, {})).toBeUndefined();
    expect(resolveMode(undefined, { RAGOSS_MODE: 'bm25' })).toBe('bm25');
    expect(resolveMode('dense', { RAGOSS_MODE: 'bm25' })).toBe('dense');
    expect(usageError(() => resolveMode('fuzzy', {})).message).toBe('--mode must be one of dense, bm25, hybrid, got "fuzzy"');
    expect(usageError(() => resolveMode(undefined, { RAGOSS_MODE: 'fuzzy' })).message).toBe('RAGOSS_MODE must be one of dense, bm25, hybrid, got "fuzzy"');
  });

  it('eval modes: one, a list without repeats, or all', () => {
    expect(resolveEvalModes(undefined, {})).toEqual([undefined]);
    expect(resolveEvalModes('all', {})).toEqual(['dense', 'bm25', 'hybrid']);
    expect(resolveEvalModes('hybrid, dense,hybrid', {})).toEqual(['hybrid', 'dense']);
    expect(resolveEvalModes(undefined, { RAGOSS_MODE: 'bm25' })).toEqual(['bm25']);
    expect(usageError(() => resolveEvalModes('dense,nope', {})).message).toBe('--mode must be one of dense, bm25, hybrid, got "nope"');
    expect(usageError(() => resolveEvalModes(undefined, { RAGOSS_MODE: 'nope' })).message).toMatch(/^RAGOSS_MODE must/);
  });

  it('chunker: seed by default, env, then flag', () => {
    expect(resolveChunker(undefined, {})).toBe('seed');
    expect(resolveChunker(undefined, { RAGOSS_CHUNKER: 'markdown' })).toBe('markdown');
    expect(resolveChunker('seed', { RAGOSS_CHUNKER: 'markdown' })).toBe('seed');
    expect(usageError(() => resolveChunker('words', {})).message).toBe('--chunker must be one of seed, markdown, got "words"');
    expect(usageError(() => resolveChunker(undefined, { RAGOSS_CHUNKER: 'words' })).message).toBe('RAGOSS_CHUNKER must be one of seed, markdown, got "words"');
  });

  it('questions: trimmed, and never empty', () => {
    expect(validateQuestion('  what?  ')).toBe('what?');
    const error = usageError(() => validateQuestion(' \n '));
    expect(error.message).toBe('the question is empty');
    expect(error.hint).toBe('pass it as an argument, e.g. ragoss search "How is data stored in milvus?"');
  });
});

describe('resolveDaemonUse: when a command uses or starts the service', () => {
  it('starts one for embedded Milvus, uses one for a server, and stays in-process when told', () => {
    expect(resolveDaemonUse(undefined, {}, EMBEDDED)).toBe('use-or-start');
    expect(resolveDaemonUse(undefined, {}, SERVER)).toBe('use');
    expect(resolveDaemonUse(false, {}, EMBEDDED)).toBe('off');
    expect(resolveDaemonUse(undefined, { RAGOSS_DAEMON: '0' }, EMBEDDED)).toBe('off');
    expect(resolveDaemonUse(undefined, { RAGOSS_DAEMON: 'off' }, SERVER)).toBe('off');
  });

  it('under CI starts none unless RAGOSS_DAEMON asks; CI=0 or false is not CI', () => {
    expect(resolveDaemonUse(undefined, { CI: 'true' }, EMBEDDED)).toBe('use');
    expect(resolveDaemonUse(undefined, { CI: '1' }, EMBEDDED)).toBe('use');
    expect(resolveDaemonUse(undefined, { CI: 'true', RAGOSS_DAEMON: '1' }, EMBEDDED)).toBe('use-or-start');
    expect(resolveDaemonUse(undefined, { CI: 'true', RAGOSS_DAEMON: '1' }, SERVER)).toBe('use');
    for (const notCi of ['0', 'false', 'FALSE', 'no', 'off', '']) expect(resolveDaemonUse(undefined, { CI: notCi }, EMBEDDED)).toBe('use-or-start');
  });
});

describe('parseMilvusUri: the pymilvus rules', () => {
  it('treats URLs and host:port as servers', () => {
    expect(parseMilvusUri('http://localhost:19530', '/h', undefined)).toEqual({ kind: 'server', address: 'localhost:19530', ssl: false, token: undefined });
    expect(parseMilvusUri('https://in03.zillizcloud.com', '/h', 'tok')).toEqual({ kind: 'server', address: 'in03.zillizcloud.com:443', ssl: true, token: 'tok' });
    expect(parseMilvusUri('milvus.internal:19530', '/h', undefined)).toMatchObject({ kind: 'server', address: 'milvus.internal:19530' });
  });

  it('treats paths as embedded Milvus Lite data, and defaults to the ragoss home', () => {
    expect(parseMilvusUri('./milvus.db', '/h', undefined)).toEqual({ kind: 'embedded', dataDir: resolve('milvus.db') });
    expect(parseMilvusUri('~/data/milvus', '/h', undefined)).toEqual({ kind: 'embedded', dataDir: join(homedir(), 'data/milvus') });
    expect(parseMilvusUri(undefined, '/h', undefined)).toEqual({ kind: 'embedded', dataDir: '/h/milvus' });
  });

  it('rejects other schemes as usage errors', () => {
    expect(() => parseMilvusUri('ftp://x:1', '/h', undefined)).toThrow(UsageError);
  });
});

describe('resolveCommonConfig: flags over env over defaults', () => {
  it('takes flags over env vars over defaults', () => {
    const env = { RAGOSS_HOME: '/tmp/rh', RAGOSS_COLLECTION: 'from_env', MILVUS_URI: 'http://envhost:19530', RAGOSS_EMBEDDING_MODEL: 'env/model' };
    expect(resolveCommonConfig({}, {}).collection).toBe(DEFAULT_COLLECTION);
    const fromEnv = resolveCommonConfig({}, env);
    expect(fromEnv).toMatchObject({ home: '/tmp/rh', collection: 'from_env', location: { kind: 'server', address: 'envhost:19530' } });
    expect(fromEnv.embedding.explicitModel).toBe('env/model');
    const fromFlags = resolveCommonConfig({ collection: 'from_flag', milvusUri: '/tmp/lite', embeddingModel: 'flag/model' }, env);
    expect(fromFlags).toMatchObject({ collection: 'from_flag', location: { kind: 'embedded', dataDir: '/tmp/lite' } });
    expect(fromFlags.embedding.explicitModel).toBe('flag/model');
  });

  it('collects secrets so they can be redacted', () => {
    const config = resolveCommonConfig({}, { MILVUS_TOKEN: 'root:Milvus', OPENROUTER_API_KEY: 'sk-or-123' });
    expect(config.secrets).toEqual(['root:Milvus', 'sk-or-123']);
  });

  it('rejects collection names Milvus or ragoss cannot use', () => {
    expect(() => resolveCommonConfig({ collection: 'has-dash' }, {})).toThrow(UsageError);
    expect(() => resolveCommonConfig({ collection: 'double__underscore' }, {})).toThrow(UsageError);
  });
});

describe('resolveChatConfig: the OpenRouter default', () => {
  it('defaults to gpt-oss-20b on OpenRouter with the OpenRouter key', () => {
    const chat = resolveChatConfig({}, { OPENROUTER_API_KEY: 'or', OPENAI_API_KEY: 'oa' });
    expect(chat).toMatchObject({ baseUrl: DEFAULT_CHAT_BASE_URL, model: DEFAULT_CHAT_MODEL, apiKey: 'or' });
  });

  it('prefers OPENAI_API_KEY for other endpoints and accepts none for local ones', () => {
    expect(resolveChatConfig({ baseUrl: 'http://localhost:8000/v1' }, { OPENROUTER_API_KEY: 'or', OPENAI_API_KEY: 'oa' }).apiKey).toBe('oa');
    expect(resolveChatConfig({ baseUrl: 'http://localhost:11434/v1', model: 'gpt-oss:20b' }, {})).toMatchObject({ apiKey: undefined, model: 'gpt-oss:20b' });
  });

  it('validates numbers and reasoning effort', () => {
    expect(() => resolveChatConfig({ maxTokens: '-1' }, {})).toThrow(UsageError);
    expect(() => resolveChatConfig({ reasoningEffort: 'extreme' }, {})).toThrow(UsageError);
    expect(resolveChatConfig({ reasoningEffort: 'low', maxTokens: '2048' }, {})).toMatchObject({ reasoningEffort: 'low', maxTokens: 2048 });
  });
});
