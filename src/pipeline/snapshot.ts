import { ExitCode, RagossError } from '../errors.js';
import type { Progress } from '../progress.js';
import { SNAPSHOT_ROW_GROUP, SnapshotReader, SnapshotWriter, type SnapshotManifest } from '../snapshot/parquet.js';
import type { ChunkKey, CollectionInfo, CollectionMeta, StoredChunk, VectorStore } from '../store/store.js';
import { checkCompatible, fillCollection } from './ingest.js';
import { collectGarbage } from './memory.js';

/** The order ingest writes chunks in (files by path, then chunk index): an import rebuilds the same index. */
function byIngestOrder(a: ChunkKey, b: ChunkKey): number {
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  return a.chunkIndex - b.chunkIndex || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export interface ExportStats {
  manifest: SnapshotManifest;
  bytes: number;
}

/**
 * Streams a collection into a snapshot file: keys first (small), then whole rows a row group at a
 * time, so memory holds one batch whatever the corpus size. Reads the physical collection, so an
 * ingest swapping the name meanwhile cannot mix two versions into one file.
 */
export async function exportCollection(
  info: CollectionInfo,
  options: { store: VectorStore; path: string; ragossVersion: string; progress: Progress; signal?: AbortSignal; reingestHint: string },
): Promise<ExportStats> {
  const { store, progress, signal } = options;
  if (!info.pageText) throw new RagossError(`collection ${info.name} was made before ragoss stored each chunk's place in its page, which snapshots carry`, options.reingestHint);
  const keys = (await store.chunkKeys(info.physicalName)).sort(byIngestOrder);
  if (keys.length !== info.rowCount) {
    throw new RagossError(`collection ${info.name} listed ${keys.length} of its ${info.rowCount} chunks`, 'run the export again; if it repeats, re-ingest the collection');
  }
  const writer = new SnapshotWriter(options.path, {
    ragossVersion: options.ragossVersion,
    createdAt: new Date().toISOString(),
    collection: info.name,
    embeddingModel: info.embeddingModel,
    ...(info.embeddingDtype === undefined ? {} : { embeddingDtype: info.embeddingDtype }),
    ...(info.embeddingEndpoint === undefined ? {} : { embeddingEndpoint: info.embeddingEndpoint }),
    dimension: info.dimension,
    chunker: info.chunker,
    ...(info.corpus === undefined ? {} : { corpus: info.corpus }),
    ...(info.grounding === undefined ? {} : { grounding: info.grounding }),
  });
  const task = progress.task(`writing ${options.path}`, keys.length, 'chunks');
  try {
    for (let start = 0; start < keys.length; start += SNAPSHOT_ROW_GROUP) {
      signal?.throwIfAborted();
      const ids = keys.slice(start, start + SNAPSHOT_ROW_GROUP).map((key) => key.id);
      const rows = await store.chunksByIds(info.physicalName, ids);
      if (rows.length !== ids.length) throw new RagossError(`collection ${info.name} changed during the export (${ids.length - rows.length} chunks vanished)`, 'run the export again');
      await writer.write(rows);
      task.update(start + rows.length);
      // This batch's rows (JS arrays of numbers by then) are garbage: collect before they pile up (see memory.ts).
      collectGarbage();
    }
    const finished = await writer.finish();
    task.done();
    return finished;
  } catch (error) {
    await writer.abort();
    throw error;
  }
}

export interface ImportOptions {
  collection: string;
  store: VectorStore;
  progress: Progress;
  replace: boolean;
  /** The model the user named, if any: a snapshot of another model is refused. */
  embeddingModel?: string;
  /** The weights questions will be embedded with: vectors of other weights would not match them. */
  embeddingDtype: string;
  /** The embedding server configured here, if any (questions follow the collection's record otherwise). */
  embeddingUrl: string | undefined;
  signal?: AbortSignal;
}

/** Refuses, before anything is written, a snapshot whose vectors this setup could not query. */
function checkUsable(manifest: SnapshotManifest, path: string, options: ImportOptions, current: CollectionInfo | undefined): void {
  const { embeddingModel, dimension } = manifest;
  if (options.embeddingModel !== undefined && options.embeddingModel !== embeddingModel) {
    throw new RagossError(
      `snapshot ${path} was built with ${embeddingModel} (${dimension} dims), not ${options.embeddingModel}`,
      `drop --embedding-model (the snapshot's model is recorded with the collection), or ingest the docs with ${options.embeddingModel}`,
      ExitCode.usage,
    );
  }
  if (manifest.embeddingEndpoint === undefined && options.embeddingUrl !== undefined) {
    throw new RagossError(
      `snapshot ${path} holds vectors of the local model ${embeddingModel}, but an embedding server is set (${options.embeddingUrl})`,
      'unset RAGOSS_EMBEDDING_URL (or drop --embedding-url) to import it',
      ExitCode.usage,
    );
  }
  if (manifest.embeddingEndpoint === undefined && manifest.embeddingDtype !== undefined && manifest.embeddingDtype !== options.embeddingDtype) {
    throw new RagossError(
      `snapshot ${path} holds ${manifest.embeddingDtype} vectors of ${embeddingModel}, but questions would be embedded with its ${options.embeddingDtype} weights`,
      `set RAGOSS_EMBEDDING_DTYPE=${manifest.embeddingDtype}, or ingest the docs instead of importing`,
      ExitCode.usage,
    );
  }
  checkCompatible(current, options.collection, { modelName: embeddingModel, dimension, ...(manifest.embeddingEndpoint === undefined ? {} : { endpoint: manifest.embeddingEndpoint }) }, options.replace);
}

export interface ImportStats {
  manifest: SnapshotManifest;
  files: number;
  insertSeconds: number;
}

/**
 * Loads a snapshot into a fresh collection through the same build-verify-swap as an ingest: no
 * model runs, and a file that turns out damaged half-way leaves the previous data serving.
 */
export async function importSnapshot(path: string, options: ImportOptions): Promise<ImportStats> {
  const { store, progress, signal } = options;
  const reader = await SnapshotReader.open(path);
  const { manifest } = reader;
  checkUsable(manifest, path, options, await store.describe(options.collection));
  const meta: CollectionMeta = {
    embeddingModel: manifest.embeddingModel,
    ...(manifest.embeddingDtype === undefined ? {} : { embeddingDtype: manifest.embeddingDtype }),
    ...(manifest.embeddingEndpoint === undefined ? {} : { embeddingEndpoint: manifest.embeddingEndpoint }),
    dimension: manifest.dimension,
    chunker: manifest.chunker,
    ...(manifest.corpus === undefined ? {} : { corpus: manifest.corpus }),
    // Recorded at creation: the line travels with the vectors it was drawn from.
    ...(manifest.grounding === undefined ? {} : { grounding: manifest.grounding }),
  };
  const files = new Set<string>();
  async function* rows(): AsyncGenerator<StoredChunk[]> {
    for await (const batch of reader.batches()) {
      for (const row of batch) files.add(row.source);
      yield batch;
    }
  }
  const task = progress.task(`importing ${path}`, manifest.rows, 'chunks');
  const { insertSeconds } = await fillCollection(rows(), {
    store,
    collection: options.collection,
    meta,
    expectedRows: manifest.rows,
    progress,
    signal,
    onStored: (stored) => task.update(stored),
    onAllStored: () => task.done(),
  });
  return { manifest, files: files.size, insertSeconds };
}
