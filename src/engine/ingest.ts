import { join } from 'node:path';
import type { ChunkerName, TokenLimit } from '../corpus/chunk.js';
import { displayUrl, download } from '../corpus/download.js';
import { corpusDigest, isUrl, loadCorpus } from '../corpus/source.js';
import { DEFAULT_EMBEDDING_MODEL, type Embedder } from '../embedder/embedder.js';
import { ExitCode, RagossError } from '../errors.js';
import { calibrateStored } from '../pipeline/calibrate.js';
import { drawnByCurrentRule } from '../pipeline/grounding.js';
import { GROUNDING_PROBES } from '../pipeline/grounding-probes.js';
import { chunkDocuments, ingestChunks } from '../pipeline/ingest.js';
import { isSnapshotPath } from '../snapshot/path.js';
import { describeLocation } from '../store/location.js';
import type { CollectionInfo } from '../store/store.js';
import { packageVersion } from '../version.js';
import type * as api from './engine.js';
import { queryParts, reingestHint } from './query.js';
import { localModel, type EmbedderSpec, type EngineResources } from './resources.js';

/** Rows inserted per Milvus call; also how many chunks are held in memory at once. */
const INSERT_BATCH = 256;

/** Docs (a folder, a zip, a URL) or a snapshot into the collection. */
export async function ingest(pool: EngineResources, request: api.IngestRequest, context: api.OperationContext): Promise<api.IngestResult> {
  if (isSnapshotPath(isUrl(request.source) ? new URL(request.source).pathname : request.source)) return importSnapshot(pool, request, context);
  const started = performance.now();
  const { progress, signal } = context;
  const documents = await loadCorpus({ source: request.source, glob: request.glob, home: pool.settings.home, progress, refresh: request.refresh, signal });
  const shownSource = isUrl(request.source) ? displayUrl(request.source) : request.source;
  // The markdown chunker sizes chunks by the model's tokenizer, so even a dry run loads it.
  const needsModel = !request.dryRun || request.chunker === 'markdown';
  // Refused by the store within seconds: do not make the refusal wait on a model load first.
  if (!request.dryRun && pool.storeRefusesUs()) await pool.store(progress, signal);
  const loading = needsModel ? pool.embedder(ingestModel(pool, request), progress) : undefined;
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
  const store = await pool.store(progress, signal);
  const embedder = await (loading as Promise<Embedder>);
  const chunks = await cut();
  // Two ingests into one collection would drop each other's new data: they take turns.
  const stats = await writing(pool, request.collection, () =>
    ingestChunks(chunks, {
      collection: request.collection,
      embedder,
      store,
      probes: pool.probeVectors,
      progress,
      replace: request.replace,
      chunker: request.chunker,
      batchSize: INSERT_BATCH,
      full: request.full,
      corpus: { source: shownSource, glob: request.glob, digest: corpusDigest(documents) },
      signal,
    }),
  );
  return ingestReport(pool, request, {
    started,
    built: await pool.describe(store, request.collection),
    files: documents.length,
    chunks: stats.chunks,
    embeddingModel: embedder.modelName,
    ...(embedder.endpoint === undefined ? {} : { embeddingEndpoint: embedder.endpoint }),
    dimension: embedder.dimension,
    chunker: request.chunker,
    embeddedChunks: stats.embedded,
    reusedChunks: stats.reused,
    embedSeconds: stats.embedSeconds,
    insertSeconds: stats.insertSeconds,
  });
}

/** A snapshot's chunks and vectors into the collection: no model loads, nothing is embedded. */
async function importSnapshot(pool: EngineResources, request: api.IngestRequest, context: api.OperationContext): Promise<api.IngestResult> {
  const started = performance.now();
  const { progress, signal } = context;
  if (request.dryRun) throw new RagossError('--dry-run reads docs, not snapshots', 'drop --dry-run to import the snapshot', ExitCode.usage);
  // A published snapshot (a release asset, an artifact URL) is downloaded and cached like the docs zip.
  const path = isUrl(request.source)
    ? (await download(request.source, { cacheDir: join(pool.settings.home, 'downloads'), progress, refresh: request.refresh, signal })).path
    : request.source;
  const store = await pool.store(progress, signal);
  // Imported here, not at the top: the Parquet libraries load only for snapshot work.
  const { importSnapshot: importRows } = await import('../pipeline/snapshot.js');
  const embedding = pool.embeddingOf(request);
  const stats = await writing(pool, request.collection, () =>
    importRows(path, {
      collection: request.collection,
      store,
      progress,
      replace: request.replace,
      embeddingModel: request.embeddingModel,
      embeddingDtype: embedding.dtype,
      embeddingUrl: embedding.url,
      signal,
    }),
  );
  const { manifest } = stats;
  if (manifest.grounding !== undefined && !drawnByCurrentRule(manifest.grounding, GROUNDING_PROBES.length)) {
    progress.warn(`snapshot ${path} carries a "not in the docs" line drawn another way than this ragoss draws it (${manifest.grounding.method}) — run \`ragoss calibrate --collection ${request.collection}\` to redraw it`);
  }
  if (manifest.grounding === undefined) {
    progress.warn(`snapshot ${path} carries no grounding calibration (an older ragoss exported it), so the model's default line applies — run \`ragoss calibrate --collection ${request.collection}\` to draw the collection's own`);
  }
  return ingestReport(pool, request, {
    started,
    built: await pool.describe(store, request.collection),
    files: stats.files,
    chunks: manifest.rows,
    embeddingModel: manifest.embeddingModel,
    dimension: manifest.dimension,
    chunker: manifest.chunker as ChunkerName,
    embeddedChunks: 0,
    reusedChunks: 0,
    embedSeconds: 0,
    insertSeconds: stats.insertSeconds,
    snapshot: { collection: manifest.collection, ragossVersion: manifest.ragossVersion, createdAt: manifest.createdAt, ...(manifest.corpus === undefined ? {} : { corpus: manifest.corpus }) },
  });
}

/** What an ingest or an import tells of itself, beyond what the request and the built collection say. */
interface IngestFigures {
  started: number;
  /** The collection as described after the write. */
  built: CollectionInfo;
  files: number;
  chunks: number;
  embeddingModel: string;
  embeddingEndpoint?: string;
  dimension: number;
  chunker: ChunkerName;
  embeddedChunks: number;
  reusedChunks: number;
  embedSeconds: number;
  insertSeconds: number;
  snapshot?: api.SnapshotOrigin;
}

/** The report of an ingest or an import: one shape, whichever wrote the collection. */
function ingestReport(pool: EngineResources, request: api.IngestRequest, figures: IngestFigures): Extract<api.IngestResult, { dryRun: false }> {
  const { built, snapshot } = figures;
  return {
    dryRun: false,
    source: isUrl(request.source) ? displayUrl(request.source) : request.source,
    files: figures.files,
    chunks: figures.chunks,
    collection: request.collection,
    milvus: describeLocation(pool.settings.location),
    embeddingModel: figures.embeddingModel,
    ...(figures.embeddingEndpoint === undefined ? {} : { embeddingEndpoint: figures.embeddingEndpoint }),
    dimension: figures.dimension,
    chunker: figures.chunker,
    // What the report says of the collection it built.
    fullText: built.fullText,
    ...(built.grounding === undefined ? {} : { grounding: built.grounding }),
    embeddedChunks: figures.embeddedChunks,
    reusedChunks: figures.reusedChunks,
    seconds: round2((performance.now() - figures.started) / 1000),
    embedSeconds: round2(figures.embedSeconds),
    insertSeconds: round2(figures.insertSeconds),
    ...(snapshot === undefined ? {} : { snapshot }),
  };
}

export async function exportSnapshot(pool: EngineResources, request: api.ExportRequest, context: api.OperationContext): Promise<api.ExportResult> {
  const started = performance.now();
  const { progress, signal } = context;
  const store = await pool.store(progress, signal);
  // Described afresh, not from the cache: the file must hold what the collection holds now.
  pool.forget(request.collection);
  const info = await pool.describe(store, request.collection);
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

/**
 * Draws the collection's line again from its stored vectors: the probes are embedded, every
 * chunk's vector is read back (nothing is re-embedded) and the calibration is recorded in place.
 */
export async function calibrate(pool: EngineResources, request: api.CalibrateRequest, context: api.OperationContext): Promise<api.CalibrateResult> {
  const started = performance.now();
  const { progress, signal } = context;
  // Fresh, not from the cache: the line is drawn from what the collection holds now.
  pool.forget(request.collection);
  const { store, info, embedder } = await queryParts(pool, request, context);
  const grounding = await writing(pool, request.collection, async () => {
    const calibration = await calibrateStored(info, { store, embedder, probes: pool.probeVectors, progress, signal, batchSize: INSERT_BATCH });
    if (calibration === undefined) throw new RagossError(`collection ${info.name} holds no chunks to calibrate against`, reingestHint(info));
    signal.throwIfAborted();
    await store.recordGrounding(info.physicalName, calibration);
    return calibration;
  });
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

/**
 * A write to the collection, after every earlier one through this engine: two ingests into one
 * collection would drop each other's new data. What was described of it is forgotten after.
 */
function writing<T>(pool: EngineResources, collection: string, work: () => Promise<T>): Promise<T> {
  return pool.exclusive(`ingest:${collection}`, () => work().finally(() => pool.forget(collection)));
}

/** An ingest embeds with the server when one is set (its model: the one named, else the one it serves), else locally. */
function ingestModel(pool: EngineResources, request: api.IngestRequest): EmbedderSpec {
  const settings = pool.embeddingOf(request);
  const named = request.embeddingModel;
  return settings.url === undefined ? localModel(named ?? DEFAULT_EMBEDDING_MODEL, settings) : { kind: 'endpoint', url: settings.url, modelName: named, settings };
}

/** What the markdown chunker needs of the model: how many tokens a text makes, and how many it reads. */
function tokenLimit(embedder: Embedder): TokenLimit {
  return { maxTokens: embedder.tokenBudget('').maxTokens, countTokens: (text) => embedder.tokenBudget(text).tokens };
}

function round2(value: number): number {
  return Number(value.toFixed(2));
}
