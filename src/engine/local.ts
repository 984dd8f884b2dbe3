import { silentProgress, type Progress } from '../progress.js';
import type { DataHolder } from '../store/data-lock.js';
import type { CollectionInfo } from '../store/store.js';
import { runDoctor } from './doctor.js';
import type * as api from './engine.js';
import { calibrate, exportSnapshot, ingest } from './ingest.js';
import { ask, evaluate, get, search } from './query.js';
import { EngineResources } from './resources.js';
import type { EngineSettings } from './settings.js';

/**
 * The engine in this process: the use cases (query.ts, ingest.ts) over one pool of resources
 * (resources.ts). A CLI command closes it when done (cold), the service keeps one for its whole
 * life (warm).
 */
export class LocalEngine implements api.Engine {
  // Each use case runs over this engine's pool.
  readonly search = this.over(search);
  readonly ask = this.over(ask);
  readonly get = this.over(get);
  readonly ingest = this.over(ingest);
  readonly exportSnapshot = this.over(exportSnapshot);
  readonly evaluate = this.over(evaluate);
  readonly calibrate = this.over(calibrate);
  private readonly pool: EngineResources;

  /** `holder`: 'service' in the ragoss service, whose hold on embedded data commands do not wait out. */
  constructor(
    readonly settings: EngineSettings,
    holder: DataHolder = 'command',
  ) {
    this.pool = new EngineResources(settings, holder);
  }

  /** Models loaded and kept, by name. */
  loadedModels(): string[] {
    return this.pool.loadedModels();
  }

  /** Opens Milvus and loads the model the collection was built with, so the first request is fast. */
  warmUp(collection: string, progress: Progress, signal: AbortSignal): Promise<void> {
    return this.pool.warmUp(collection, progress, signal);
  }

  doctor(request: api.DoctorRequest, context: api.OperationContext): Promise<api.DoctorReport> {
    const { pool } = this;
    return runDoctor(request, {
      settings: this.settings,
      embedding: pool.embeddingOf(request),
      signal: context.signal,
      store: () => pool.store(silentProgress, context.signal),
      chatEndpoint: (chat) => pool.chatEndpoint({ ...chat, timeoutMs: Math.min(chat.timeoutMs, 10_000), maxRetries: 0 }),
    });
  }

  async collections(context: api.OperationContext): Promise<CollectionInfo[]> {
    const store = await this.pool.store(context.progress, context.signal);
    return store.listCollections();
  }

  close(): Promise<void> {
    return this.pool.close();
  }

  /** The use case as a method of this engine: its pool, then the request and context. */
  private over<Request, Context, Result>(useCase: (pool: EngineResources, request: Request, context: Context) => Promise<Result>): (request: Request, context: Context) => Promise<Result> {
    return (request, context) => useCase(this.pool, request, context);
  }
}
