import { createHash } from 'node:crypto';
import { ExitCode, RagossError } from '../errors.js';
import type { SourceDocument } from '../corpus/source.js';
import { chunkText, type ChunkerName, type TokenLimit } from '../corpus/chunk.js';
import type { Embedder } from '../embedder/embedder.js';
import type { Progress } from '../progress.js';
import type { StoredChunk, VectorStore } from '../store/store.js';

export interface Chunk {
  id: string;
  text: string;
  source: string;
  chunkIndex: number;
}

/** Same input, same id: re-ingesting identical docs stores identical rows. */
export function chunkId(source: string, chunkIndex: number, text: string): string {
  return createHash('sha256').update(`${source}\0${chunkIndex}\0${text}`).digest('hex').slice(0, 32);
}

/** `limit` is the embedding model's reach; the markdown chunker keeps chunks within it. */
export function chunkDocuments(documents: readonly SourceDocument[], chunker: ChunkerName = 'seed', limit?: TokenLimit): Chunk[] {
  return documents.flatMap((document) =>
    chunkText(chunker, document.text, document.path, limit).map((text, chunkIndex) => ({ id: chunkId(document.path, chunkIndex, text), text, source: document.path, chunkIndex })),
  );
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
  signal?: AbortSignal;
}

export interface IngestStats {
  chunks: number;
  embedSeconds: number;
  insertSeconds: number;
}

/** Refuses, before any embedding work, to mix vectors of two models in one collection. */
export async function checkCompatible(store: VectorStore, collection: string, modelName: string, dimension: number, replace: boolean): Promise<void> {
  const existing = await store.describe(collection);
  if (existing === undefined || replace) return;
  if (existing.dimension !== dimension || existing.embeddingModel !== modelName) {
    throw new RagossError(
      `collection ${collection} was built with ${existing.embeddingModel} (${existing.dimension} dims), not ${modelName} (${dimension} dims)`,
      `pass --replace to rebuild it with ${modelName}, or use another --collection`,
      ExitCode.usage,
    );
  }
}

/** Embeds and stores chunks batch by batch into a fresh collection, then swaps it in. */
export async function ingestChunks(chunks: readonly Chunk[], options: IngestOptions): Promise<IngestStats> {
  const { embedder, store, progress, signal } = options;
  await checkCompatible(store, options.collection, embedder.modelName, embedder.dimension, options.replace);
  const writer = await store.beginReplace(options.collection, { embeddingModel: embedder.modelName, dimension: embedder.dimension, chunker: options.chunker });
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
      const vectors = await embedder.embedDocuments(batch.map((chunk) => chunk.text));
      embedSeconds += (performance.now() - embedStarted) / 1000;
      probe ??= vectors[0];
      const rows: StoredChunk[] = batch.map((chunk, index) => ({ ...chunk, vector: vectors[index] as Float32Array }));
      await pending;
      signal?.throwIfAborted();
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
  return { chunks: chunks.length, embedSeconds, insertSeconds };
}
