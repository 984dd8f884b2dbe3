import { z } from 'zod';
import {
  DEFAULT_GLOB,
  embeddingTarget,
  DEFAULT_SOURCE_URL,
  resolveChatConfig,
  resolveChunker,
  resolveCommonConfig,
  resolveContext,
  resolveLinkTemplate,
  resolveMinScore,
  resolveMode,
  resolveRerank,
  resolveTopK,
  validateQuestion,
  type Env,
} from '../config.js';
import type { AskRequest, CalibrateRequest, ChatSettings, ContextRequest, DoctorRequest, EvalRequest, ExportRequest, GetRequest, IngestRequest, QueryTarget, SearchRequest } from '../engine/engine.js';
import type { EmbeddingSettings } from '../engine/settings.js';
import { EMBEDDING_DTYPES } from '../embedder/embedder.js';
import { UsageError } from '../errors.js';
import { isHttpUrl } from '../remote/http.js';
import { parseEvalQuestion, type EvalQuestion } from '../pipeline/evaluate.js';
import type { RerankSettings } from '../rerank/reranker.js';

/**
 * The JSON bodies of the HTTP API, each request described once for both sides: the CLI writes a
 * resolved request with `write`, the service reads a body with `read`. Every field but what a
 * request names (the question, a source) is optional: what a body leaves out comes from the
 * service's own environment, then the defaults, as on the command line. The CLI sends everything
 * it resolved, so its flags and environment win. A new option is one field in one list below.
 */

type Body = Record<string, unknown>;

/** What a body may hold under one key. */
interface Key {
  /** Checked on arrival: a body that does not fit is refused in one line naming the key. */
  wire: z.ZodType;
  /**
   * For a setting the service's environment fills when a body leaves it out, where the CLI's
   * "unset" must mean the command's default instead: that variable. The one rule for all of them:
   * the CLI sends an unset value as `null`, and the service reads a `null` as if this variable of
   * its environment were unset too (so `null` is the default, never the service's setting).
   */
  nullUnsets?: string;
  hint?: string;
}

/**
 * One option of a request (one body key, or a few read together): what the body may hold, how the
 * service reads it into the request (`values`: the body's, `null` read as absent), and how the
 * CLI writes a resolved request's value.
 */
interface Field<R> {
  keys: Record<string, Key>;
  read(values: Body, env: Env, own: EmbeddingSettings | undefined): Partial<R>;
  write(request: R): Body;
}

export interface RequestSpec<R> {
  /** The service's side. `own`: the service's embedding settings, the base of a caller's partial `embedding` (default: as `env` resolves them). */
  read(body: Body, env: Env, own?: EmbeddingSettings): R;
  /** The CLI's side: a resolved request as a body that `read` reads back unchanged. */
  write(request: R): Body;
}

/** A field with the schema its keys are checked against, built once. */
interface Checked<R> {
  field: Field<R>;
  schema: z.ZodObject;
}

function readField<R>({ field, schema }: Checked<R>, body: Body, env: Env, own: EmbeddingSettings | undefined): Partial<R> {
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    // A failed parse has at least one issue.
    const issue = innermost(parsed.error.issues[0] as z.core.$ZodIssue);
    throw new UsageError(`"${issue.path.join('.')}" ${issue.message}`, field.keys[String(issue.path[0])]?.hint);
  }
  let fieldEnv = env;
  const values: Body = {};
  for (const [key, { nullUnsets }] of Object.entries(field.keys)) {
    const value = parsed.data[key];
    if (value === null && nullUnsets !== undefined) fieldEnv = { ...fieldEnv, [nullUnsets]: undefined };
    if (value !== null) values[key] = value;
  }
  return field.read(values, fieldEnv, own);
}

/** Where a body went wrong: inside a value whose kind fit one of the kinds allowed (an object with a bad field), that field. */
function innermost(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  const within = issue.code === 'invalid_union' ? issue.errors.flat().find((inner) => inner.path.length > 0) : undefined;
  return within === undefined ? issue : { path: [...issue.path, ...within.path], message: within.message };
}

function writeField<R>(field: Field<R>, request: R): Body {
  const body = field.write(request);
  for (const [key, { nullUnsets }] of Object.entries(field.keys)) if (nullUnsets !== undefined) body[key] ??= null;
  return body;
}

/** What a list of fields provides, all together. */
type Provided<F> = (F extends Field<infer T> ? (provides: T) => void : never) extends (provides: infer All) => void ? All : never;
/** The request's keys no field provides: a request that misses one does not compile. */
type Missing<R, F> = Exclude<keyof R, keyof Provided<F>>;

/** A request made of its fields, read and written in this order (the first field that fails names the error). */
function request<R>() {
  return <F extends Array<Field<object>>>(...fields: F & ([Missing<R, F[number]>] extends [never] ? unknown : { missing: Missing<R, F[number]> })): RequestSpec<R> => spec<R>(fields as Array<Field<R>>);
}

function spec<R>(fields: Array<Field<R>>): RequestSpec<R> {
  const checked = fields.map((field) => ({ field, schema: z.object(Object.fromEntries(Object.entries(field.keys).map(([key, { wire }]) => [key, wire]))) }));
  return {
    read: (body, env, own) => Object.assign({}, ...checked.map((item) => readField(item, body, env, own))) as R,
    write: (resolved) => Object.assign({}, ...fields.map((field) => writeField(field, resolved))) as Body,
  };
}

/** A string, or a number or boolean read as one (`"topK": 5` and `"topK": "5"` alike). */
const scalar = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string' }).nullable().optional();
const anything = z.unknown().optional();

/** A scalar value as the config resolvers read it (a flag's text). */
function text(values: Body, key: string): string | undefined {
  const value = values[key];
  return value === undefined ? undefined : String(value);
}

/**
 * A setting read by its config resolver, like a flag: the body's value, else the service's
 * environment, else the default. `nullUnsets`: see `Key`.
 */
function setting<K extends string, V>(key: K, resolve: (value: string | undefined, env: Env) => V | undefined, nullUnsets?: string): Field<{ [P in K]?: V }> {
  return {
    keys: { [key]: { wire: scalar, nullUnsets } },
    read(values, env) {
      const value = resolve(text(values, key), env);
      return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
    },
    write: (resolved) => ({ [key]: resolved[key] }),
  };
}

/** true or false: only `true` is true. `onlyTrue`: absent unless true. */
function flag<K extends string>(key: K, onlyTrue = false): Field<{ [P in K]?: boolean }> {
  return {
    keys: { [key]: { wire: anything } },
    read: (values) => (values[key] === true ? { [key]: true } : onlyTrue ? {} : { [key]: false }) as { [P in K]?: boolean },
    write: (resolved) => ({ [key]: resolved[key] }),
  };
}

const httpUrl = z.string().refine(isHttpUrl, 'must be an http(s) URL');
const count = (least: number) => z.number().int().min(least);

/**
 * How a caller embeds, as `wireEmbedding` sends it. A field left out is the service's own; `null`
 * is "none" (no server, no model dir). Unknown fields are refused: a misspelt one would silently
 * embed the service's way.
 */
const embeddingSchema = z.strictObject({
  url: httpUrl.nullable().optional(),
  modelDir: z.string().startsWith('/', 'must be an absolute path').nullable().optional(),
  offline: z.boolean().optional(),
  dtype: z.enum(EMBEDDING_DTYPES as [string, ...string[]]).optional(),
  batchSize: count(1).optional(),
  hubEndpoint: httpUrl.nullable().optional(),
  server: z
    .strictObject({
      apiKey: z.string().nullable().optional(),
      dimensions: count(1).nullable().optional(),
      batchSize: count(1).optional(),
      concurrency: count(1).optional(),
      timeoutMs: count(1).optional(),
      maxRetries: count(0).optional(),
      maxTokens: count(1).optional(),
    })
    .optional(),
});

type WireEmbedding = z.infer<typeof embeddingSchema>;

/** `null` on the wire is "none"; absent is "the service's own". */
function orOwn<T>(value: T | null | undefined, own: T | undefined): T | undefined {
  return value === undefined ? own : (value ?? undefined);
}

/**
 * The caller's embedding settings, building on the service's own (absent or `null`: the service's
 * own, unset in the request). The service's embedding key goes only to the service's own server,
 * never to a URL a caller names.
 */
function embeddingOf(fields: WireEmbedding | undefined, own: EmbeddingSettings): EmbeddingSettings | undefined {
  if (fields === undefined) return undefined;
  const url = orOwn(fields.url, own.url);
  const server = fields.server ?? {};
  const ownKey = url === own.url ? own.server.apiKey : undefined;
  return {
    modelDir: orOwn(fields.modelDir, own.modelDir),
    cacheDir: own.cacheDir,
    offline: fields.offline ?? own.offline,
    dtype: (fields.dtype ?? own.dtype) as EmbeddingSettings['dtype'],
    batchSize: fields.batchSize ?? own.batchSize,
    hubEndpoint: orOwn(fields.hubEndpoint, own.hubEndpoint),
    url,
    server: {
      apiKey: orOwn(server.apiKey, ownKey),
      dimensions: orOwn(server.dimensions, own.server.dimensions),
      batchSize: server.batchSize ?? own.server.batchSize,
      concurrency: server.concurrency ?? own.server.concurrency,
      timeoutMs: server.timeoutMs ?? own.server.timeoutMs,
      maxRetries: server.maxRetries ?? own.server.maxRetries,
      maxTokens: server.maxTokens ?? own.server.maxTokens,
    },
  };
}

/** The CLI's side: everything it resolved, unset fields as `null` so the service's own never fill them. */
function wireEmbedding(settings: EmbeddingSettings): WireEmbedding {
  const { server } = settings;
  return {
    url: settings.url ?? null,
    modelDir: settings.modelDir ?? null,
    offline: settings.offline,
    dtype: settings.dtype,
    batchSize: settings.batchSize,
    hubEndpoint: settings.hubEndpoint ?? null,
    server: { ...server, apiKey: server.apiKey ?? null, dimensions: server.dimensions ?? null },
  };
}

/** The collection a request reads, the model it names, and how it embeds (sent only when the caller chose). */
const target: Field<QueryTarget> = {
  keys: {
    collection: { wire: scalar },
    // Unset, the collection's model (ingest: the default one), never the model of the service's environment.
    embeddingModel: { wire: scalar, nullUnsets: 'RAGOSS_EMBEDDING_MODEL' },
    embedding: { wire: embeddingSchema.nullable().optional(), hint: 'send {"embedding": {"url": "http://localhost:7997"}} or leave "embedding" out for the service\'s own' },
  },
  read(values, env, own) {
    const config = resolveCommonConfig({ collection: text(values, 'collection'), embeddingModel: text(values, 'embeddingModel') }, env);
    const resolved = embeddingTarget(config);
    const embedding = embeddingOf(values['embedding'] as WireEmbedding | undefined, own ?? resolved.embedding);
    return { collection: config.collection, embeddingModel: resolved.embeddingModel, ...(embedding === undefined ? {} : { embedding }) };
  },
  write: ({ collection, embeddingModel, embedding }) => ({ collection, embeddingModel, ...(embedding === undefined ? {} : { embedding: wireEmbedding(embedding) }) }),
};

/** Only the collection (get and export read no vectors). */
const collection: Field<{ collection: string }> = {
  keys: { collection: { wire: scalar } },
  read: (values, env) => ({ collection: resolveCommonConfig({ collection: text(values, 'collection') }, env).collection }),
  write: ({ collection: name }) => ({ collection: name }),
};

const question: Field<{ question: string }> = {
  keys: { question: { wire: scalar } },
  read(values) {
    const value = text(values, 'question');
    if (value === undefined) throw new UsageError('"question" is required', 'send {"question": "How is data stored in milvus?"}');
    return { question: validateQuestion(value) };
  },
  write: ({ question: value }) => ({ question: value }),
};

const topK = setting('topK', resolveTopK);
const mode = setting('mode', resolveMode, 'RAGOSS_MODE');
/** The grounding threshold. */
const minScore = setting('minScore', resolveMinScore, 'RAGOSS_MIN_SCORE');
/** How hits link to the docs. */
const linkTemplate = setting('linkTemplate', resolveLinkTemplate, 'RAGOSS_LINK_TEMPLATE');

/**
 * The rerank stage: a URL or model name, or the CLI's resolved object ({target, model, format,
 * apiKey, candidates, budgetMs}); left out, the service's environment; `null`, none.
 */
const rerank: Field<{ rerank?: RerankSettings }> = {
  keys: {
    rerank: {
      wire: z.union([z.string(), z.object({ target: scalar, model: scalar, format: scalar, apiKey: scalar, candidates: scalar, budgetMs: scalar })], { error: 'must be null, a URL or model name, or an object with "target"' }).nullable().optional(),
      nullUnsets: 'RAGOSS_RERANK',
    },
  },
  read(values, env) {
    const wire = values['rerank'] as string | Body | undefined;
    if (wire === undefined || typeof wire === 'string') {
      // The service's key goes only to the service's own reranker, never to a target the caller names.
      const keyed = wire === undefined || wire === env['RAGOSS_RERANK'] ? env : { ...env, RAGOSS_RERANK_API_KEY: undefined };
      const resolved = resolveRerank({ rerank: wire }, keyed);
      return resolved === undefined ? {} : { rerank: resolved };
    }
    const target = text(wire, 'target');
    if (target === undefined) throw new UsageError('"rerank" needs a "target": a /rerank URL or a cross-encoder model name');
    const budgetMs = text(wire, 'budgetMs');
    // The object is the caller's whole choice: what it leaves out stays out. Only the service's own
    // reranker gets the service's key, never a target the caller names.
    const ownKey = target === env['RAGOSS_RERANK'] ? env['RAGOSS_RERANK_API_KEY'] : undefined;
    const resolved = resolveRerank(
      { rerank: target, rerankCandidates: text(wire, 'candidates'), rerankTimeout: budgetMs === undefined ? undefined : `${budgetMs}ms` },
      { RAGOSS_RERANK_MODEL: text(wire, 'model'), RAGOSS_RERANK_FORMAT: text(wire, 'format'), RAGOSS_RERANK_API_KEY: text(wire, 'apiKey') ?? ownKey },
    );
    return resolved === undefined ? {} : { rerank: resolved };
  },
  write: ({ rerank: settings }) => ({ rerank: settings }),
};

/**
 * How ask fills the model's context: `{tokens?, maxHits?}`; left out, the service's environment
 * (RAGOSS_CONTEXT_TOKENS); `null`, the builder's defaults.
 */
const context: Field<{ context?: ContextRequest }> = {
  keys: { context: { wire: z.object({ tokens: scalar, maxHits: scalar }, { error: 'must be null or an object such as {"tokens": 2000, "maxHits": 10}' }).nullable().optional(), nullUnsets: 'RAGOSS_CONTEXT_TOKENS' } },
  read(values, env) {
    const wire = values['context'] as Body | undefined;
    if (wire === undefined) {
      const resolved = resolveContext({}, { RAGOSS_CONTEXT_TOKENS: env['RAGOSS_CONTEXT_TOKENS'] });
      return resolved.tokens === undefined ? {} : { context: resolved };
    }
    return { context: resolveContext({ contextTokens: text(wire, 'tokens'), topK: text(wire, 'maxHits') }, {}) };
  },
  write: ({ context: settings }) => ({ context: settings }),
};

/** The chat endpoint and how to ask it; the key travels only when the caller has one. */
const chat: Field<{ chat: ChatSettings }> = {
  keys: {
    model: { wire: scalar },
    baseUrl: { wire: scalar },
    apiKey: { wire: scalar },
    maxTokens: { wire: scalar, nullUnsets: 'RAGOSS_MAX_TOKENS' },
    reasoningEffort: { wire: scalar, nullUnsets: 'RAGOSS_REASONING_EFFORT' },
    timeout: { wire: scalar },
  },
  read(values, env) {
    const resolved = resolveChatConfig(
      { model: text(values, 'model'), baseUrl: text(values, 'baseUrl'), maxTokens: text(values, 'maxTokens'), reasoningEffort: text(values, 'reasoningEffort'), timeout: text(values, 'timeout') },
      env,
    );
    // Not the null rule, on purpose: a request without a key uses the service's.
    const apiKey = text(values, 'apiKey');
    return { chat: apiKey === undefined || apiKey === '' ? resolved : { ...resolved, apiKey } };
  },
  write: ({ chat: settings }) => ({
    model: settings.model,
    baseUrl: settings.baseUrl,
    apiKey: settings.apiKey,
    maxTokens: settings.maxTokens,
    reasoningEffort: settings.reasoningEffort,
    timeout: settings.timeoutMs / 1000,
  }),
};

const QUESTIONS_SHAPE = 'must be a non-empty array of {"question", "expected": [...]} or {"question", "gold": [...]}';
const questions: Field<{ questions: EvalQuestion[] }> = {
  // The array's error names an empty one too.
  keys: { questions: { wire: z.array(anything, { error: QUESTIONS_SHAPE }).min(1) } },
  read: (values) => ({ questions: (values['questions'] as unknown[]).map((item, index) => parseEvalQuestion(item, `questions[${index}]`)) }),
  write: ({ questions: items }) => ({ questions: items }),
};

/** Where an ingest reads: a URL or an absolute path (the service does not share the caller's working directory). */
const source = setting('source', (value, env) => {
  const resolved = value ?? env['RAGOSS_SOURCE'] ?? DEFAULT_SOURCE_URL;
  if (!/^https?:\/\//i.test(resolved) && !resolved.startsWith('/')) {
    throw new UsageError(`"source" must be a URL or an absolute path, got "${resolved}"`, 'the service does not share your working directory');
  }
  return resolved;
});
const glob = setting('glob', (value, env) => value ?? env['RAGOSS_GLOB'] ?? DEFAULT_GLOB);
const chunker = setting('chunker', resolveChunker);

/** What get reads: a page, or one section (heading) or chunk of it. */
const page: Field<Pick<GetRequest, 'source' | 'heading' | 'chunk'>> = {
  keys: { source: { wire: scalar }, heading: { wire: scalar }, chunk: { wire: scalar } },
  read(values) {
    const named = text(values, 'source')?.trim();
    if (named === undefined || named === '') throw new UsageError('"source" is required', 'send {"source": "en/faq/product_faq.md"}, optionally with "heading" or "chunk"');
    const heading = text(values, 'heading');
    const chunk = chunkIndex(text(values, 'chunk'));
    if (heading !== undefined && chunk !== undefined) throw new UsageError('send "heading" or "chunk", not both');
    return { source: named, ...(heading === undefined ? {} : { heading }), ...(chunk === undefined ? {} : { chunk }) };
  },
  write: ({ source: named, heading, chunk }) => ({ source: named, heading, chunk }),
};

function chunkIndex(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const chunk = Number(value);
  if (value.trim() === '' || !Number.isInteger(chunk) || chunk < 0) throw new UsageError(`"chunk" must be a chunk index (0 or more), got "${value}"`);
  return chunk;
}

const out: Field<{ out: string }> = {
  keys: { out: { wire: scalar } },
  read(values) {
    const path = text(values, 'out');
    if (path === undefined || !path.startsWith('/')) {
      throw new UsageError(`"out" must be an absolute path of the snapshot to write, got ${path === undefined ? 'nothing' : `"${path}"`}`, 'send {"out": "/abs/path/docs.parquet"}');
    }
    return { out: path };
  },
  write: ({ out: path }) => ({ out: path }),
};

/** Every request of the HTTP API, field by field (routes.ts says where each goes). */
export const REQUESTS = {
  search: request<SearchRequest>()(question, target, topK, mode, minScore, linkTemplate, rerank),
  ask: request<AskRequest>()(question, target, topK, mode, minScore, linkTemplate, rerank, chat, flag('force'), flag('cite'), context),
  eval: request<EvalRequest>()(questions, target, topK, mode, minScore, rerank, flag('curve', true), context),
  ingest: request<IngestRequest>()(source, target, glob, chunker, flag('refresh'), flag('replace'), flag('full'), flag('dryRun')),
  export: request<ExportRequest>()(out, collection),
  get: request<GetRequest>()(page, collection, linkTemplate),
  doctor: request<DoctorRequest>()(target, chat),
  calibrate: request<CalibrateRequest>()(target),
};
