import { describeLocation, DEFAULT_EMBEDDING_MODEL, type CommonConfig } from '../config.js';
import type { Embedder } from '../embedder/embedder.js';
import { ExitCode, RagossError } from '../errors.js';
import { silentProgress, type Progress } from '../progress.js';
import { modelIsLocal } from '../embedder/transformers.js';
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

/**
 * Starts loading the model the collection most likely uses while Milvus connects: the two take
 * about a second each, and a fresh `search` pays for both. Only a model already on disk is
 * guessed at, so a wrong guess never downloads anything.
 */
function speculativeEmbedder(config: CommonConfig): Promise<Embedder | undefined> {
  const guess = config.embedding.explicitModel ?? DEFAULT_EMBEDDING_MODEL;
  const { modelDir, cacheDir } = config.embedding;
  if (!modelIsLocal({ modelName: guess, modelDir, cacheDir })) return Promise.resolve(undefined);
  // Silent: a guess that turns out unneeded (no collection, another model) should leave no trace.
  return loadEmbedder(config, guess, silentProgress).catch(() => undefined);
}

async function checkedQueryEmbedder(config: CommonConfig, info: CollectionInfo, progress: Progress, candidate: Embedder | undefined): Promise<Embedder> {
  const modelName = queryModelName(config, info);
  let embedder = candidate;
  if (embedder?.modelName !== modelName) {
    await embedder?.close();
    embedder = await loadEmbedder(config, modelName, progress);
  }
  if (embedder.dimension !== info.dimension) {
    await embedder.close();
    throw new RagossError(
      `collection ${info.name} holds ${info.dimension}-dim vectors but ${embedder.modelName} makes ${embedder.dimension}-dim ones`,
      're-ingest with --replace, or use the model the collection was built with',
    );
  }
  return embedder;
}

/** Runs `work` with Milvus connected, the collection checked and the question model loaded. */
export async function withQueryEmbedder<T>(
  config: CommonConfig,
  progress: Progress,
  signal: AbortSignal,
  work: (store: VectorStore, info: CollectionInfo, embedder: Embedder) => Promise<T>,
): Promise<T> {
  const speculative = speculativeEmbedder(config);
  let embedder: Embedder | undefined;
  try {
    return await withStore(config, progress, signal, async (store) => {
      const info = await requireCollection(store, config);
      embedder = await checkedQueryEmbedder(config, info, progress, await speculative);
      signal.throwIfAborted();
      return work(store, info, embedder);
    });
  } finally {
    const loaded = embedder ?? (await speculative);
    await loaded?.close();
  }
}
