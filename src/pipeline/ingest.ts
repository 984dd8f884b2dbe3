import { createHash } from 'node:crypto';
import { ExitCode, RagossError } from '../errors.js';
import type { SourceDocument } from '../corpus/source.js';
import { chunkSpans, type ChunkerName, type TokenLimit } from '../corpus/chunk.js';
import type { Embedder } from '../embedder/embedder.js';
import type { Progress } from '../progress.js';
import type { CollectionInfo, CollectionMeta, StoredChunk, VectorStore } from '../store/store.js';
import type { CorpusRecord } from '../types.js';
import { collectGarbage } from './memory.js';
import type { NullDistribution } from './grounding.js';
import { GROUNDING_PROBES } from './grounding-probes.js';
import { calibrationOf, probeDistribution } from './calibrate.js';
import type { ProbeVectors } from './probe-vectors.js';

/** A chunk ready to embed: everything stored with it but its vector. */
export type Chunk = Omit<StoredChunk, 'vector'>;

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
    return chunkSpans(chunker, document.text, document.path, limit).map(({ text, raw, heading, line }, chunkIndex) => {
      const occurrence = seen.get(text) ?? 0;
      seen.set(text, occurrence + 1);
      return { id: chunkId(document.path, text, occurrence), text, source: document.path, chunkIndex, raw, heading, line };
    });
  });
}

export interface IngestOptions {
  collection: string;
  embedder: Embedder;
  store: VectorStore;
  /** The off-topic probes' vectors, which draw the collection's line. */
  probes: ProbeVectors;
  progress: Progress;
  /** Replace a collection that was built with another embedding model. */
  replace: boolean;
  /** Recorded with the collection: how its chunks were cut. */
  chunker: ChunkerName;
  /** Chunks embedded and inserted at a time: bounds memory whatever the corpus size. */
  batchSize: number;
  /** Embed every chunk, even those whose vectors the current collection already holds. */
  full: boolean;
  /** Recorded with the collection: which docs these chunks are. */
  corpus?: CorpusRecord;
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
export function checkCompatible(existing: CollectionInfo | undefined, collection: string, embedder: Pick<Embedder, 'modelName' | 'dimension' | 'endpoint'>, replace: boolean): void {
  // A collection ragoss did not make (no alias) is refused by the store, with its own message.
  if (existing === undefined || replace || existing.physicalName === collection) return;
  const { modelName, dimension } = embedder;
  if ((existing.embeddingEndpoint === undefined) !== (embedder.endpoint === undefined)) {
    const was = existing.embeddingEndpoint === undefined ? 'by a local model' : `through ${existing.embeddingEndpoint}`;
    throw new RagossError(
      `collection ${collection} was embedded ${was} (${existing.embeddingModel}), not ${embedder.endpoint === undefined ? 'locally' : `through ${embedder.endpoint}`}`,
      'pass --replace to rebuild it this way, or use another --collection',
      ExitCode.usage,
    );
  }
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
    (current.embeddingEndpoint === undefined) === (meta.embeddingEndpoint === undefined) &&
    current.dimension === meta.dimension &&
    current.chunker === meta.chunker;
  return same ? current.physicalName : undefined;
}

/** Vectors for a batch: copied from the previous collection where it has the chunk, embedded otherwise. */
async function vectorsFor(
  batch: readonly Chunk[],
  embedder: Embedder,
  store: VectorStore,
  previous: string | undefined,
  onReady: (count: number) => void,
): Promise<{ vectors: Float32Array[]; embedded: number }> {
  const known = previous === undefined ? new Map<string, Float32Array>() : await store.vectorsByIds(previous, batch.map((chunk) => chunk.id));
  const missing = batch.filter((chunk) => !known.has(chunk.id));
  const reused = batch.length - missing.length;
  onReady(reused);
  const fresh = missing.length === 0 ? [] : await embedder.embedDocuments(missing.map((chunk) => chunk.text), (count) => onReady(reused + count));
  missing.forEach((chunk, index) => known.set(chunk.id, fresh[index] as Float32Array));
  return { vectors: batch.map((chunk) => known.get(chunk.id) as Float32Array), embedded: missing.length };
}

/** Where a fill stands: the shared loop reports stored rows and the time Milvus took. */
export interface FillStats {
  rows: number;
  insertSeconds: number;
}

/**
 * Writes batches into a fresh collection, checks it and swaps it in under `collection`; on any
 * failure (or abort) the new collection is dropped and the previous data keeps serving. One insert
 * runs while the producer makes the next batch (embedding, reading a snapshot): both sides work at
 * once, and with at most one batch in flight memory stays bounded whatever the corpus size.
 */
export async function fillCollection(
  batches: AsyncIterable<StoredChunk[]>,
  options: {
    store: VectorStore;
    collection: string;
    meta: CollectionMeta;
    expectedRows: number;
    progress: Progress;
    signal?: AbortSignal;
    onStored?: (rows: number) => void;
    onAllStored?: () => void;
    /** Sees every batch; the calibration it makes is recorded before the name moves to the new data. */
    calibration?: NullDistribution;
  },
): Promise<FillStats> {
  const { store, progress, signal } = options;
  const writer = await store.beginReplace(options.collection, options.meta);
  let rows = 0;
  let insertSeconds = 0;
  let probe: Float32Array | undefined;
  let pending: Promise<void> = Promise.resolve();
  const insert = async (batch: StoredChunk[], storedAfter: number) => {
    const insertStarted = performance.now();
    await writer.insert(batch);
    insertSeconds += (performance.now() - insertStarted) / 1000;
    options.onStored?.(storedAfter);
  };
  try {
    for await (const batch of batches) {
      signal?.throwIfAborted();
      probe ??= batch[0]?.vector;
      options.calibration?.observe(batch.map((chunk) => chunk.vector));
      await pending;
      signal?.throwIfAborted();
      // The previous batch's rows are garbage now: collect them before they pile up (see memory.ts).
      collectGarbage();
      rows += batch.length;
      pending = insert(batch, rows);
      // Observed by the next `await pending`; this only keeps it from counting as unhandled meanwhile.
      pending.catch(() => undefined);
    }
    await pending;
    options.onAllStored?.();
    signal?.throwIfAborted();
    if (rows !== options.expectedRows) throw new RagossError(`wrote ${rows} rows, expected ${options.expectedRows}; the previous data keeps serving`);
    progress.step('verifying and switching the collection over');
    const commitStarted = performance.now();
    const grounding = options.calibration === undefined ? undefined : calibrationOf(options.calibration);
    await writer.commit(rows, probe ?? new Float32Array(options.meta.dimension), grounding);
    insertSeconds += (performance.now() - commitStarted) / 1000;
  } catch (error) {
    // Let an insert in flight finish before its collection is dropped under it.
    await pending.catch(() => undefined);
    await writer.abort();
    throw error;
  }
  return { rows, insertSeconds };
}

/**
 * Embeds and stores chunks batch by batch into a fresh collection, then swaps it in. Chunks the
 * current collection already holds (same id, model and chunker) keep their vectors unless `full`.
 */
export async function ingestChunks(chunks: readonly Chunk[], options: IngestOptions): Promise<IngestStats> {
  const { embedder, store, progress, signal } = options;
  const current = await store.describe(options.collection);
  checkCompatible(current, options.collection, embedder, options.replace);
  const meta: CollectionMeta = {
    embeddingModel: embedder.modelName,
    ...(embedder.dtype === undefined ? {} : { embeddingDtype: embedder.dtype }),
    ...(embedder.endpoint === undefined ? {} : { embeddingEndpoint: embedder.endpoint }),
    dimension: embedder.dimension,
    chunker: options.chunker,
    ...(options.corpus === undefined ? {} : { corpus: options.corpus }),
  };
  const previous = reusableCollection(current, options, meta);
  progress.step(`calibrating the "not in the docs" line against ${GROUNDING_PROBES.length} off-topic probes`);
  const calibration = await probeDistribution(embedder, options.probes);
  const counted = progress.task('embedding and storing', chunks.length, 'chunks');
  // Embedding reports ahead of the insert in flight: the count shown only ever moves forward.
  let shown = 0;
  const report = (done: number) => {
    if (done > shown) counted.update((shown = done));
  };
  let embedded = 0;
  let embedSeconds = 0;
  async function* embeddedBatches(): AsyncGenerator<StoredChunk[]> {
    for (let start = 0; start < chunks.length; start += options.batchSize) {
      signal?.throwIfAborted();
      const batch = chunks.slice(start, start + options.batchSize);
      const embedStarted = performance.now();
      // A batch of long chunks takes a minute on a small CPU: the count moves with each model call.
      const { vectors, embedded: embeddedNow } = await vectorsFor(batch, embedder, store, previous, (ready) => report(start + ready));
      embedded += embeddedNow;
      embedSeconds += (performance.now() - embedStarted) / 1000;
      yield batch.map((chunk, index) => ({ ...chunk, vector: vectors[index] as Float32Array }));
    }
  }
  const { insertSeconds } = await fillCollection(embeddedBatches(), {
    store,
    collection: options.collection,
    meta,
    expectedRows: chunks.length,
    progress,
    signal,
    onStored: report,
    onAllStored: () => counted.done(),
    calibration,
  });
  return { chunks: chunks.length, embedded, reused: chunks.length - embedded, embedSeconds, insertSeconds };
}
