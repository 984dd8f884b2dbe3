import { requireChatKey } from '../answerer/chat.js';
import { buildCitedMessages, buildMessages, citedPassages } from '../answerer/prompt.js';
import { chatTokenCounter } from '../answerer/tokens.js';
import { chunkUrl } from '../corpus/links.js';
import { displayUrl } from '../corpus/download.js';
import { DEFAULT_EMBEDDING_MODEL, type Embedder } from '../embedder/embedder.js';
import { ExitCode, RagossError } from '../errors.js';
import { answerQuestion } from '../pipeline/answer.js';
import { buildContext, DEFAULT_CONTEXT_HITS, DEFAULT_CONTEXT_TOKENS, type ContextBudget, type ContextParts } from '../pipeline/context.js';
import { evaluate as evaluateQuestions } from '../pipeline/evaluate.js';
import { closerToProbe, groundingLine, judge, type Grounding, type NearestProbe } from '../pipeline/grounding.js';
import { pagePart, resolveSource, type PageTarget } from '../pipeline/pages.js';
import { rerankHits } from '../pipeline/rerank.js';
import { retrieveByVector, type RankedHit } from '../pipeline/retrieve.js';
import { silentProgress, type Progress } from '../progress.js';
import { displayEndpoint } from '../remote/http.js';
import type { Reranker } from '../rerank/reranker.js';
import type { CollectionInfo, RetrievalMode, VectorStore } from '../store/store.js';
import type * as api from './engine.js';
import { localModel, modelOnDisk, type EmbedderSpec, type EngineResources } from './resources.js';
import { defaultMode, type EmbeddingSettings } from './settings.js';

/** What a question is asked of: the store, the collection as described, and the model its chunks were embedded with. */
export interface QueryParts {
  store: VectorStore;
  info: CollectionInfo;
  embedder: Embedder;
}

/**
 * How questions are asked of a collection, the same for `search` and `evaluate`: the retrieval
 * mode, the "not in the docs" line, and the rerank stage (loaded on first use).
 */
interface QueryPlan extends QueryParts {
  collection: string;
  mode: RetrievalMode;
  line: ReturnType<typeof groundingLine>;
  /** The nearest-probe check, read beside the collection's calibrated line (not beside --min-score or a default). */
  nearestProbe?: (vector: Float32Array) => Promise<NearestProbe | undefined>;
  rerank?: { settings: api.RerankSettings; reranker: () => Promise<Reranker> };
  signal: AbortSignal;
}

/** One question's top k: retrieved, judged against the line, and reranked when a stage is set. */
interface Ranked {
  hits: RankedHit[];
  grounding: Grounding;
  /** Why the rerank stage kept the retrieval order. */
  fallback?: string;
}

export async function search(pool: EngineResources, request: api.SearchRequest, context: api.OperationContext): Promise<api.SearchResult> {
  return searchWith(pool, await queryParts(pool, request, context), request, context);
}

/** `search` with the store, collection and model already at hand (`ask` has them for its budget). */
async function searchWith(pool: EngineResources, parts: QueryParts, request: api.SearchRequest, context: api.OperationContext): Promise<api.SearchResult> {
  const { embedder } = parts;
  const { tokens, maxTokens } = embedder.tokenBudget(request.question);
  if (tokens > maxTokens) {
    context.progress.warn(`the question is ${tokens} tokens; ${embedder.modelName} reads only the first ${maxTokens} for retrieval (the chat model gets all of it)`);
  }
  const plan = queryPlan(pool, parts, request, context);
  const { info, mode } = plan;
  const ranked = await rankedHits(plan, request.question, await embedder.embedQuery(request.question), request.topK);
  const result = { question: request.question, embeddingModel: info.embeddingModel, mode, ...ranked.grounding };
  const hits = ranked.hits.map((hit) => withUrl(hit, info, request.linkTemplate));
  if (plan.rerank === undefined) return { ...result, hits };
  const { fallback } = ranked;
  if (fallback !== undefined) context.progress.warn(`reranking skipped (${fallback}); the ${mode} order stands`);
  const outcome = { by: (await plan.rerank.reranker()).name, candidates: rerankPool(request.topK, plan.rerank.settings), ...(fallback === undefined ? {} : { fallback }) };
  return { ...result, hits, rerank: outcome };
}

export async function ask(pool: EngineResources, request: api.AskRequest, context: api.AskContext): Promise<api.AskResult> {
  const { chat } = request;
  requireChatKey(chat.baseUrl, chat.apiKey);
  const parts = await queryParts(pool, request, context);
  const { store, info } = parts;
  const budget = contextBudget(request, info);
  // The builder reads more hits than the seed's top 3: --top-k caps them.
  const searched = await searchWith(pool, parts, budget === undefined ? request : { ...request, topK: budget.maxHits }, context);
  const { hits, grounded, similarity, threshold, thresholdSource, nearestProbe, refusedBy } = searched;
  const grounding = { grounded, similarity, threshold, thresholdSource, nearestProbe, refusedBy };
  // Off the docs, the model would answer from what it knows: say so instead, unless asked anyway.
  if (!grounded && !request.force) {
    return { question: request.question, answer: '', reasoning: '', model: chat.model, answered: false, ...grounding, hits, ...(searched.rerank === undefined ? {} : { rerank: searched.rerank }) };
  }
  const sent = budget === undefined ? undefined : await sentContext(request, hits, budget, store, info);
  const passages = sent?.passages ?? hits;
  context.progress.step(`asking ${chat.model} at ${displayUrl(chat.baseUrl)}${sent === undefined ? '' : ` (${sent.passages.length} passages, ${sent.promptTokens} prompt tokens)`}`);
  const result = await answerQuestion(request.question, passages, pool.chatEndpoint(request.chat), {
    model: chat.model,
    maxTokens: chat.maxTokens,
    reasoningEffort: chat.reasoningEffort,
    cite: request.cite,
    signal: context.signal,
    onDelta: context.onDelta,
  });
  return {
    question: request.question,
    answer: result.answer,
    reasoning: result.reasoning,
    model: result.model,
    answered: true,
    ...grounding,
    hits,
    ...(request.cite ? { cited: citedPassages(result.answer, passages.length) } : {}),
    ...(searched.rerank === undefined ? {} : { rerank: searched.rerank }),
    ...(sent === undefined ? {} : { context: sent }),
  };
}

/** The passages the builder makes from the hits, and what they and the whole prompt cost in tokens. */
async function sentContext(request: api.AskRequest, hits: readonly RankedHit[], budget: ContextBudget, store: VectorStore, info: CollectionInfo): Promise<api.SentContext> {
  const countTokens = await chatTokenCounter();
  const built = await buildContext(hits, budget, contextParts(store, info, request.linkTemplate, countTokens));
  const messages = request.cite ? buildCitedMessages(request.question, built.passages) : buildMessages(request.question, built.passages);
  const promptTokens = messages.reduce((sum, message) => sum + countTokens(message.content), 0);
  return { passages: built.passages, tokens: built.tokens, promptTokens, budget: budget.tokens };
}

export async function get(pool: EngineResources, request: api.GetRequest, context: api.OperationContext): Promise<api.GetResult> {
  const store = await pool.store(context.progress, context.signal);
  const info = await pool.describe(store, request.collection);
  if (!info.pageText) throw new RagossError(`collection ${info.name} was made before ragoss stored each chunk's place in its page`, reingestHint(info));
  // The common case, a source as search printed it, costs one query; anything else lists the sources.
  let chunks = await store.pageChunks(info.physicalName, request.source);
  let target: PageTarget = { source: request.source };
  if (chunks.length === 0) {
    const sources = [...new Set((await store.chunkKeys(info.physicalName)).map((key) => key.source))];
    target = resolveSource(request.source, sources);
    chunks = await store.pageChunks(info.physicalName, target.source);
  }
  const part = pagePart(target.source, chunks, { heading: request.heading, chunk: request.chunk, anchor: target.anchor, line: target.line });
  const url = chunkUrl({ source: target.source, heading: part.scope === 'page' ? '' : part.heading, line: part.line }, info.corpus, request.linkTemplate);
  return { collection: info.name, source: target.source, ...part, ...(url === undefined ? {} : { url }) };
}

export async function evaluate(pool: EngineResources, request: api.EvalRequest, context: api.OperationContext): Promise<api.EvalResult> {
  const plan = queryPlan(pool, await queryParts(pool, request, context), request, context);
  const { store, info, embedder, mode, line } = plan;
  // Every question embedded up front, in batches (and once across the modes an eval compares).
  const vectors = await pool.queryVectors.embed(embedder, request.questions.map((item) => item.question));
  const vectorOf = new Map(request.questions.map((item, index) => [item.question, vectors[index] as Float32Array]));
  const reranker = plan.rerank === undefined ? undefined : await plan.rerank.reranker();
  let fallbacks = 0;
  // What `ask` would send: the context builder's passages from its own hits, or the top k.
  const budget = contextBudget(request, info);
  const countTokens = budget === undefined ? undefined : await chatTokenCounter();
  const sentFor = async (question: string, vector: Float32Array, topHits: RankedHit[]) => {
    const passages = budget === undefined || countTokens === undefined ? topHits : (await buildContext((await rankedHits(plan, question, vector, budget.maxHits)).hits, budget, contextParts(store, info, undefined, countTokens))).passages;
    return { passages, promptChars: buildMessages(question, passages).reduce((sum, message) => sum + message.content.length, 0) };
  };
  // The top k as `search` finds them (and reranks them), or as `ask` does for its context builder.
  const report = await evaluateQuestions(request.questions, request.topK, async (question) => {
    context.signal.throwIfAborted();
    const vector = vectorOf.get(question) as Float32Array;
    const { hits, grounding, fallback } = await rankedHits(plan, question, vector, request.topK);
    if (fallback !== undefined) fallbacks++;
    const { grounded, similarity, refusedBy, nearestProbe } = grounding;
    return { hits, grounded, similarity, refusedBy, closerToProbe: closerToProbe(similarity, nearestProbe), sent: await sentFor(question, vector, hits) };
  }, { curve: request.curve ?? false });
  // One line for the run, not one a question: the figures above then measure the retrieval order for those.
  if (fallbacks > 0) context.progress.warn(`reranking fell back to the ${mode} order on ${fallbacks} of ${request.questions.length} questions`);
  const reranking = reranker === undefined ? {} : { rerank: { by: reranker.name, candidates: rerankPool(request.topK, request.rerank), fallbacks } };
  const contextSettings = budget === undefined ? {} : { contextBudget: { tokens: budget.tokens, maxHits: budget.maxHits } };
  const calibration = info.grounding === undefined ? {} : { calibration: info.grounding };
  return { embeddingModel: info.embeddingModel, chunker: info.chunker, mode, threshold: line.threshold ?? null, thresholdSource: line.source, ...calibration, ...reranking, ...contextSettings, ...report };
}

/**
 * How to rebuild a collection from the docs it was built from (a bare `ragoss ingest` would
 * ingest the default FAQ into it instead); unchanged chunks keep their vectors.
 */
export function reingestHint(info: CollectionInfo): string {
  const from = info.corpus === undefined ? ' with the --source and --glob it was built from' : ` --source '${info.corpus.source}' --glob '${info.corpus.glob}'`;
  return `re-ingest it: ragoss ingest --collection ${info.name}${from} --chunker ${info.chunker} (unchanged chunks keep their vectors)`;
}

/** Milvus connected, the collection checked, and the question model loaded (in parallel). */
export async function queryParts(pool: EngineResources, target: api.QueryTarget, context: api.OperationContext): Promise<QueryParts> {
  const guess = target.embeddingModel ?? DEFAULT_EMBEDDING_MODEL;
  const embedding = pool.embeddingOf(target);
  // Start loading the model the collection most likely uses while Milvus connects. Only a model
  // already on disk is guessed at, so a wrong guess never downloads anything.
  if (embedding.url === undefined && modelOnDisk(guess, embedding) && !pool.storeRefusesUs()) pool.embedder(localModel(guess, embedding), silentProgress).catch(() => undefined);
  const store = await pool.store(context.progress, context.signal);
  const info = await pool.describe(store, target.collection);
  const embedder = await queryEmbedder(pool, target, info, context.progress);
  context.signal.throwIfAborted();
  return { store, info, embedder };
}

/** The plan `search` and `evaluate` share; picking the mode may warn (see `availableMode`). */
function queryPlan(pool: EngineResources, parts: QueryParts, request: Pick<api.SearchRequest, 'collection' | 'mode' | 'minScore' | 'rerank' | 'embedding'>, context: api.OperationContext): QueryPlan {
  const mode = availableMode(request.mode, parts.info, context.progress);
  const line = groundingLine(request.minScore, parts.info);
  const { rerank: settings } = request;
  const rerank = settings === undefined ? undefined : { settings, reranker: () => pool.reranker(settings, pool.embeddingOf(request), context.progress) };
  const probeCheck = line.source === 'collection' ? { nearestProbe: (vector: Float32Array) => pool.probeVectors.nearest(parts.embedder, vector) } : {};
  return { ...parts, collection: request.collection, mode, line, ...probeCheck, ...(rerank === undefined ? {} : { rerank }), signal: context.signal };
}

/** The retrieve → judge → rerank path: the top k of one question already embedded. */
async function rankedHits(plan: QueryPlan, question: string, vector: Float32Array, topK: number): Promise<Ranked> {
  const { rerank } = plan;
  const [retrieved, probe] = await Promise.all([
    retrieveByVector(question, vector, plan.store, { collection: plan.collection, topK: rerankPool(topK, rerank?.settings), mode: plan.mode }),
    plan.nearestProbe?.(vector),
  ]);
  const grounding = judge(retrieved.similarity, plan.line, probe);
  if (rerank === undefined) return { hits: retrieved.hits, grounding };
  const reranked = await rerankHits(question, retrieved.hits, await rerank.reranker(), { topK, budgetMs: rerank.settings.budgetMs, signal: plan.signal });
  return { hits: reranked.hits, grounding, ...(reranked.fallback === undefined ? {} : { fallback: reranked.fallback }) };
}

/** Questions must be embedded with the model the collection was built with. */
async function queryEmbedder(pool: EngineResources, target: api.QueryTarget, info: CollectionInfo, progress: Progress): Promise<Embedder> {
  const explicit = target.embeddingModel;
  if (explicit !== undefined && explicit !== info.embeddingModel) {
    throw new RagossError(
      `collection ${info.name} was built with ${info.embeddingModel}, not ${explicit}`,
      `drop --embedding-model (ragoss reads it from the collection) or re-ingest with --embedding-model ${explicit} --replace`,
      ExitCode.usage,
    );
  }
  const embedder = await pool.embedder(questionModel(info, pool.embeddingOf(target)), progress);
  if (embedder.dimension !== info.dimension) {
    throw new RagossError(
      `collection ${info.name} holds ${info.dimension}-dim vectors but ${embedder.modelName} makes ${embedder.dimension}-dim ones`,
      're-ingest with --replace, or use the model the collection was built with',
    );
  }
  return embedder;
}

/**
 * Questions are embedded as the collection's chunks were: through a server when it was built
 * through one (the one set here, else the one it records), locally otherwise.
 */
function questionModel(info: CollectionInfo, settings: EmbeddingSettings): EmbedderSpec {
  const { url } = settings;
  if (info.embeddingEndpoint !== undefined) return { kind: 'endpoint', url: url ?? info.embeddingEndpoint, modelName: info.embeddingModel, settings };
  if (url !== undefined) {
    throw new RagossError(
      `collection ${info.name} was embedded by the local model ${info.embeddingModel}, so its questions must be too, not through ${displayEndpoint(url)}`,
      'unset RAGOSS_EMBEDDING_URL (or drop --embedding-url), or re-ingest through the server with --replace',
      ExitCode.usage,
    );
  }
  return localModel(info.embeddingModel, settings);
}

/**
 * No mode chosen: the collection's default. BM25 needs the collection's full-text index; without
 * one, a chosen bm25 or hybrid runs dense, with a warning.
 */
function availableMode(requested: RetrievalMode | undefined, info: CollectionInfo, progress: Progress): RetrievalMode {
  if (requested === undefined) return defaultMode(info);
  if (requested === 'dense' || info.fullText) return requested;
  progress.warn(
    `collection ${info.name} has no full-text (BM25) index, so ${requested} search runs as dense — ` +
      're-ingest on Milvus Lite 3.2+ or Milvus 2.5+ to add one, or leave out --mode / RAGOSS_MODE',
  );
  return 'dense';
}

/** What the context builder reads: the collection's pages, gpt-oss's token count, and links. */
function contextParts(store: VectorStore, info: CollectionInfo, linkTemplate: string | undefined, countTokens: (text: string) => number): ContextParts {
  return {
    pageChunks: (source) => store.pageChunks(info.physicalName, source),
    countTokens,
    urlOf: (place) => chunkUrl(place, info.corpus, linkTemplate),
  };
}

/**
 * Whether `ask` fills a token budget (pipeline/context.ts): on markdown collections always, on
 * others when asked for one; never on a collection whose chunks do not carry their pages' bytes.
 */
function contextBudget(request: Pick<api.AskRequest, 'context'>, info: CollectionInfo): ContextBudget | undefined {
  const asked = request.context;
  if (!info.pageText || (info.chunker !== 'markdown' && asked?.tokens === undefined)) return undefined;
  return { tokens: asked?.tokens ?? DEFAULT_CONTEXT_TOKENS, maxHits: asked?.maxHits ?? DEFAULT_CONTEXT_HITS };
}

/** How many hits to retrieve for the top k: with a rerank stage, its candidates too. */
function rerankPool(topK: number, rerank: api.RerankSettings | undefined): number {
  return rerank === undefined ? topK : Math.max(topK, rerank.candidates);
}

/** A hit with the link where a reader can check it, when ragoss can tell one. */
function withUrl(hit: RankedHit, info: CollectionInfo, linkTemplate: string | undefined): RankedHit {
  const url = chunkUrl(hit, info.corpus, linkTemplate);
  return url === undefined ? hit : { ...hit, url };
}
