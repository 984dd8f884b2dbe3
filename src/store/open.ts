import { describeLocation, type MilvusLocation } from './location.js';
import type { Progress } from '../progress.js';
import type { DataHolder } from './data-lock.js';
import type { VectorStore } from './store.js';

export interface StoreOptions {
  location: MilvusLocation;
  home: string;
  progress: Progress;
  timeoutMs: number;
  milvusLiteExecutable?: string;
  lockTimeoutMs?: number;
  startTimeoutMs?: number;
  /** What holds embedded data while the store is open (see data-lock.ts). */
  holder?: DataHolder;
  signal?: AbortSignal;
}

/** Connects to a Milvus server, or starts the embedded Milvus Lite and connects to it. */
export async function openStore(options: StoreOptions): Promise<VectorStore> {
  // The SDK takes ~0.4 s to import; only commands that touch Milvus pay for it.
  const { MilvusStore } = await import('./milvus.js');
  const { location } = options;
  if (location.kind === 'server') {
    return MilvusStore.connect({
      address: location.address,
      ssl: location.ssl,
      token: location.token,
      displayUri: describeLocation(location),
      timeoutMs: options.timeoutMs,
    });
  }
  const { startEmbeddedMilvus } = await import('./embedded.js');
  const server = await startEmbeddedMilvus({
    dataDir: location.dataDir,
    home: options.home,
    progress: options.progress,
    executable: options.milvusLiteExecutable,
    lockTimeoutMs: options.lockTimeoutMs,
    startTimeoutMs: options.startTimeoutMs,
    holder: options.holder,
    signal: options.signal,
  });
  try {
    return await MilvusStore.connect({
      address: server.address,
      ssl: false,
      displayUri: `${location.dataDir} (embedded Milvus Lite)`,
      timeoutMs: options.timeoutMs,
      explainFailure: server.deathNotice,
      onClose: server.stop,
    });
  } catch (error) {
    await server.stop();
    throw error;
  }
}
