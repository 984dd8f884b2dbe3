import { join } from 'node:path';
import { OpenAIChatEndpoint, type ChatEndpoint } from '../answerer/chat.js';
import { DEFAULT_EMBEDDING_MODEL, type Embedder } from '../embedder/embedder.js';
import { QueryVectors } from '../embedder/query-vectors.js';
import { modelIsLocal } from '../embedder/transformers.js';
import { loadOnce } from '../load-once.js';
import { ProbeVectors } from '../pipeline/probe-vectors.js';
import { isHttpUrl } from '../remote/http.js';
import type { Reranker, RerankSettings } from '../rerank/reranker.js';
import { heldByLiveService, type DataHolder } from '../store/data-lock.js';
import { describeLocation } from '../store/location.js';
import { openStore } from '../store/open.js';
import { notIngestedError, type CollectionInfo, type VectorStore } from '../store/store.js';
import type { Progress } from '../progress.js';
import type { EmbeddingSettings, EngineSettings } from './settings.js';
import type { AskRequest, EmbeddingChoice } from './engine.js';

/** The key under which model loads take turns (see loadEmbedder). */
const MODEL_SOURCE = 'model-source';
/** How long a described collection is trusted; see `describe`. */
const DESCRIBE_TTL_MS = 5000;

/**
 * Which embedder: a local model by name, or a server (and the model it names, unset: the one it
 * serves), each with the settings it loads or is reached with.
 */
export type EmbedderSpec =
  | { kind: 'local'; modelName: string; settings: EmbeddingSettings }
  | { kind: 'endpoint'; url: string; modelName: string | undefined; settings: EmbeddingSettings };

/**
 * What an engine holds open between requests: Milvus, embedders, rerankers, chat clients, what
 * each collection holds, and the turns that work on one key takes. Everything opens on first use
 * and stays open until `close`: a CLI command closes it when done (cold), the service keeps one
 * for its whole life (warm). Every cache forgets a failed attempt, so a long-lived pool retries
 * instead of serving the old error.
 */
export class EngineResources {
  /** Questions embedded once across the modes an eval compares. */
  readonly queryVectors = new QueryVectors();
  /** The off-topic probes per model: calibration and the nearest-probe check read them (kept on disk too). */
  readonly probeVectors: ProbeVectors;
  private storePromise: Promise<VectorStore> | undefined;
  private readonly embedders = new Map<string, Promise<Embedder>>();
  private readonly loaded = new Set<string>();
  private readonly chatEndpoints = new Map<string, ChatEndpoint>();
  private readonly rerankers = new Map<string, Promise<Reranker>>();
  private readonly turns = new Map<string, Promise<unknown>>();
  /** What each collection holds (model, dimension), as last described: saves three Milvus calls a query. */
  private readonly described = new Map<string, { info: CollectionInfo; at: number }>();

  /** `holder`: 'service' in the ragoss service, whose hold on embedded data commands do not wait out. */
  constructor(
    readonly settings: EngineSettings,
    private readonly holder: DataHolder = 'command',
  ) {
    this.probeVectors = new ProbeVectors(join(settings.home, 'probes'));
  }

  /** Models loaded and kept, by name. */
  loadedModels(): string[] {
    return [...this.loaded].sort();
  }

  /**
   * Opens Milvus and loads the model the collection was built with, and the off-topic probes' vectors
   * its grounding check reads, so the first request is fast.
   */
  async warmUp(collection: string, progress: Progress, signal: AbortSignal): Promise<void> {
    const store = await this.store(progress, signal);
    const info = await store.describe(collection);
    const { embedding } = this.settings;
    if (info?.embeddingEndpoint !== undefined || embedding.url !== undefined) return;
    const modelName = info?.embeddingModel ?? DEFAULT_EMBEDDING_MODEL;
    if (!modelOnDisk(modelName, embedding)) return;
    const embedder = await this.embedder(localModel(modelName, embedding), progress);
    if (info?.grounding !== undefined) await this.probeVectors.of(embedder);
  }

  /** The request's own embedding settings (a service honours each caller's), else the engine's. */
  embeddingOf(request: EmbeddingChoice): EmbeddingSettings {
    return request.embedding ?? this.settings.embedding;
  }

  /** Milvus, opened once and reopened when it failed, was closed or its server died. */
  async store(progress: Progress, signal: AbortSignal): Promise<VectorStore> {
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
  storeRefusesUs(): boolean {
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
   * The collection's model and dimension, described at most once every few seconds: an ingest
   * through this engine forgets it at once (`forget`); one from elsewhere (a shared server) within seconds.
   */
  async describe(store: VectorStore, collection: string): Promise<CollectionInfo> {
    const cached = this.described.get(collection);
    if (cached !== undefined && Date.now() - cached.at < DESCRIBE_TTL_MS) return cached.info;
    const info = await store.describe(collection);
    if (info === undefined) throw notIngestedError(collection, store.location);
    this.described.set(collection, { info, at: Date.now() });
    return info;
  }

  /** Drops what `describe` remembers of the collection: the next one asks Milvus. */
  forget(collection: string): void {
    this.described.delete(collection);
  }

  /**
   * One embedder per model and the settings it loads or is reached with: two callers' settings
   * never share one. A local model is one copy of its weights (per file and dtype), whatever batch
   * size each caller embeds with.
   */
  async embedder(spec: EmbedderSpec, progress: Progress): Promise<Embedder> {
    const embedder = await this.sharedEmbedder(spec, progress);
    return spec.kind === 'local' && embedder.withBatchSize !== undefined ? embedder.withBatchSize(spec.settings.batchSize) : embedder;
  }

  private sharedEmbedder(spec: EmbedderSpec, progress: Progress): Promise<Embedder> {
    return loadOnce(this.embedders, embedderKey(spec), async () => {
      const embedder = await (spec.kind === 'local' ? this.loadEmbedder(spec, progress) : this.connectEmbedder(spec, progress));
      this.loaded.add(embedder.endpoint === undefined ? embedder.modelName : `${embedder.modelName} at ${embedder.endpoint}`);
      return embedder;
    });
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
  reranker(settings: RerankSettings, embedding: EmbeddingSettings, progress: Progress): Promise<Reranker> {
    // A cross-encoder loads as the embedding model does (model dir, offline, hub): those are part of its identity.
    const loadedFrom = isHttpUrl(settings.target) ? [] : [embedding.modelDir ?? '', embedding.cacheDir, embedding.offline, embedding.hubEndpoint ?? ''];
    const key = JSON.stringify([settings.target, settings.model ?? '', settings.format, settings.apiKey ?? '', ...loadedFrom]);
    return loadOnce(this.rerankers, key, () => this.loadReranker(settings, embedding, progress));
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

  /** One chat client per server and the way it is reached. */
  chatEndpoint(chat: AskRequest['chat']): ChatEndpoint {
    const key = JSON.stringify([chat.baseUrl, chat.apiKey ?? '', chat.timeoutMs, chat.maxRetries]);
    let endpoint = this.chatEndpoints.get(key);
    if (endpoint === undefined) {
      endpoint = new OpenAIChatEndpoint({ baseUrl: chat.baseUrl, apiKey: chat.apiKey, timeoutMs: chat.timeoutMs, maxRetries: chat.maxRetries });
      this.chatEndpoints.set(key, endpoint);
    }
    return endpoint;
  }

  /** Runs `work` after every earlier call with the same key has settled. */
  exclusive<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.turns.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    const tail = run.catch(() => undefined);
    this.turns.set(key, tail);
    void tail.then(() => {
      if (this.turns.get(key) === tail) this.turns.delete(key);
    });
    return run;
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
}

export function localModel(modelName: string, settings: EmbeddingSettings): Extract<EmbedderSpec, { kind: 'local' }> {
  return { kind: 'local', modelName, settings };
}

/** What makes two embedders differ: for a local model, where and how it loads; for a server, how it is reached. */
function embedderKey(spec: EmbedderSpec): string {
  const { settings } = spec;
  // Where the files are and which weights: offline and the hub only decide whether they may be fetched.
  if (spec.kind === 'local') return JSON.stringify(['local', spec.modelName, settings.modelDir ?? '', settings.cacheDir, settings.dtype]);
  return JSON.stringify(['endpoint', spec.url, spec.modelName ?? '', settings.server]);
}

export function modelOnDisk(modelName: string, settings: EmbeddingSettings): boolean {
  return modelIsLocal({ modelName, modelDir: settings.modelDir, cacheDir: settings.cacheDir });
}
