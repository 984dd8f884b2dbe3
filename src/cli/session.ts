import { describeLocation, DEFAULT_EMBEDDING_MODEL, type CommonConfig } from '../config.js';
import type { Embedder } from '../embedder/embedder.js';
import { ExitCode, RagossError } from '../errors.js';
import type { Progress } from '../progress.js';
import { openStore } from '../store/open.js';
import { notIngestedError, type CollectionInfo, type VectorStore } from '../store/store.js';

export async function connectStore(config: CommonConfig, progress: Progress, signal: AbortSignal): Promise<VectorStore> {
  if (config.location.kind === 'embedded') progress.step(`starting embedded Milvus Lite (${describeLocation(config.location)})`);
  return openStore({
    location: config.location,
    home: config.home,
    progress,
    timeoutMs: config.milvusTimeoutMs,
    milvusLiteExecutable: config.milvusLiteExecutable,
    signal,
  });
}

export async function withStore<T>(config: CommonConfig, progress: Progress, signal: AbortSignal, work: (store: VectorStore) => Promise<T>): Promise<T> {
  const store = await connectStore(config, progress, signal);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

export async function loadEmbedder(config: CommonConfig, modelName: string, progress: Progress): Promise<Embedder> {
  const { TransformersEmbedder } = await import('../embedder/transformers.js');
  const { embedding } = config;
  return TransformersEmbedder.load({
    modelName,
    modelDir: embedding.modelDir,
    cacheDir: embedding.cacheDir,
    offline: embedding.offline,
    dtype: embedding.dtype,
    batchSize: embedding.batchSize,
    hubEndpoint: embedding.hubEndpoint,
    progress,
  });
}

export function ingestModelName(config: CommonConfig): string {
  return config.embedding.explicitModel ?? DEFAULT_EMBEDDING_MODEL;
}

/** The collection to query, or exit code 3 with the fix when nothing was ingested. */
export async function requireCollection(store: VectorStore, config: CommonConfig): Promise<CollectionInfo> {
  const info = await store.describe(config.collection);
  if (info === undefined) throw notIngestedError(config.collection, store.location);
  return info;
}

/** Questions must be embedded with the model the collection was built with. */
function queryModelName(config: CommonConfig, info: CollectionInfo): string {
  const explicit = config.embedding.explicitModel;
  if (explicit !== undefined && explicit !== info.embeddingModel) {
    throw new RagossError(
      `collection ${info.name} was built with ${info.embeddingModel}, not ${explicit}`,
      `drop --embedding-model (ragoss reads it from the collection) or re-ingest with --embedding-model ${explicit} --replace`,
      ExitCode.usage,
    );
  }
  return info.embeddingModel;
}

/** Loads the model the collection was built with and checks its vectors fit the collection. */
export async function loadQueryEmbedder(config: CommonConfig, info: CollectionInfo, progress: Progress): Promise<Embedder> {
  const embedder = await loadEmbedder(config, queryModelName(config, info), progress);
  if (embedder.dimension !== info.dimension) {
    await embedder.close();
    throw new RagossError(
      `collection ${info.name} holds ${info.dimension}-dim vectors but ${embedder.modelName} makes ${embedder.dimension}-dim ones`,
      `re-ingest with --replace, or use the model the collection was built with`,
    );
  }
  return embedder;
}
