import { join } from 'node:path';
import { OpenAIChatEndpoint, requireChatKey, type ChatEndpoint } from '../answerer/chat.js';
import { DEFAULT_EMBEDDING_MODEL } from '../embedder/embedder.js';
import { describeLocation } from '../store/location.js';
import { defaultMode, type EmbeddingSettings, type EngineSettings } from './settings.js';
import type { ChunkerName, TokenLimit } from '../corpus/chunk.js';
import { displayUrl, download } from '../corpus/download.js';
import { displayEndpoint, isHttpUrl } from '../remote/http.js';
import { corpusDigest, isUrl, loadCorpus } from '../corpus/source.js';
import type { Embedder } from '../embedder/embedder.js';
import { QueryVectors } from '../embedder/query-vectors.js';
import { modelIsLocal } from '../embedder/transformers.js';
import { ExitCode, RagossError } from '../errors.js';
import { answerQuestion } from '../pipeline/answer.js';
import { evaluate } from '../pipeline/evaluate.js';
import { chunkDocuments, ingestChunks } from '../pipeline/ingest.js';
import { calibrateStored } from '../pipeline/calibrate.js';
import { retrieve, retrieveByVector, type RankedHit } from '../pipeline/retrieve.js';
import { rerankHits } from '../pipeline/rerank.js';
import type { Reranker } from '../rerank/reranker.js';
import { drawnByCurrentRule, groundingLine, judge } from '../pipeline/grounding.js';
import { GROUNDING_PROBES } from '../pipeline/grounding-probes.js';
import { pagePart, resolveSource, type PageTarget } from '../pipeline/pages.js';
import { buildCitedMessages, buildMessages, citedPassages } from '../answerer/prompt.js';
import { chatTokenCounter } from '../answerer/tokens.js';
import { buildContext, DEFAULT_CONTEXT_HITS, DEFAULT_CONTEXT_TOKENS, type ContextBudget, type ContextParts } from '../pipeline/context.js';
import { chunkUrl } from '../corpus/links.js';
import { isSnapshotPath } from '../snapshot/path.js';
import { packageVersion } from '../version.js';
import { silentProgress, type Progress } from '../progress.js';
import { openStore } from '../store/open.js';
import { heldByLiveService, type DataHolder } from '../store/data-lock.js';
import { notIngestedError, type CollectionInfo, type RetrievalMode, type VectorStore } from '../store/store.js';
import { runDoctor } from './doctor.js';
import type {
  AskContext,
  AskRequest,
  AskResult,
  CalibrateRequest,
  CalibrateResult,
  DoctorReport,
  DoctorRequest,
  EmbeddingChoice,
  Engine,
  EvalRequest,
  EvalResult,
  ExportRequest,
  ExportResult,
  GetRequest,
  GetResult,
  IngestRequest,
  IngestResult,
  OperationContext,
  QueryTarget,
  RerankSettings,
  SearchRequest,
  SearchResult,
  SentContext,
} from './engine.js';

/** The key under which model loads take turns (see loadEmbedder). */
const MODEL_SOURCE = 'model-source';
/** Rows inserted per Milvus call; also how many chunks are held in memory at once. */
const INSERT_BATCH = 256;
/** How long a described collection is trusted; see `describe`. */
const DESCRIBE_TTL_MS = 5000;

/**
 * The engine in this process. Resources open on first use and stay open until `close`: a CLI
 * command closes it when done (cold), the service keeps one for its whole life (warm). Every cache
 * forgets a failed attempt, so a long-lived engine retries instead of serving the old error.
 */
export class LocalEngine implements Engine {
  private storePromise: Promise<VectorStore> | undefined;
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private readonly loaded = new Set<string>();
  private readonly chatEndpoints = new Map<string, ChatEndpoint>();
  private readonly queryVectors = new QueryVectors();
  private readonly rerankers = new Map<string, Promise<Reranker>>();
  private readonly turns = new Map<string, Promise<unknown>>();
  /** What each collection holds (model, dimension), as last described: saves three Milvus calls a query. */
  private readonly described = new Map<string, { info: CollectionInfo; at: number }>();

  /** `holder`: 'service' in the ragoss service, whose hold on embedded data commands do not wait out. */
  constructor(
    readonly settings: EngineSettings,
    private readonly holder: DataHolder = 'command',
  ) {}

  /** Models loaded and kept, by name. */
  loadedModels(): string[] {
    return [...this.loaded].sort();
  }

  /** Opens Milvus and loads the model the collection was built with, so the first request is fast. */
  async warmUp(collection: string, progress: Progress, signal: AbortSignal): Promise<void> {
    const store = await this.store(progress, signal);
    const info = await store.describe(collection);
    const { embedding } = this.settings;
    if (info?.embeddingEndpoint !== undefined || embedding.url !== undefined) return;
    const modelName = info?.embeddingModel ?? DEFAULT_EMBEDDING_MODEL;
    if (modelOnDisk(modelName, embedding)) await this.embedder(localModel(modelName, embedding), progress);
  }

  async search(request: SearchRequest, context: OperationContext): Promise<SearchResult> {
    const { store, info, embedder } = await this.queryParts(request, context);
    const { tokens, maxTokens } = embedder.tokenBudget(request.question);
    if (tokens > maxTokens) {
      context.progress.warn(`the question is ${tokens} tokens; ${embedder.modelName} reads only the first ${maxTokens} for retrieval (the chat model gets all of it)`);
    }
    const mode = availableMode(request.mode, info, context.progress);
    const { rerank } = request;
    const candidates = rerankPool(request.topK, rerank);
    const retrieved = await retrieve(request.question, embedder, store, { collection: request.collection, topK: candidates, mode });
    const grounding = judge(retrieved.similarity, groundingLine(request.minScore, info));
    const result = { question: request.question, embeddingModel: info.embeddingModel, mode, ...grounding };
    if (rerank === undefined) return { ...result, hits: retrieved.hits.map((hit) => withUrl(hit, info, request.linkTemplate)) };
    const reranker = await this.reranker(rerank, this.embeddingOf(request), context.progress);
    const { hits, fallback } = await rerankHits(request.question, retrieved.hits, reranker, { topK: request.topK, budgetMs: rerank.budgetMs, signal: context.signal });
    if (fallback !== undefined) context.progress.warn(`reranking skipped (${fallback}); the ${mode} order stands`);
    const outcome = { by: reranker.name, candidates, ...(fallback === undefined ? {} : { fallback }) };
    return { ...result, hits: hits.map((hit) => withUrl(hit, info, request.linkTemplate)), rerank: outcome };
  }

  async ask(request: AskRequest, context: AskContext): Promise<AskResult> {
    const { chat } = request;
    requireChatKey(chat.baseUrl, chat.apiKey);
    const { store, info } = await this.queryParts(request, context);
    const budget = contextBudget(request, info);
    // The builder reads more hits than the seed's top 3: --top-k caps them.
    const searched = await this.search(budget === undefined ? request : { ...request, topK: budget.maxHits }, context);
    const { hits, grounded, similarity, threshold, thresholdSource } = searched;
    const grounding = { grounded, similarity, threshold, thresholdSource };
    // Off the docs, the model would answer from what it knows: say so instead, unless asked anyway.
    if (!grounded && !request.force) {
      return { question: request.question, answer: '', reasoning: '', model: chat.model, answered: false, ...grounding, hits, ...(searched.rerank === undefined ? {} : { rerank: searched.rerank }) };
    }
    const sent = budget === undefined ? undefined : await this.sentContext(request, hits, budget, store, info);
    const passages = sent?.passages ?? hits;
    context.progress.step(`asking ${chat.model} at ${displayUrl(chat.baseUrl)}${sent === undefined ? '' : ` (${sent.passages.length} passages, ${sent.promptTokens} prompt tokens)`}`);
    const result = await answerQuestion(request.question, passages, this.chatEndpoint(request.chat), {
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
  private async sentContext(request: AskRequest, hits: readonly RankedHit[], budget: ContextBudget, store: VectorStore, info: CollectionInfo): Promise<SentContext> {
    const countTokens = await chatTokenCounter();
    const built = await buildContext(hits, budget, contextParts(store, info, request.linkTemplate, countTokens));
    const messages = request.cite ? buildCitedMessages(request.question, built.passages) : buildMessages(request.question, built.passages);
    const promptTokens = messages.reduce((sum, message) => sum + countTokens(message.content), 0);
    return { passages: built.passages, tokens: built.tokens, promptTokens, budget: budget.tokens };
  }

  async get(request: GetRequest, context: OperationContext): Promise<GetResult> {
    const store = await this.store(context.progress, context.signal);
    const info = await this.describe(store, request.collection);
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

  async ingest(request: IngestRequest, context: OperationContext): Promise<IngestResult> {
    if (isSnapshotPath(isUrl(request.source) ? new URL(request.source).pathname : request.source)) return this.importSnapshot(request, context);
    const started = performance.now();
    const { progress, signal } = context;
    const documents = await loadCorpus({ source: request.source, glob: request.glob, home: this.settings.home, progress, refresh: request.refresh, signal });
    const shownSource = isUrl(request.source) ? displayUrl(request.source) : request.source;
    // The markdown chunker sizes chunks by the model's tokenizer, so even a dry run loads it.
    const needsModel = !request.dryRun || request.chunker === 'markdown';
    // Refused by the store within seconds: do not make the refusal wait on a model load first.
    if (!request.dryRun && this.storeRefusesUs()) await this.store(progress, signal);
    const loading = needsModel ? this.embedder(this.ingestModel(request), progress) : undefined;
    loading?.catch(() => undefined);
    const cut = async () => {
      if (request.chunker === 'markdown') progress.step(`cutting ${documents.length} files at their headings (markdown chunker)`);
      return chunkDocuments(documents, request.chunker, loading === undefined ? undefined : tokenLimit(await loading));
    };
    if (request.dryRun) {
      const chunks = await cut();
      const files = documents.map((document) => ({ path: document.path, chunks: chunks.filter((chunk) => chunk.source === document.path).length }));
      return { dryRun: true, source: shownSource, glob: request.glob, files, totalFiles: files.length, totalChunks: chunks.length };
    }
    // The model loads while Milvus connects: each takes about a second.
    const store = await this.store(progress, signal);
    const embedder = await (loading as Promise<Embedder>);
    const chunks = await cut();
    // Two ingests into one collection would drop each other's new data: they take turns.
    const stats = await this.exclusive(`ingest:${request.collection}`, () =>
      ingestChunks(chunks, {
        collection: request.collection,
        embedder,
        store,
        progress,
        replace: request.replace,
        chunker: request.chunker,
        batchSize: INSERT_BATCH,
        full: request.full,
        corpus: { source: shownSource, glob: request.glob, digest: corpusDigest(documents) },
        signal,
      }).finally(() => this.described.delete(request.collection)),
    );
    return {
      dryRun: false,
      source: shownSource,
      files: documents.length,
      chunks: stats.chunks,
      collection: request.collection,
      milvus: describeLocation(this.settings.location),
      embeddingModel: embedder.modelName,
      ...(embedder.endpoint === undefined ? {} : { embeddingEndpoint: embedder.endpoint }),
      dimension: embedder.dimension,
      chunker: request.chunker,
      ...builtCollection(await this.describe(store, request.collection)),
      embeddedChunks: stats.embedded,
      reusedChunks: stats.reused,
      seconds: round2((performance.now() - started) / 1000),
      embedSeconds: round2(stats.embedSeconds),
      insertSeconds: round2(stats.insertSeconds),
    };
  }

  /** A snapshot's chunks and vectors into the collection: no model loads, nothing is embedded. */
  private async importSnapshot(request: IngestRequest, context: OperationContext): Promise<IngestResult> {
    const started = performance.now();
    const { progress, signal } = context;
    if (request.dryRun) throw new RagossError('--dry-run reads docs, not snapshots', 'drop --dry-run to import the snapshot', ExitCode.usage);
    // A published snapshot (a release asset, an artifact URL) is downloaded and cached like the docs zip.
    const path = isUrl(request.source)
      ? (await download(request.source, { cacheDir: join(this.settings.home, 'downloads'), progress, refresh: request.refresh, signal })).path
      : request.source;
    const store = await this.store(progress, signal);
    // Imported here, not at the top: the Parquet libraries load only for snapshot work.
    const { importSnapshot } = await import('../pipeline/snapshot.js');
    const stats = await this.exclusive(`ingest:${request.collection}`, () =>
      importSnapshot(path, {
        collection: request.collection,
        store,
        progress,
        replace: request.replace,
        embeddingModel: request.embeddingModel,
        embeddingDtype: this.embeddingOf(request).dtype,
        embeddingUrl: this.embeddingOf(request).url,
        signal,
      }).finally(() => this.described.delete(request.collection)),
    );
    const { manifest } = stats;
    if (manifest.grounding !== undefined && !drawnByCurrentRule(manifest.grounding, GROUNDING_PROBES.length)) {
      progress.warn(`snapshot ${path} carries a "not in the docs" line drawn another way than this ragoss draws it (${manifest.grounding.method}) — run \`ragoss calibrate --collection ${request.collection}\` to redraw it`);
    }
    if (manifest.grounding === undefined) {
      progress.warn(`snapshot ${path} carries no grounding calibration (an older ragoss exported it), so the model's default line applies — run \`ragoss calibrate --collection ${request.collection}\` to draw the collection's own`);
    }
    return {
      dryRun: false,
      source: isUrl(request.source) ? displayUrl(request.source) : request.source,
      files: stats.files,
      chunks: manifest.rows,
      collection: request.collection,
      milvus: describeLocation(this.settings.location),
      embeddingModel: manifest.embeddingModel,
      dimension: manifest.dimension,
      chunker: manifest.chunker as ChunkerName,
      ...builtCollection(await this.describe(store, request.collection)),
      embeddedChunks: 0,
      reusedChunks: 0,
      seconds: round2((performance.now() - started) / 1000),
      embedSeconds: 0,
      insertSeconds: round2(stats.insertSeconds),
      snapshot: { collection: manifest.collection, ragossVersion: manifest.ragossVersion, createdAt: manifest.createdAt, ...(manifest.corpus === undefined ? {} : { corpus: manifest.corpus }) },
    };
  }

  async exportSnapshot(request: ExportRequest, context: OperationContext): Promise<ExportResult> {
    const started = performance.now();
    const { progress, signal } = context;
    const store = await this.store(progress, signal);
    // Described afresh, not from the cache: the file must hold what the collection holds now.
    this.described.delete(request.collection);
    const info = await this.describe(store, request.collection);
    const { exportCollection } = await import('../pipeline/snapshot.js');
    const { manifest, bytes } = await exportCollection(info, { store, path: request.out, ragossVersion: packageVersion(), progress, signal, reingestHint: reingestHint(info) });
    return {
      collection: info.name,
      path: request.out,
      chunks: manifest.rows,
      bytes,
      embeddingModel: manifest.embeddingModel,
      ...(manifest.embeddingDtype === undefined ? {} : { embeddingDtype: manifest.embeddingDtype }),
      dimension: manifest.dimension,
      chunker: manifest.chunker,
      ...(manifest.corpus === undefined ? {} : { corpus: manifest.corpus }),
      ragossVersion: manifest.ragossVersion,
      rowsDigest: manifest.rowsDigest,
      seconds: round2((performance.now() - started) / 1000),
    };
  }

  async evaluate(request: EvalRequest, context: OperationContext): Promise<EvalResult> {
    const { store, info, embedder } = await this.queryParts(request, context);
    const mode = availableMode(request.mode, info, context.progress);
    const line = groundingLine(request.minScore, info);
    // Every question embedded up front, in batches (and once across the modes an eval compares).
    const vectors = await this.queryVectors.embed(embedder, request.questions.map((item) => item.question));
    const vectorOf = new Map(request.questions.map((item, index) => [item.question, vectors[index] as Float32Array]));
    const { rerank } = request;
    const reranker = rerank === undefined ? undefined : await this.reranker(rerank, this.embeddingOf(request), context.progress);
    const candidates = rerankPool(request.topK, rerank);
    let fallbacks = 0;
    // The top k as `search` finds them (and reranks them), or as `ask` does for its context builder.
    const ranked = async (question: string, vector: Float32Array, topK: number, counted: boolean) => {
      const retrieved = await retrieveByVector(question, vector, store, { collection: request.collection, topK: rerankPool(topK, rerank), mode });
      if (reranker === undefined || rerank === undefined) return retrieved;
      const reranked = await rerankHits(question, retrieved.hits, reranker, { topK, budgetMs: rerank.budgetMs, signal: context.signal });
      if (counted && reranked.fallback !== undefined) fallbacks++;
      return { hits: reranked.hits, similarity: retrieved.similarity };
    };
    // What `ask` would send: the context builder's passages from its own hits, or the top k.
    const budget = contextBudget(request, info);
    const countTokens = budget === undefined ? undefined : await chatTokenCounter();
    const sentFor = async (question: string, vector: Float32Array, topHits: RankedHit[]) => {
      const passages = budget === undefined || countTokens === undefined ? topHits : (await buildContext((await ranked(question, vector, budget.maxHits, false)).hits, budget, contextParts(store, info, undefined, countTokens))).passages;
      return { passages, promptChars: buildMessages(question, passages).reduce((sum, message) => sum + message.content.length, 0) };
    };
    const report = await evaluate(request.questions, request.topK, async (question) => {
      context.signal.throwIfAborted();
      const vector = vectorOf.get(question) as Float32Array;
      const { hits, similarity } = await ranked(question, vector, request.topK, true);
      return { hits, grounded: judge(similarity, line).grounded, similarity: similarity ?? null, sent: await sentFor(question, vector, hits) };
    }, { curve: request.curve ?? false });
    // One line for the run, not one a question: the figures above then measure the retrieval order for those.
    if (fallbacks > 0) context.progress.warn(`reranking fell back to the ${mode} order on ${fallbacks} of ${request.questions.length} questions`);
    const reranking = reranker === undefined ? {} : { rerank: { by: reranker.name, candidates, fallbacks } };
    const contextSettings = budget === undefined ? {} : { contextBudget: { tokens: budget.tokens, maxHits: budget.maxHits } };
    const calibration = info.grounding === undefined ? {} : { calibration: info.grounding };
    return { embeddingModel: info.embeddingModel, chunker: info.chunker, mode, threshold: line.threshold ?? null, thresholdSource: line.source, ...calibration, ...reranking, ...contextSettings, ...report };
  }

  /**
   * Draws the collection's line again from its stored vectors: the probes are embedded, every
   * chunk's vector is read back (nothing is re-embedded) and the calibration is recorded in place.
   */
  async calibrate(request: CalibrateRequest, context: OperationContext): Promise<CalibrateResult> {
    const started = performance.now();
    const { progress, signal } = context;
    // Fresh, not from the cache: the line is drawn from what the collection holds now.
    this.described.delete(request.collection);
    const { store, info, embedder } = await this.queryParts(request, context);
    const grounding = await this.exclusive(`ingest:${request.collection}`, async () => {
      const calibration = await calibrateStored(info, { store, embedder, progress, signal, batchSize: INSERT_BATCH });
      if (calibration === undefined) throw new RagossError(`collection ${info.name} holds no chunks to calibrate against`, reingestHint(info));
      signal.throwIfAborted();
      await store.recordGrounding(info.physicalName, calibration);
      return calibration;
    }).finally(() => this.described.delete(request.collection));
    return {
      collection: info.name,
      embeddingModel: info.embeddingModel,
      chunker: info.chunker,
      chunks: info.rowCount,
      grounding,
      ...(info.grounding === undefined ? {} : { previous: info.grounding }),
      seconds: round2((performance.now() - started) / 1000),
    };
  }

  async doctor(request: DoctorRequest, context: OperationContext): Promise<DoctorReport> {
    return runDoctor(request, {
      settings: this.settings,
      embedding: this.embeddingOf(request),
      signal: context.signal,
      store: () => this.store(silentProgress, context.signal),
      chatEndpoint: (chat) => this.chatEndpoint({ ...chat, timeoutMs: Math.min(chat.timeoutMs, 10_000), maxRetries: 0 }),
    });
  }

  async collections(context: OperationContext): Promise<CollectionInfo[]> {
    const store = await this.store(context.progress, context.signal);
    return store.listCollections();
  }

  async close(): Promise<void> {
    const store = await this.storePromise?.catch(() => undefined);
    this.storePromise = undefined;
    const embedders = await Promise.all([...this.embedders.values()].map((loading) => loading.catch(() => undefined)));
    const rerankers = await Promise.all([...this.rerankers.values()].map((loading) => loading.catch(() => undefined)));
    this.embedders.clear();
    this.rerankers.clear();
    this.loaded.clear();
    await Promise.all([store?.close(), ...embedders.map((embedder) => embedder?.close()), ...rerankers.map((reranker) => reranker?.close())]);
  }

  /** Milvus connected, the collection checked, and the question model loaded (in parallel). */
  private async queryParts(target: QueryTarget, context: OperationContext): Promise<{ store: VectorStore; info: CollectionInfo; embedder: Embedder }> {
    const guess = target.embeddingModel ?? DEFAULT_EMBEDDING_MODEL;
    const embedding = this.embeddingOf(target);
    // Start loading the model the collection most likely uses while Milvus connects. Only a model
    // already on disk is guessed at, so a wrong guess never downloads anything.
    if (embedding.url === undefined && modelOnDisk(guess, embedding) && !this.storeRefusesUs()) this.embedder(localModel(guess, embedding), silentProgress).catch(() => undefined);
    const store = await this.store(context.progress, context.signal);
    const info = await this.describe(store, target.collection);
    const embedder = await this.queryEmbedder(target, info, context.progress);
    context.signal.throwIfAborted();
    return { store, info, embedder };
  }

  /**
   * The collection's model and dimension, described at most once every few seconds: an ingest
   * through this engine forgets it at once; one from elsewhere (a shared server) within seconds.
   */
  private async describe(store: VectorStore, collection: string): Promise<CollectionInfo> {
    const cached = this.described.get(collection);
    if (cached !== undefined && Date.now() - cached.at < DESCRIBE_TTL_MS) return cached.info;
    const info = await store.describe(collection);
    if (info === undefined) throw notIngestedError(collection, store.location);
    this.described.set(collection, { info, at: Date.now() });
    return info;
  }

  /** Questions must be embedded with the model the collection was built with. */
  private async queryEmbedder(target: QueryTarget, info: CollectionInfo, progress: Progress): Promise<Embedder> {
    const explicit = target.embeddingModel;
    if (explicit !== undefined && explicit !== info.embeddingModel) {
      throw new RagossError(
        `collection ${info.name} was built with ${info.embeddingModel}, not ${explicit}`,
        `drop --embedding-model (ragoss reads it from the collection) or re-ingest with --embedding-model ${explicit} --replace`,
        ExitCode.usage,
      );
    }
    const embedder = await this.embedder(this.questionModel(info, this.embeddingOf(target)), progress);
    if (embedder.dimension !== info.dimension) {
      throw new RagossError(
        `collection ${info.name} holds ${info.dimension}-dim vectors but ${embedder.modelName} makes ${embedder.dimension}-dim ones`,
        're-ingest with --replace, or use the model the collection was built with',
      );
    }
    return embedder;
  }

  /** The request's own embedding settings (a service honours each caller's), else the engine's. */
  private embeddingOf(request: EmbeddingChoice): EmbeddingSettings {
    return request.embedding ?? this.settings.embedding;
  }

  /** An ingest embeds with the server when one is set (its model: the one named, else the one it serves), else locally. */
  private ingestModel(request: IngestRequest): EmbedderSpec {
    const settings = this.embeddingOf(request);
    const named = request.embeddingModel;
    return settings.url === undefined ? localModel(named ?? DEFAULT_EMBEDDING_MODEL, settings) : { kind: 'endpoint', url: settings.url, modelName: named, settings };
  }

  /**
   * Questions are embedded as the collection's chunks were: through a server when it was built
   * through one (the one set here, else the one it records), locally otherwise.
   */
  private questionModel(info: CollectionInfo, settings: EmbeddingSettings): EmbedderSpec {
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

  private store(progress: Progress, signal: AbortSignal): Promise<VectorStore> {
    return this.reuseOrOpen(progress, signal);
  }

  private async reuseOrOpen(progress: Progress, signal: AbortSignal): Promise<VectorStore> {
    for (;;) {
      const current = this.storePromise;
      if (current === undefined) {
        const opening = this.openStore(progress, signal);
        this.storePromise = opening;
        return opening;
      }
      const store = await current.catch(() => undefined);
      if (store?.usable()) return store;
      // Failed, closed or its server died: whoever sees it first clears it, then everyone retries.
      if (this.storePromise === current) {
        this.storePromise = undefined;
        await store?.close().catch(() => undefined);
      }
    }
  }

  /** A command on embedded data that a live service holds: the store will refuse it, so nothing is loaded on speculation. */
  private storeRefusesUs(): boolean {
    const { location } = this.settings;
    return this.holder === 'command' && this.storePromise === undefined && location.kind === 'embedded' && heldByLiveService(location.dataDir);
  }

  private openStore(progress: Progress, signal: AbortSignal): Promise<VectorStore> {
    const { settings } = this;
    if (settings.location.kind === 'embedded') progress.step(`starting embedded Milvus Lite (${describeLocation(settings.location)})`);
    return openStore({
      location: settings.location,
      home: settings.home,
      progress,
      timeoutMs: settings.milvusTimeoutMs,
      milvusLiteExecutable: settings.milvusLiteExecutable,
      lockTimeoutMs: settings.lockTimeoutMs,
      startTimeoutMs: settings.startTimeoutMs,
      holder: this.holder,
      signal,
    });
  }

  /**
   * One embedder per model and the settings it loads or is reached with: two callers' settings
   * never share one. A local model is one copy of its weights (per file and dtype), whatever batch
   * size each caller embeds with.
   */
  private async embedder(spec: EmbedderSpec, progress: Progress): Promise<Embedder> {
    const embedder = await this.sharedEmbedder(spec, progress);
    return spec.kind === 'local' && embedder.withBatchSize !== undefined ? embedder.withBatchSize(spec.settings.batchSize) : embedder;
  }

  private sharedEmbedder(spec: EmbedderSpec, progress: Progress): Promise<Embedder> {
    const key = embedderKey(spec);
    const cached = this.embedders.get(key);
    if (cached !== undefined) return cached;
    const loading = spec.kind === 'local' ? this.loadEmbedder(spec, progress) : this.connectEmbedder(spec, progress);
    this.embedders.set(key, loading);
    loading.then(
      (embedder) => this.loaded.add(embedder.endpoint === undefined ? embedder.modelName : `${embedder.modelName} at ${embedder.endpoint}`),
      () => {
        if (this.embedders.get(key) === loading) this.embedders.delete(key);
      },
    );
    return loading;
  }

  private async connectEmbedder(spec: Extract<EmbedderSpec, { kind: 'endpoint' }>, progress: Progress): Promise<Embedder> {
    const { EndpointEmbedder } = await import('../embedder/endpoint.js');
    return EndpointEmbedder.connect({ ...spec.settings.server, url: spec.url, modelName: spec.modelName, progress });
  }

  private async loadEmbedder(spec: Extract<EmbedderSpec, { kind: 'local' }>, progress: Progress): Promise<Embedder> {
    const { TransformersEmbedder } = await import('../embedder/transformers.js');
    const embedding = spec.settings;
    // transformers.js reads where models come from (model dir, hub, offline) from one global: loads take turns.
    return this.exclusive(MODEL_SOURCE, () => TransformersEmbedder.load({
      modelName: spec.modelName,
      modelDir: embedding.modelDir,
      cacheDir: embedding.cacheDir,
      offline: embedding.offline,
      dtype: embedding.dtype,
      batchSize: embedding.batchSize,
      hubEndpoint: embedding.hubEndpoint,
      progress,
    }));
  }

  /** A reranker, loaded (a cross-encoder) or addressed (an endpoint) once and kept. */
  private reranker(settings: RerankSettings, embedding: EmbeddingSettings, progress: Progress): Promise<Reranker> {
    // A cross-encoder loads as the embedding model does (model dir, offline, hub): those are part of its identity.
    const loadedFrom = isHttpUrl(settings.target) ? [] : [embedding.modelDir ?? '', embedding.cacheDir, embedding.offline, embedding.hubEndpoint ?? ''];
    const key = JSON.stringify([settings.target, settings.model ?? '', settings.format, settings.apiKey ?? '', ...loadedFrom]);
    const cached = this.rerankers.get(key);
    if (cached !== undefined) return cached;
    const loading = this.loadReranker(settings, embedding, progress);
    this.rerankers.set(key, loading);
    loading.catch(() => {
      if (this.rerankers.get(key) === loading) this.rerankers.delete(key);
    });
    return loading;
  }

  private async loadReranker(settings: RerankSettings, embedding: EmbeddingSettings, progress: Progress): Promise<Reranker> {
    if (isHttpUrl(settings.target)) {
      const { EndpointReranker } = await import('../rerank/endpoint.js');
      return new EndpointReranker({ url: settings.target, apiKey: settings.apiKey, model: settings.model, format: settings.format });
    }
    const { CrossEncoderReranker } = await import('../rerank/cross-encoder.js');
    return this.exclusive(MODEL_SOURCE, () => CrossEncoderReranker.load({
      modelName: settings.target,
      modelDir: embedding.modelDir,
      cacheDir: embedding.cacheDir,
      offline: embedding.offline,
      hubEndpoint: embedding.hubEndpoint,
      dtype: 'fp32',
      progress,
    }));
  }

  private chatEndpoint(chat: AskRequest['chat']): ChatEndpoint {
    const key = JSON.stringify([chat.baseUrl, chat.apiKey ?? '', chat.timeoutMs, chat.maxRetries]);
    let endpoint = this.chatEndpoints.get(key);
    if (endpoint === undefined) {
      endpoint = new OpenAIChatEndpoint({ baseUrl: chat.baseUrl, apiKey: chat.apiKey, timeoutMs: chat.timeoutMs, maxRetries: chat.maxRetries });
      this.chatEndpoints.set(key, endpoint);
    }
    return endpoint;
  }

  /** Runs `work` after every earlier call with the same key has settled. */
  private exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.turns.set(key, tail);
    void tail.then(() => {
      if (this.turns.get(key) === tail) this.turns.delete(key);
    });
    return run;
  }
}

/**
 * Which embedder: a local model by name, or a server (and the model it names, unset: the one it
 * serves), each with the settings it loads or is reached with.
 */
type EmbedderSpec =
  | { kind: 'local'; modelName: string; settings: EmbeddingSettings }
  | { kind: 'endpoint'; url: string; modelName: string | undefined; settings: EmbeddingSettings };

function localModel(modelName: string, settings: EmbeddingSettings): Extract<EmbedderSpec, { kind: 'local' }> {
  return { kind: 'local', modelName, settings };
}

/** What makes two embedders differ: for a local model, where and how it loads; for a server, how it is reached. */
function embedderKey(spec: EmbedderSpec): string {
  const { settings } = spec;
  // Where the files are and which weights: offline and the hub only decide whether they may be fetched.
  if (spec.kind === 'local') return JSON.stringify(['local', spec.modelName, settings.modelDir ?? '', settings.cacheDir, settings.dtype]);
  return JSON.stringify(['endpoint', spec.url, spec.modelName ?? '', settings.server]);
}

function modelOnDisk(modelName: string, settings: EmbeddingSettings): boolean {
  return modelIsLocal({ modelName, modelDir: settings.modelDir, cacheDir: settings.cacheDir });
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

/**
 * How to rebuild a collection from the docs it was built from (a bare `ragoss ingest` would
 * ingest the default FAQ into it instead); unchanged chunks keep their vectors.
 */
function reingestHint(info: CollectionInfo): string {
  const from = info.corpus === undefined ? ' with the --source and --glob it was built from' : ` --source '${info.corpus.source}' --glob '${info.corpus.glob}'`;
  return `re-ingest it: ragoss ingest --collection ${info.name}${from} --chunker ${info.chunker} (unchanged chunks keep their vectors)`;
}

/** What an ingest's report says of the collection it built. */
function builtCollection(info: CollectionInfo): { fullText: boolean; grounding?: CollectionInfo['grounding'] } {
  return { fullText: info.fullText, ...(info.grounding === undefined ? {} : { grounding: info.grounding }) };
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
function contextBudget(request: Pick<AskRequest, 'context'>, info: CollectionInfo): ContextBudget | undefined {
  const asked = request.context;
  if (!info.pageText || (info.chunker !== 'markdown' && asked?.tokens === undefined)) return undefined;
  return { tokens: asked?.tokens ?? DEFAULT_CONTEXT_TOKENS, maxHits: asked?.maxHits ?? DEFAULT_CONTEXT_HITS };
}

/** How many hits to retrieve for the top k: with a rerank stage, its candidates too. */
function rerankPool(topK: number, rerank: RerankSettings | undefined): number {
  return rerank === undefined ? topK : Math.max(topK, rerank.candidates);
}

/** A hit with the link where a reader can check it, when ragoss can tell one. */
function withUrl(hit: RankedHit, info: CollectionInfo, linkTemplate: string | undefined): RankedHit {
  const url = chunkUrl(hit, info.corpus, linkTemplate);
  return url === undefined ? hit : { ...hit, url };
}

/** What the markdown chunker needs of the model: how many tokens a text makes, and how many it reads. */
function tokenLimit(embedder: Embedder): TokenLimit {
  return { maxTokens: embedder.tokenBudget('').maxTokens, countTokens: (text) => embedder.tokenBudget(text).tokens };
}

function round2(value: number): number {
  return Number(value.toFixed(2));
}
