import { createHash } from 'node:crypto';
import { ExitCode, RagossError } from '../errors.js';
import type { SourceDocument } from '../corpus/source.js';
import { chunkText, type ChunkerName, type TokenLimit } from '../corpus/chunk.js';
import type { Embedder } from '../embedder/embedder.js';
import type { Progress } from '../progress.js';
import type { CollectionInfo, CollectionMeta, StoredChunk, VectorStore } from '../store/store.js';
import { collectGarbage } from './memory.js';

export interface Chunk {
  id: string;
  text: string;
  source: string;
  chunkIndex: number;
}

/**
 * A chunk's id depends on its file and its text, not its position: an edit early in a file leaves
 * the ids of every unchanged chunk after it alone, so a re-ingest can reuse their vectors. The same
 * text twice in one file (a repeated heading, the empty pieces of `split("# ")`) is told apart by
 * its occurrence count within the file.
 */
export function chunkId(source: string, text: string, occurrence: number): string {
  return createHash('sha256').update(`${source}\0${occurrence}\0${text}`).digest('hex').slice(0, 32);
}

/** `limit` is the embedding model's reach; the markdown chunker keeps chunks within it. */
export function chunkDocuments(documents: readonly SourceDocument[], chunker: ChunkerName = 'seed', limit?: TokenLimit): Chunk[] {
  return documents.flatMap((document) => {
    const seen = new Map<string, number>();
    return chunkText(chunker, document.text, document.path, limit).map((text, chunkIndex) => {
      const occurrence = seen.get(text) ?? 0;
      seen.set(text, occurrence + 1);
      return { id: chunkId(document.path, text, occurrence), text, source: document.path, chunkIndex };
    });
  });
}

export interface IngestOptions {
  collection: string;
  embedder: Embedder;
  store: VectorStore;
  progress: Progress;
  /** Replace a collection that was built with another embedding model. */
  replace: boolean;
  /** Recorded with the collection: how its chunks were cut. */
  chunker: ChunkerName;
  /** Chunks embedded and inserted at a time: bounds memory whatever the corpus size. */
  batchSize: number;
  /** Embed every chunk, even those whose vectors the current collection already holds. */
  full: boolean;
  signal?: AbortSignal;
}

export interface IngestStats {
  chunks: number;
  /** Chunks that went through the model. */
  embedded: number;
  /** Chunks whose vectors were copied from the collection being replaced. */
  reused: number;
  embedSeconds: number;
  insertSeconds: number;
}

/** Refuses, before any embedding work, to mix vectors of two models in one collection. */
function checkCompatible(existing: CollectionInfo | undefined, collection: string, modelName: string, dimension: number, replace: boolean): void {
  // A collection ragoss did not make (no alias) is refused by the store, with its own message.
  if (existing === undefined || replace || existing.physicalName === collection) return;
  if (existing.dimension !== dimension || existing.embeddingModel !== modelName) {
    throw new RagossError(
      `collection ${collection} was built with ${existing.embeddingModel} (${existing.dimension} dims), not ${modelName} (${dimension} dims)`,
      `pass --replace to rebuild it with ${modelName}, or use another --collection`,
      ExitCode.usage,
    );
  }
}

/**
 * The collection whose stored vectors this ingest may copy instead of embedding: only one made by
 * the same model, weights and chunker (a chunk id says nothing about how its vector was computed).
 */
function reusableCollection(current: CollectionInfo | undefined, options: IngestOptions, meta: CollectionMeta): string | undefined {
  if (options.full || current === undefined || current.rowCount === 0) return undefined;
  const same =
    current.embeddingModel === meta.embeddingModel &&
    current.embeddingDtype === meta.embeddingDtype &&
    current.dimension === meta.dimension &&
    current.chunker === meta.chunker;
  return same ? current.physicalName : undefined;
}

/** Vectors for a batch: copied from the previous collection where it has the chunk, embedded otherwise. */
async function vectorsFor(batch: readonly Chunk[], embedder: Embedder, store: VectorStore, previous: string | undefined): Promise<{ vectors: Float32Array[]; embedded: number }> {
  const known = previous === undefined ? new Map<string, Float32Array>() : await store.vectorsByIds(previous, batch.map((chunk) => chunk.id));
  const missing = batch.filter((chunk) => !known.has(chunk.id));
  const fresh = missing.length === 0 ? [] : await embedder.embedDocuments(missing.map((chunk) => chunk.text));
  missing.forEach((chunk, index) => known.set(chunk.id, fresh[index] as Float32Array));
  return { vectors: batch.map((chunk) => known.get(chunk.id) as Float32Array), embedded: missing.length };
}

/**
 * Embeds and stores chunks batch by batch into a fresh collection, then swaps it in. Chunks the
 * current collection already holds (same id, model and chunker) keep their vectors unless `full`.
 */
export async function ingestChunks(chunks: readonly Chunk[], options: IngestOptions): Promise<IngestStats> {
  const { embedder, store, progress, signal } = options;
  const current = await store.describe(options.collection);
  checkCompatible(current, options.collection, embedder.modelName, embedder.dimension, options.replace);
  const meta: CollectionMeta = { embeddingModel: embedder.modelName, embeddingDtype: embedder.dtype, dimension: embedder.dimension, chunker: options.chunker };
  const previous = reusableCollection(current, options, meta);
  const writer = await store.beginReplace(options.collection, meta);
  let embedded = 0;
  let embedSeconds = 0;
  let insertSeconds = 0;
  let probe: Float32Array | undefined;
  // One insert runs while the next batch embeds: Milvus and the model work at the same time, and
  // with at most one batch in flight memory stays bounded whatever the corpus size.
  let pending: Promise<void> = Promise.resolve();
  const insert = async (rows: StoredChunk[], done: number, task: { update(done: number): void }) => {
    const insertStarted = performance.now();
    await writer.insert(rows);
    insertSeconds += (performance.now() - insertStarted) / 1000;
    task.update(done);
  };
  try {
    const task = progress.task('embedding and storing', chunks.length, 'chunks');
    for (let start = 0; start < chunks.length; start += options.batchSize) {
      signal?.throwIfAborted();
      const batch = chunks.slice(start, start + options.batchSize);
      const embedStarted = performance.now();
      const { vectors, embedded: embeddedNow } = await vectorsFor(batch, embedder, store, previous);
      embedded += embeddedNow;
      embedSeconds += (performance.now() - embedStarted) / 1000;
      probe ??= vectors[0];
      const rows: StoredChunk[] = batch.map((chunk, index) => ({ ...chunk, vector: vectors[index] as Float32Array }));
      await pending;
      signal?.throwIfAborted();
      // The previous batch's rows are garbage now: collect them before they pile up (see memory.ts).
      collectGarbage();
      pending = insert(rows, start + batch.length, task);
      // Observed by the next `await pending`; this only keeps it from counting as unhandled meanwhile.
      pending.catch(() => undefined);
    }
    await pending;
    task.done();
    signal?.throwIfAborted();
    progress.step('verifying and switching the collection over');
    const commitStarted = performance.now();
    await writer.commit(chunks.length, probe ?? new Float32Array(embedder.dimension));
    insertSeconds += (performance.now() - commitStarted) / 1000;
  } catch (error) {
    // Let an insert in flight finish before its collection is dropped under it.
    await pending.catch(() => undefined);
    await writer.abort();
    throw error;
  }
  return { chunks: chunks.length, embedded, reused: chunks.length - embedded, embedSeconds, insertSeconds };
}
