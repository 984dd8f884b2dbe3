import {
  DEFAULT_GLOB,
  DEFAULT_SOURCE_URL,
  resolveChatConfig,
  resolveChunker,
  resolveCommonConfig,
  resolveLinkTemplate,
  resolveMinScore,
  resolveMode,
  resolveRerank,
  resolveTopK,
  validateQuestion,
  type Env,
} from '../config.js';
import type { RetrievalMode } from '../store/store.js';
import type { AskRequest, CalibrateRequest, ChatSettings, DoctorRequest, EvalRequest, ExportRequest, GetRequest, IngestRequest, QueryTarget, SearchRequest } from '../engine/engine.js';
import { UsageError } from '../errors.js';
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

function target(body: Body, env: Env): QueryTarget {
  const config = resolveCommonConfig({ collection: optionalString(body, 'collection'), embeddingModel: optionalString(body, 'embeddingModel') }, env);
  return { collection: config.collection, embeddingModel: config.embedding.explicitModel };
}

function query(body: Body, env: Env): SearchRequest {
  const question = optionalString(body, 'question');
  if (question === undefined) throw new UsageError('"question" is required', 'send {"question": "How is data stored in milvus?"}');
  return {
    ...target(body, env),
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

export const parseRequest = {
  search: (body: Body, env: Env): SearchRequest => query(body, env),
  ask: (body: Body, env: Env): AskRequest => ({ ...query(body, env), chat: chat(body, env), force: body['force'] === true, cite: body['cite'] === true }),
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
  eval(body: Body, env: Env): EvalRequest {
    const questions = body['questions'];
    if (!Array.isArray(questions) || questions.length === 0) throw new UsageError('"questions" must be a non-empty array of {"question", "expected": [...]} or {"question", "gold": [...]}');
    const parsed = questions.map((item: unknown, index) => parseEvalQuestion(item, `questions[${index}]`));
    const curve = body['curve'] === true ? { curve: true } : {};
    return { ...target(body, env), questions: parsed, topK: resolveTopK(optionalString(body, 'topK'), env), mode: mode(body, env), ...minScoreOf(body, env), ...rerankOf(body, env), ...curve };
  },
  ingest(body: Body, env: Env): IngestRequest {
    const source = optionalString(body, 'source') ?? env['RAGOSS_SOURCE'] ?? DEFAULT_SOURCE_URL;
    if (!/^https?:\/\//i.test(source) && !source.startsWith('/')) {
      throw new UsageError(`"source" must be a URL or an absolute path, got "${source}"`, 'the service does not share your working directory');
    }
    return {
      ...target(body, env),
      source,
      glob: optionalString(body, 'glob') ?? env['RAGOSS_GLOB'] ?? DEFAULT_GLOB,
      chunker: resolveChunker(optionalString(body, 'chunker'), env),
      refresh: body['refresh'] === true,
      replace: body['replace'] === true,
      full: body['full'] === true,
      dryRun: body['dryRun'] === true,
    };
  },
  doctor: (body: Body, env: Env): DoctorRequest => ({ ...target(body, env), chat: chat(body, env) }),
  calibrate: (body: Body, env: Env): CalibrateRequest => target(body, env),
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
  search: (request: SearchRequest): Body => ({ ...request, ...defaultsMarked(request) }),
  ask: ({ chat: settings, ...rest }: AskRequest): Body => ({ ...rest, ...defaultsMarked(rest), ...chatWire(settings) }),
  eval: (request: EvalRequest): Body => ({ ...request, mode: request.mode ?? null, minScore: request.minScore ?? null, rerank: request.rerank ?? null }),
  ingest: (request: IngestRequest): Body => ({ ...request }),
  export: (request: ExportRequest): Body => ({ ...request }),
  get: (request: GetRequest): Body => ({ ...request, linkTemplate: request.linkTemplate ?? null }),
  doctor: ({ chat: settings, ...rest }: DoctorRequest): Body => ({ ...rest, ...chatWire(settings) }),
  calibrate: (request: CalibrateRequest): Body => ({ ...request }),
};
