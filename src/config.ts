import { REASONING_EFFORTS, type ReasoningEffort } from './answerer/chat.js';
import { CHUNKERS, DEFAULT_CHUNKER, type ChunkerName } from './corpus/chunk.js';
import { RETRIEVAL_MODES, type RetrievalMode } from './store/store.js';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { EMBEDDING_DTYPES, type EmbeddingDtype } from './embedder/embedder.js';
import type { ChatConfig, EmbeddingSettings, EngineSettings, ServerEmbeddingSettings } from './engine/settings.js';
import type { ContextRequest } from './engine/engine.js';
import { isHttpUrl } from './remote/http.js';
import { parseMilvusUri, type MilvusLocation } from './store/location.js';
import { expandHome } from './system.js';
import { RERANK_FORMATS, type RerankFormat, type RerankSettings } from './rerank/reranker.js';
import { UsageError, secretsAmong } from './errors.js';
import { DEFAULT_LOCK_TIMEOUT_SECONDS, DEFAULT_START_TIMEOUT_SECONDS } from './store/timeouts.js';

export const DEFAULT_SOURCE_URL =
  'https://github.com/milvus-io/milvus-docs/releases/download/v2.4.6-preview/milvus_docs_2.4.x_en.zip';
export const DEFAULT_GLOB = 'en/faq/*.md';
export const DEFAULT_COLLECTION = 'ragoss_milvus_faq';
export const DEFAULT_CHAT_BASE_URL = 'https://openrouter.ai/api/v1';
export const DEFAULT_CHAT_MODEL = 'openai/gpt-oss-20b';
export const DEFAULT_TOP_K = 3;

export type Env = Readonly<Record<string, string | undefined>>;

/** Flags win over env vars, env vars over defaults; empty strings count as unset. */
export function pick(flag: string | undefined, env: Env, envName: string): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = env[envName];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

export function resolveHome(env: Env): string {
  return resolve(expandHome(pick(undefined, env, 'RAGOSS_HOME') ?? join(homedir(), '.ragoss')));
}

/** Which setting a value came from, for error messages: the flag when given, else the env var. */
export function settingName(flag: string | undefined, flagName: string, envName: string): string {
  return flag !== undefined ? flagName : envName;
}

export function parsePositiveInt(value: string | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) {
    throw new UsageError(`${what} must be a whole number of 1 or more, got "${value}"`);
  }
  return parsed;
}

/** A count that may be 0 (retries). */
export function parseCount(value: string | undefined, what: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isInteger(parsed) || parsed < 0) throw new UsageError(`${what} must be a whole number of 0 or more, got "${value}"`);
  return parsed;
}

export function parseBoolean(value: string | boolean | undefined): boolean {
  if (typeof value === 'boolean') return value;
  return value !== undefined && ['1', 'true', 'yes', 'on'].includes(value.toLowerCase());
}

/** Options every command shares; all are optional on the command line. */
export interface CommonFlags {
  milvusUri?: string;
  collection?: string;
  embeddingModel?: string;
  embeddingUrl?: string;
  modelDir?: string;
  offline?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  json?: boolean;
  /** false with --no-daemon. */
  daemon?: boolean;
}

/** The embedding settings, plus the model the user named (per request: the engine does not own it). */
export interface EmbeddingConfig extends EmbeddingSettings {
  /** Set when the user named a model; otherwise ingest uses the default and search the collection's. */
  explicitModel: string | undefined;
}


export interface CommonConfig {
  home: string;
  location: MilvusLocation;
  collection: string;
  embedding: EmbeddingConfig;
  milvusTimeoutMs: number;
  milvusLiteExecutable: string | undefined;
  /** How long an in-process command waits for another one using the same embedded data. */
  lockTimeoutMs: number;
  /** How long the embedded Milvus Lite may take to start listening. */
  startTimeoutMs: number;
  quiet: boolean;
  verbose: boolean;
  json: boolean;
  /** Whether this command uses (or starts) the ragoss service. */
  daemon: DaemonUse;
  /** Values that must never be printed. */
  secrets: string[];
}

function resolveCollection(flag: string | undefined, env: Env): string {
  const collection = pick(flag, env, 'RAGOSS_COLLECTION') ?? DEFAULT_COLLECTION;
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,199}$/.test(collection) || collection.includes('__')) {
    throw new UsageError(`invalid collection name "${collection}"`, 'use letters, digits and single underscores, starting with a letter or _');
  }
  return collection;
}

function resolveDtype(env: Env): EmbeddingDtype {
  const dtype = pick(undefined, env, 'RAGOSS_EMBEDDING_DTYPE') ?? 'fp32';
  if (!EMBEDDING_DTYPES.includes(dtype as EmbeddingDtype)) {
    throw new UsageError(`RAGOSS_EMBEDDING_DTYPE must be one of ${EMBEDDING_DTYPES.join(', ')}, got "${dtype}"`);
  }
  return dtype as EmbeddingDtype;
}

export function resolveCommonConfig(flags: CommonFlags, env: Env): CommonConfig {
  const home = resolveHome(env);
  const token = pick(undefined, env, 'MILVUS_TOKEN');
  const modelDir = pick(flags.modelDir, env, 'RAGOSS_MODEL_DIR');
  const milvusTimeoutSeconds = parsePositiveInt(pick(undefined, env, 'RAGOSS_MILVUS_TIMEOUT'), 'RAGOSS_MILVUS_TIMEOUT', 10);
  const location = parseMilvusUri(pick(flags.milvusUri, env, 'MILVUS_URI'), home, token);
  return {
    home,
    location,
    collection: resolveCollection(flags.collection, env),
    embedding: {
      explicitModel: pick(flags.embeddingModel, env, 'RAGOSS_EMBEDDING_MODEL'),
      modelDir: modelDir === undefined ? undefined : resolve(expandHome(modelDir)),
      cacheDir: join(home, 'models'),
      offline: flags.offline === true || parseBoolean(pick(undefined, env, 'RAGOSS_OFFLINE')),
      dtype: resolveDtype(env),
      batchSize: parsePositiveInt(pick(undefined, env, 'RAGOSS_EMBEDDING_BATCH'), 'RAGOSS_EMBEDDING_BATCH', 16),
      hubEndpoint: pick(undefined, env, 'HF_ENDPOINT'),
      url: resolveEmbeddingUrl(flags.embeddingUrl, env),
      server: resolveServerEmbedding(env),
    },
    milvusTimeoutMs: milvusTimeoutSeconds * 1000,
    milvusLiteExecutable: pick(undefined, env, 'RAGOSS_MILVUS_LITE'),
    lockTimeoutMs: parsePositiveInt(pick(undefined, env, 'RAGOSS_LOCK_TIMEOUT'), 'RAGOSS_LOCK_TIMEOUT', DEFAULT_LOCK_TIMEOUT_SECONDS) * 1000,
    startTimeoutMs: parsePositiveInt(pick(undefined, env, 'RAGOSS_START_TIMEOUT'), 'RAGOSS_START_TIMEOUT', DEFAULT_START_TIMEOUT_SECONDS) * 1000,
    quiet: flags.quiet === true,
    verbose: flags.verbose === true,
    json: flags.json === true,
    daemon: resolveDaemonUse(flags.daemon, env, location),
    secrets: secretsAmong(token, env['OPENROUTER_API_KEY'], env['OPENAI_API_KEY'], env['RAGOSS_SERVE_TOKEN'], env['RAGOSS_EMBEDDING_API_KEY'], env['RAGOSS_RERANK_API_KEY']),
  };
}

/** --embedding-url / RAGOSS_EMBEDDING_URL: an http(s) API base such as http://localhost:7997 or https://api.openai.com/v1. */
function resolveEmbeddingUrl(flag: string | undefined, env: Env): string | undefined {
  const url = pick(flag, env, 'RAGOSS_EMBEDDING_URL');
  if (url === undefined) return undefined;
  if (!isHttpUrl(url)) {
    throw new UsageError(`${settingName(flag, '--embedding-url', 'RAGOSS_EMBEDDING_URL')} must be an http(s) URL, got "${url}"`, 'e.g. http://localhost:7997 (Infinity), http://localhost:8080/v1 (TEI), https://api.openai.com/v1');
  }
  return url.replace(/\/+$/, '');
}

/**
 * Batches of 32 texts, 4 in flight: enough for a server to batch across requests and keep its
 * accelerator busy, few enough that a hosted API's rate limit is not hit at once (see the bench).
 * Five minutes a request: a server on a CPU (Infinity here: ~2.5 texts/s) queues the 128 texts in
 * flight, so the last answer of a batch of long chunks comes after more than a minute.
 */
function resolveServerEmbedding(env: Env): ServerEmbeddingSettings {
  const dimensions = pick(undefined, env, 'RAGOSS_EMBEDDING_DIMENSIONS');
  return {
    apiKey: pick(undefined, env, 'RAGOSS_EMBEDDING_API_KEY'),
    dimensions: dimensions === undefined ? undefined : parsePositiveInt(dimensions, 'RAGOSS_EMBEDDING_DIMENSIONS', 0),
    batchSize: parsePositiveInt(pick(undefined, env, 'RAGOSS_EMBEDDING_BATCH'), 'RAGOSS_EMBEDDING_BATCH', 32),
    concurrency: parsePositiveInt(pick(undefined, env, 'RAGOSS_EMBEDDING_CONCURRENCY'), 'RAGOSS_EMBEDDING_CONCURRENCY', 4),
    timeoutMs: parsePositiveInt(pick(undefined, env, 'RAGOSS_EMBEDDING_TIMEOUT'), 'RAGOSS_EMBEDDING_TIMEOUT', 300) * 1000,
    maxRetries: parseCount(pick(undefined, env, 'RAGOSS_EMBEDDING_RETRIES'), 'RAGOSS_EMBEDDING_RETRIES', 5),
    maxTokens: parsePositiveInt(pick(undefined, env, 'RAGOSS_EMBEDDING_MAX_TOKENS'), 'RAGOSS_EMBEDDING_MAX_TOKENS', 512),
  };
}

/**
 * The model a request names and how its texts are embedded: both travel with the request, so a
 * shared service embeds each caller's way (see `settingsFingerprint` for what stays the process's).
 */
export function embeddingTarget(config: CommonConfig): { embeddingModel: string | undefined; embedding: EmbeddingSettings } {
  const { explicitModel, ...embedding } = config.embedding;
  return { embeddingModel: explicitModel, embedding };
}

export function engineSettings(config: CommonConfig): EngineSettings {
  const { explicitModel: _perRequest, ...embedding } = config.embedding;
  return {
    home: config.home,
    location: config.location,
    embedding,
    milvusTimeoutMs: config.milvusTimeoutMs,
    milvusLiteExecutable: config.milvusLiteExecutable,
    lockTimeoutMs: config.lockTimeoutMs,
    startTimeoutMs: config.startTimeoutMs,
  };
}

export interface ChatFlags {
  baseUrl?: string;
  model?: string;
  maxTokens?: string;
  reasoningEffort?: string;
  timeout?: string;
}

export function resolveChatConfig(flags: ChatFlags, env: Env): ChatConfig {
  const baseUrl = pick(flags.baseUrl, env, 'RAGOSS_BASE_URL') ?? DEFAULT_CHAT_BASE_URL;
  let host: string;
  try {
    host = new URL(baseUrl).hostname;
  } catch {
    throw new UsageError(`invalid ${settingName(flags.baseUrl, '--base-url', 'RAGOSS_BASE_URL')} "${baseUrl}"`, 'use a URL such as http://localhost:11434/v1');
  }
  // Each provider's own key first, so an OpenRouter key is not sent to other hosts by preference.
  const apiKey = /openrouter\.ai$/i.test(host)
    ? pick(undefined, env, 'OPENROUTER_API_KEY') ?? pick(undefined, env, 'OPENAI_API_KEY')
    : pick(undefined, env, 'OPENAI_API_KEY') ?? pick(undefined, env, 'OPENROUTER_API_KEY');
  const maxTokens = pick(flags.maxTokens, env, 'RAGOSS_MAX_TOKENS');
  const effort = pick(flags.reasoningEffort, env, 'RAGOSS_REASONING_EFFORT');
  if (effort !== undefined && !REASONING_EFFORTS.includes(effort as ReasoningEffort)) {
    throw new UsageError(`${settingName(flags.reasoningEffort, '--reasoning-effort', 'RAGOSS_REASONING_EFFORT')} must be low, medium or high, got "${effort}"`);
  }
  return {
    baseUrl,
    model: pick(flags.model, env, 'RAGOSS_MODEL') ?? DEFAULT_CHAT_MODEL,
    apiKey,
    maxTokens: maxTokens === undefined ? undefined : parsePositiveInt(maxTokens, settingName(flags.maxTokens, '--max-tokens', 'RAGOSS_MAX_TOKENS'), 0),
    reasoningEffort: effort as ChatConfig['reasoningEffort'],
    timeoutMs: parsePositiveInt(pick(flags.timeout, env, 'RAGOSS_TIMEOUT'), settingName(flags.timeout, '--timeout', 'RAGOSS_TIMEOUT'), 120) * 1000,
    maxRetries: 3,
  };
}

export function resolveTopK(flag: string | undefined, env: Env): number {
  return parsePositiveInt(pick(flag, env, 'RAGOSS_TOP_K'), settingName(flag, '--top-k', 'RAGOSS_TOP_K'), DEFAULT_TOP_K);
}

export const DEFAULT_MODE_HELP = 'hybrid for markdown collections with full text, else dense';

function parseMode(value: string, what: string): RetrievalMode {
  if ((RETRIEVAL_MODES as readonly string[]).includes(value)) return value as RetrievalMode;
  throw new UsageError(`${what} must be one of ${RETRIEVAL_MODES.join(', ')}, got "${value}"`);
}

/**
 * The mode the user chose, or undefined for the collection's default (`defaultMode`), which the
 * engine knows once it has described the collection.
 */
export function resolveMode(flag: string | undefined, env: Env): RetrievalMode | undefined {
  const value = pick(flag, env, 'RAGOSS_MODE');
  return value === undefined ? undefined : parseMode(value, flag === undefined ? 'RAGOSS_MODE' : '--mode');
}

/** eval compares modes in one run: `--mode dense,hybrid`, or `all`. */
export function resolveEvalModes(flag: string | undefined, env: Env): Array<RetrievalMode | undefined> {
  const value = pick(flag, env, 'RAGOSS_MODE');
  if (value === undefined) return [undefined];
  if (value === 'all') return [...RETRIEVAL_MODES];
  const what = flag === undefined ? 'RAGOSS_MODE' : '--mode';
  const modes = value.split(',').map((part) => parseMode(part.trim(), what));
  return [...new Set(modes)];
}

export function resolveChunker(flag: string | undefined, env: Env): ChunkerName {
  const value = pick(flag, env, 'RAGOSS_CHUNKER');
  if (value === undefined) return DEFAULT_CHUNKER;
  if ((CHUNKERS as readonly string[]).includes(value)) return value as ChunkerName;
  throw new UsageError(`${flag === undefined ? 'RAGOSS_CHUNKER' : '--chunker'} must be one of ${CHUNKERS.join(', ')}, got "${value}"`);
}

export function validateQuestion(question: string): string {
  const trimmed = question.trim();
  if (trimmed === '') throw new UsageError('the question is empty', 'pass it as an argument, e.g. ragoss search "How is data stored in milvus?"');
  return trimmed;
}

export type DaemonUse = 'off' | 'use' | 'use-or-start';

/**
 * Whether a command uses the service, and may start one. `--no-daemon` or RAGOSS_DAEMON=0 keep
 * everything in-process. A service that is up is used; one is started only for the embedded
 * default, and not under CI=true (as Nx and Turborepo daemons do) unless RAGOSS_DAEMON=1 asks.
 */
export function resolveDaemonUse(flag: boolean | undefined, env: Env, location: MilvusLocation): DaemonUse {
  const setting = pick(undefined, env, 'RAGOSS_DAEMON');
  if (flag === false || (setting !== undefined && !parseBoolean(setting))) return 'off';
  const ci = pick(undefined, env, 'CI');
  const underCi = ci !== undefined && !['0', 'false', 'no', 'off'].includes(ci.toLowerCase());
  const asked = setting !== undefined && parseBoolean(setting);
  return location.kind === 'embedded' && (asked || !underCi) ? 'use-or-start' : 'use';
}

/** --idle-timeout / RAGOSS_IDLE_TIMEOUT: "600", "90s", "10m", "1h"; 0 means never. */
export function parseDuration(value: string | undefined, what: string, fallbackMs: number): number {
  if (value === undefined) return fallbackMs;
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (match === null) throw new UsageError(`${what} must be a duration such as 600, 90s, 10m or 1h (0 for never), got "${value}"`);
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] ?? 's'] as number;
  return Math.round(Number(match[1]) * scale);
}

/** --min-score / RAGOSS_MIN_SCORE: the grounding threshold, a dense similarity (-1 to 1); unset: the calibrated default. */
export function resolveMinScore(flag: string | undefined, env: Env): number | undefined {
  const value = pick(flag, env, 'RAGOSS_MIN_SCORE');
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < -1 || parsed > 1) {
    throw new UsageError(`${settingName(flag, '--min-score', 'RAGOSS_MIN_SCORE')} must be a similarity from -1 to 1 (e.g. 0.3), got "${value}"`, 'or leave it out for the default of the collection\'s model');
  }
  return parsed;
}

/**
 * How ask fills the model's context: --context-tokens / RAGOSS_CONTEXT_TOKENS (a budget), and an
 * explicit --top-k / RAGOSS_TOP_K as the cap on hits. Unset parts: the builder's defaults.
 */
export function resolveContext(flags: { contextTokens?: string; topK?: string }, env: Env): ContextRequest {
  const tokens = pick(flags.contextTokens, env, 'RAGOSS_CONTEXT_TOKENS');
  const topK = pick(flags.topK, env, 'RAGOSS_TOP_K');
  return {
    ...(tokens === undefined ? {} : { tokens: parsePositiveInt(tokens, settingName(flags.contextTokens, '--context-tokens', 'RAGOSS_CONTEXT_TOKENS'), 0) }),
    ...(topK === undefined ? {} : { maxHits: resolveTopK(flags.topK, env) }),
  };
}

export interface RerankFlags {
  rerank?: string;
  rerankCandidates?: string;
  rerankTimeout?: string;
}

/**
 * The fused top 20 go to the reranker: on the held-out whole-docs questions the right section is
 * in the hybrid top 3 for 80% and the top 10 for 92% (docs/grounding-and-quality.md, "Retrieval quality"), so 20 holds
 * nearly every answer a reranker could lift, while a cross-encoder's cost grows with each one.
 */
export const DEFAULT_RERANK_CANDIDATES = 20;
export const DEFAULT_RERANK_TIMEOUT_SECONDS = 5;

/** --rerank / RAGOSS_RERANK: a /rerank URL or a cross-encoder model name; unset or none: no rerank stage. */
export function resolveRerank(flags: RerankFlags, env: Env): RerankSettings | undefined {
  const target = pick(flags.rerank, env, 'RAGOSS_RERANK');
  if (target === undefined || target === 'none') return undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target) && !isHttpUrl(target)) {
    throw new UsageError(`${settingName(flags.rerank, '--rerank', 'RAGOSS_RERANK')} must be an http(s) URL or a model name, got "${target}"`, 'e.g. http://localhost:7997/rerank or Xenova/ms-marco-MiniLM-L-6-v2');
  }
  const format = pick(undefined, env, 'RAGOSS_RERANK_FORMAT') ?? 'auto';
  if (!(RERANK_FORMATS as readonly string[]).includes(format)) throw new UsageError(`RAGOSS_RERANK_FORMAT must be one of ${RERANK_FORMATS.join(', ')}, got "${format}"`);
  const model = pick(undefined, env, 'RAGOSS_RERANK_MODEL');
  const apiKey = pick(undefined, env, 'RAGOSS_RERANK_API_KEY');
  const timeout = pick(flags.rerankTimeout, env, 'RAGOSS_RERANK_TIMEOUT');
  return {
    target,
    ...(model === undefined ? {} : { model }),
    format: format as RerankFormat,
    ...(apiKey === undefined ? {} : { apiKey }),
    candidates: parsePositiveInt(pick(flags.rerankCandidates, env, 'RAGOSS_RERANK_CANDIDATES'), settingName(flags.rerankCandidates, '--rerank-candidates', 'RAGOSS_RERANK_CANDIDATES'), DEFAULT_RERANK_CANDIDATES),
    budgetMs: parseDuration(timeout, settingName(flags.rerankTimeout, '--rerank-timeout', 'RAGOSS_RERANK_TIMEOUT'), DEFAULT_RERANK_TIMEOUT_SECONDS * 1000),
  };
}

/** --link-template / RAGOSS_LINK_TEMPLATE: a URL with {path} {name} {anchor} {line}, or none. */
export function resolveLinkTemplate(flag: string | undefined, env: Env): string | undefined {
  const value = pick(flag, env, 'RAGOSS_LINK_TEMPLATE');
  if (value === undefined || value === 'none') return value;
  if (!/\{(path|name)\}/.test(value)) {
    throw new UsageError(`${settingName(flag, '--link-template', 'RAGOSS_LINK_TEMPLATE')} must name the page with {path} or {name}, got "${value}"`, 'e.g. https://github.com/milvus-io/milvus-docs/blob/v2.4.x/site/{path}, or none');
  }
  return value;
}
