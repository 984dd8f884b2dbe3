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
import type { RetrievalMode } from '../store/store.js';
import type { AskRequest, CalibrateRequest, ChatSettings, DoctorRequest, EmbeddingChoice, EvalRequest, ExportRequest, GetRequest, IngestRequest, QueryTarget, SearchRequest } from '../engine/engine.js';
import type { EmbeddingSettings } from '../engine/settings.js';
import { EMBEDDING_DTYPES } from '../embedder/embedder.js';
import { UsageError } from '../errors.js';
import { isHttpUrl } from '../remote/http.js';
import { parseEvalQuestion } from '../pipeline/evaluate.js';

/**
 * The JSON bodies of the HTTP API. Every field but the question is optional: what a body leaves
 * out comes from the service's own environment, then the defaults, as on the command line. The
 * CLI sends everything it resolved, so its flags and environment win.
 */
export interface WireQuery {
  question?: unknown;
  topK?: unknown;
  mode?: unknown;
  collection?: unknown;
  embeddingModel?: unknown;
  minScore?: unknown;
  linkTemplate?: unknown;
}

export interface WireChat {
  model?: unknown;
  baseUrl?: unknown;
  apiKey?: unknown;
  maxTokens?: unknown;
  reasoningEffort?: unknown;
  timeout?: unknown;
}

type Body = Record<string, unknown>;

function optionalString(body: Body, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new UsageError(`"${field}" must be a string`);
}

function target(body: Body, env: Env, own?: EmbeddingSettings): QueryTarget {
  const config = resolveCommonConfig({ collection: optionalString(body, 'collection'), embeddingModel: optionalString(body, 'embeddingModel') }, env);
  const resolved = embeddingTarget(config);
  return { collection: config.collection, embeddingModel: resolved.embeddingModel, ...embeddingOf(body, own ?? resolved.embedding) };
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
 * The caller's embedding settings: absent or `null`, the service's own (unset in the request).
 * The service's embedding key goes only to the service's own server, never to a URL a caller names.
 */
function embeddingOf(body: Body, own: EmbeddingSettings): EmbeddingChoice {
  const wire = body['embedding'];
  if (wire === undefined || wire === null) return {};
  const parsed = embeddingSchema.safeParse(wire);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = ['embedding', ...(issue?.path ?? [])].join('.');
    throw new UsageError(`"${where}" ${issue?.message ?? 'is invalid'}`, 'send {"embedding": {"url": "http://localhost:7997"}} or leave "embedding" out for the service\'s own');
  }
  const fields: WireEmbedding = parsed.data;
  const url = orOwn(fields.url, own.url);
  const server = fields.server ?? {};
  const ownKey = url === own.url ? own.server.apiKey : undefined;
  return {
    embedding: {
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

/** A request's embedding as a body field: sent only when the caller chose one. */
function embeddingField(request: EmbeddingChoice): Body {
  return request.embedding === undefined ? {} : { embedding: wireEmbedding(request.embedding) };
}

function query(body: Body, env: Env, own?: EmbeddingSettings): SearchRequest {
  const question = optionalString(body, 'question');
  if (question === undefined) throw new UsageError('"question" is required', 'send {"question": "How is data stored in milvus?"}');
  return {
    ...target(body, env, own),
    question: validateQuestion(question),
    topK: resolveTopK(optionalString(body, 'topK'), env),
    mode: mode(body, env),
    ...minScoreOf(body, env),
    ...linkTemplateOf(body, env),
    ...rerankOf(body, env),
  };
}

/**
 * The rerank stage: `null` for none (the CLI's "off"), a URL or model name, or the CLI's resolved
 * object ({target, model, format, apiKey, candidates, budgetMs}); absent: the service's environment.
 */
function rerankOf(body: Body, env: Env): Pick<SearchRequest, 'rerank'> {
  const wire = body['rerank'];
  if (wire === null) return {};
  if (wire === undefined || typeof wire === 'string') {
    // The service's key goes only to the service's own reranker, never to a target the caller names.
    const keyed = wire === undefined || wire === env['RAGOSS_RERANK'] ? env : { ...env, RAGOSS_RERANK_API_KEY: undefined };
    const rerank = resolveRerank({ rerank: wire }, keyed);
    return rerank === undefined ? {} : { rerank };
  }
  if (typeof wire !== 'object' || Array.isArray(wire)) throw new UsageError('"rerank" must be null, a URL or model name, or an object with "target"');
  const fields = wire as Body;
  const target = optionalString(fields, 'target');
  if (target === undefined) throw new UsageError('"rerank" needs a "target": a /rerank URL or a cross-encoder model name');
  const budgetMs = optionalString(fields, 'budgetMs');
  // The object is the caller's whole choice: what it leaves out stays out. Only the service's own
  // reranker gets the service's key, never a target the caller names.
  const ownKey = target === env['RAGOSS_RERANK'] ? env['RAGOSS_RERANK_API_KEY'] : undefined;
  const rerank = resolveRerank(
    { rerank: target, rerankCandidates: optionalString(fields, 'candidates'), rerankTimeout: budgetMs === undefined ? undefined : `${budgetMs}ms` },
    {
      RAGOSS_RERANK_MODEL: optionalString(fields, 'model'),
      RAGOSS_RERANK_FORMAT: optionalString(fields, 'format'),
      RAGOSS_RERANK_API_KEY: optionalString(fields, 'apiKey') ?? ownKey,
    },
  );
  return rerank === undefined ? {} : { rerank };
}

/** The grounding threshold: the body's, else the service's environment's (`null`: the CLI's "the default"). */
function minScoreOf(body: Body, env: Env): Pick<SearchRequest, 'minScore'> {
  const minScore = body['minScore'] === null ? undefined : resolveMinScore(optionalString(body, 'minScore'), env);
  return minScore === undefined ? {} : { minScore };
}

/** How hits link to the docs, resolved the same way. */
function linkTemplateOf(body: Body, env: Env): Pick<SearchRequest, 'linkTemplate'> {
  const linkTemplate = body['linkTemplate'] === null ? undefined : resolveLinkTemplate(optionalString(body, 'linkTemplate'), env);
  return linkTemplate === undefined ? {} : { linkTemplate };
}

/**
 * How ask fills the model's context: `{tokens?, maxHits?}`; left out, the service's environment
 * (RAGOSS_CONTEXT_TOKENS); `null`, the builder's defaults.
 */
function contextOf(body: Body, env: Env): Pick<AskRequest, 'context'> {
  const wire = body['context'];
  if (wire === null) return {};
  if (wire === undefined) {
    const context = resolveContext({}, { RAGOSS_CONTEXT_TOKENS: env['RAGOSS_CONTEXT_TOKENS'] });
    return context.tokens === undefined ? {} : { context };
  }
  if (typeof wire !== 'object' || Array.isArray(wire)) throw new UsageError('"context" must be null or an object such as {"tokens": 2000, "maxHits": 10}');
  const fields = wire as Body;
  const context = resolveContext({ contextTokens: optionalString(fields, 'tokens'), topK: optionalString(fields, 'maxHits') }, {});
  return { context };
}

function optionalChunk(body: Body): number | undefined {
  const value = optionalString(body, 'chunk');
  if (value === undefined) return undefined;
  const chunk = Number(value);
  if (value.trim() === '' || !Number.isInteger(chunk) || chunk < 0) throw new UsageError(`"chunk" must be a chunk index (0 or more), got "${value}"`);
  return chunk;
}

/** `null` is the CLI saying "the default" (its user chose no mode): the service's env must not pick one. */
function mode(body: Body, env: Env): RetrievalMode | undefined {
  return body['mode'] === null ? undefined : resolveMode(optionalString(body, 'mode'), env);
}

function chat(body: Body, env: Env): ChatSettings {
  // null: the CLI resolved these to nothing (its user set none), so the service's environment must
  // not fill them in either. The key is different on purpose: a request without one uses the service's.
  const unsetByCaller: Env = {
    ...(body['maxTokens'] === null ? { RAGOSS_MAX_TOKENS: undefined } : {}),
    ...(body['reasoningEffort'] === null ? { RAGOSS_REASONING_EFFORT: undefined } : {}),
  };
  const resolved = resolveChatConfig(
    {
      model: optionalString(body, 'model'),
      baseUrl: optionalString(body, 'baseUrl'),
      maxTokens: optionalString(body, 'maxTokens'),
      reasoningEffort: optionalString(body, 'reasoningEffort'),
      timeout: optionalString(body, 'timeout'),
    },
    { ...env, ...unsetByCaller },
  );
  const apiKey = optionalString(body, 'apiKey');
  return apiKey === undefined || apiKey === '' ? resolved : { ...resolved, apiKey };
}

/**
 * The service's side. `own` is the service's embedding settings, the base of a caller's partial
 * `embedding` (default: as the service's environment resolves them).
 */
export const parseRequest = {
  search: (body: Body, env: Env, own?: EmbeddingSettings): SearchRequest => query(body, env, own),
  ask: (body: Body, env: Env, own?: EmbeddingSettings): AskRequest => ({ ...query(body, env, own), chat: chat(body, env), force: body['force'] === true, cite: body['cite'] === true, ...contextOf(body, env) }),
  get(body: Body, env: Env): GetRequest {
    const source = optionalString(body, 'source')?.trim();
    if (source === undefined || source === '') throw new UsageError('"source" is required', 'send {"source": "en/faq/product_faq.md"}, optionally with "heading" or "chunk"');
    const heading = optionalString(body, 'heading');
    const chunk = optionalChunk(body);
    if (heading !== undefined && chunk !== undefined) throw new UsageError('send "heading" or "chunk", not both');
    return {
      collection: target(body, env).collection,
      source,
      ...(heading === undefined ? {} : { heading }),
      ...(chunk === undefined ? {} : { chunk }),
      ...linkTemplateOf(body, env),
    };
  },
  eval(body: Body, env: Env, own?: EmbeddingSettings): EvalRequest {
    const questions = body['questions'];
    if (!Array.isArray(questions) || questions.length === 0) throw new UsageError('"questions" must be a non-empty array of {"question", "expected": [...]} or {"question", "gold": [...]}');
    const parsed = questions.map((item: unknown, index) => parseEvalQuestion(item, `questions[${index}]`));
    const curve = body['curve'] === true ? { curve: true } : {};
    return { ...target(body, env, own), questions: parsed, topK: resolveTopK(optionalString(body, 'topK'), env), mode: mode(body, env), ...minScoreOf(body, env), ...rerankOf(body, env), ...curve, ...contextOf(body, env) };
  },
  ingest(body: Body, env: Env, own?: EmbeddingSettings): IngestRequest {
    const source = optionalString(body, 'source') ?? env['RAGOSS_SOURCE'] ?? DEFAULT_SOURCE_URL;
    if (!/^https?:\/\//i.test(source) && !source.startsWith('/')) {
      throw new UsageError(`"source" must be a URL or an absolute path, got "${source}"`, 'the service does not share your working directory');
    }
    return {
      ...target(body, env, own),
      source,
      glob: optionalString(body, 'glob') ?? env['RAGOSS_GLOB'] ?? DEFAULT_GLOB,
      chunker: resolveChunker(optionalString(body, 'chunker'), env),
      refresh: body['refresh'] === true,
      replace: body['replace'] === true,
      full: body['full'] === true,
      dryRun: body['dryRun'] === true,
    };
  },
  doctor: (body: Body, env: Env, own?: EmbeddingSettings): DoctorRequest => ({ ...target(body, env, own), chat: chat(body, env) }),
  calibrate: (body: Body, env: Env, own?: EmbeddingSettings): CalibrateRequest => target(body, env, own),
  export(body: Body, env: Env): ExportRequest {
    const out = optionalString(body, 'out');
    if (out === undefined || !out.startsWith('/')) {
      throw new UsageError(`"out" must be an absolute path of the snapshot to write, got ${out === undefined ? 'nothing' : `"${out}"`}`, 'send {"out": "/abs/path/docs.parquet"}');
    }
    return { collection: target(body, env).collection, out };
  },
};

function chatWire(settings: ChatSettings): WireChat {
  return {
    model: settings.model,
    baseUrl: settings.baseUrl,
    apiKey: settings.apiKey,
    maxTokens: settings.maxTokens ?? null,
    reasoningEffort: settings.reasoningEffort ?? null,
    timeout: settings.timeoutMs / 1000,
  };
}

/** What the CLI left to the collection's defaults travels as null, so the service's environment does not fill it. */
function defaultsMarked(request: Pick<SearchRequest, 'mode' | 'minScore' | 'linkTemplate' | 'rerank'>): Body {
  return { mode: request.mode ?? null, minScore: request.minScore ?? null, linkTemplate: request.linkTemplate ?? null, rerank: request.rerank ?? null };
}

/** The CLI's side: a resolved request as a body that `parseRequest` reads back unchanged. */
export const wireRequest = {
  search: (request: SearchRequest): Body => ({ ...request, ...defaultsMarked(request), ...embeddingField(request) }),
  ask: ({ chat: settings, ...rest }: AskRequest): Body => ({ ...rest, ...defaultsMarked(rest), ...chatWire(settings), ...embeddingField(rest), context: rest.context ?? null }),
  eval: (request: EvalRequest): Body => ({ ...request, mode: request.mode ?? null, minScore: request.minScore ?? null, rerank: request.rerank ?? null, ...embeddingField(request), context: request.context ?? null }),
  ingest: (request: IngestRequest): Body => ({ ...request, ...embeddingField(request) }),
  export: (request: ExportRequest): Body => ({ ...request }),
  get: (request: GetRequest): Body => ({ ...request, linkTemplate: request.linkTemplate ?? null }),
  doctor: ({ chat: settings, ...rest }: DoctorRequest): Body => ({ ...rest, ...chatWire(settings), ...embeddingField(rest) }),
  calibrate: (request: CalibrateRequest): Body => ({ ...request, ...embeddingField(request) }),
};
