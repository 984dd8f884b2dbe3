import { createHash, type Hash } from 'node:crypto';
import { rename, rm, stat } from 'node:fs/promises';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, type AsyncBuffer, type FileMetaData } from 'hyparquet';
import { ParquetWriter, fileWriter, type ColumnSource, type SchemaElement } from 'hyparquet-writer';
import { ExitCode, RagossError, errorMessage } from '../errors.js';
import type { StoredChunk } from '../store/store.js';
import type { CorpusRecord, GroundingCalibration } from '../types.js';

/**
 * A snapshot is one Parquet file in the layout Milvus's own bulk import reads: one column per
 * collection field, named as the field (`id`, `vector` as a list of float32, `text`, `source`,
 * `chunk_index`), no column for the BM25 sparse field (Milvus computes it from `text`). What the
 * collection records travels in the file's key-value metadata under `ragoss`, which other readers
 * (pyarrow, DuckDB, Milvus) ignore.
 */
export const SNAPSHOT_FORMAT = 'ragoss-snapshot';
/** 2 added `raw`, `heading` and `line` (ragoss 0.2); 1 had no way back to the pages. */
export const SNAPSHOT_FORMAT_VERSION = 2;
const METADATA_KEY = 'ragoss';

/** The `ragoss` metadata entry: the collection's record, and what the rows must add up to. */
export interface SnapshotManifest {
  format: typeof SNAPSHOT_FORMAT;
  formatVersion: number;
  ragossVersion: string;
  createdAt: string;
  /** The collection it was exported from. */
  collection: string;
  embeddingModel: string;
  embeddingDtype?: string;
  /** The embedding server the vectors came from; absent: a local model. */
  embeddingEndpoint?: string;
  dimension: number;
  chunker: string;
  corpus?: CorpusRecord;
  /** The collection's "not in the docs" line, calibrated at build time; absent from older snapshots. */
  grounding?: GroundingCalibration;
  rows: number;
  /** sha256 over every row in file order (see `RowDigest`): catches damage Parquet itself would not. */
  rowsDigest: string;
}

export type SnapshotHeader = Omit<SnapshotManifest, 'format' | 'formatVersion' | 'rows' | 'rowsDigest'>;

/** Rows written per row group: also the batch an import inserts at a time. */
export const SNAPSHOT_ROW_GROUP = 256;

const SCHEMA: SchemaElement[] = [
  { name: 'schema', num_children: 8 },
  { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'source', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'chunk_index', type: 'INT64', repetition_type: 'REQUIRED' },
  { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  // The standard three-level LIST of FLOAT, which Arrow (and so Milvus's importer) reads as list<float>.
  { name: 'vector', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
  { name: 'raw', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'heading', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'line', type: 'INT64', repetition_type: 'REQUIRED' },
];
const COLUMNS = ['id', 'source', 'chunk_index', 'text', 'vector', 'raw', 'heading', 'line'];

/** sha256 over each row's fields and its vector's float32 bytes, in order. */
class RowDigest {
  private readonly hash: Hash = createHash('sha256');

  add(row: StoredChunk): void {
    this.hash.update(`${row.id}\0${row.source}\0${row.chunkIndex}\0${row.text}\0${row.raw}\0${row.heading}\0${row.line}\0`);
    this.hash.update(new Uint8Array(row.vector.buffer, row.vector.byteOffset, row.vector.byteLength));
  }

  hex(): string {
    return this.hash.digest('hex');
  }
}

const WRITE_FAILURES: Readonly<Record<string, string>> = {
  ENOENT: 'its directory does not exist',
  ENOTDIR: 'a part of its directory is a file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  EISDIR: 'it is a directory',
  ENOSPC: 'no space left on the device',
};

/** A target the user can fix (a missing directory, no permission) as one line; anything else as it is. */
function unwritable(path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason = code === undefined ? undefined : WRITE_FAILURES[code];
  if (reason === undefined) return error;
  return new RagossError(`cannot write the snapshot ${path}: ${reason}`, 'choose --out in an existing directory you can write to', ExitCode.failure, { cause: error });
}

function openForWriting(temporary: string, path: string): ReturnType<typeof fileWriter> {
  try {
    return fileWriter(temporary);
  } catch (error) {
    throw unwritable(path, error);
  }
}

/** Writes a snapshot row group by row group; the file appears under its name only once finished. */
export class SnapshotWriter {
  private readonly digest = new RowDigest();
  private rows = 0;
  private readonly writer: ParquetWriter;
  private readonly temporary: string;

  constructor(
    private readonly path: string,
    private readonly header: SnapshotHeader,
  ) {
    this.temporary = `${path}.${process.pid}.partial`;
    this.writer = new ParquetWriter({ writer: openForWriting(this.temporary, path), schema: SCHEMA, codec: 'SNAPPY', createdBy: `ragoss ${header.ragossVersion}` });
  }

  async write(rows: readonly StoredChunk[]): Promise<void> {
    if (rows.length === 0) return;
    for (const row of rows) {
      if (row.vector.length !== this.header.dimension) throw new RagossError(`chunk ${row.id} has a ${row.vector.length}-dim vector, not ${this.header.dimension}`);
      this.digest.add(row);
    }
    this.rows += rows.length;
    const columnData: ColumnSource[] = [
      { name: 'id', data: rows.map((row) => row.id) },
      { name: 'source', data: rows.map((row) => row.source) },
      { name: 'chunk_index', data: rows.map((row) => BigInt(row.chunkIndex)) },
      { name: 'text', data: rows.map((row) => row.text) },
      // The writer wants plain arrays; float32 values stay exact through FLOAT.
      { name: 'vector', data: rows.map((row) => Array.from(row.vector)), statistics: false },
      { name: 'raw', data: rows.map((row) => row.raw) },
      { name: 'heading', data: rows.map((row) => row.heading) },
      { name: 'line', data: rows.map((row) => BigInt(row.line)) },
    ];
    await this.writer.write({ columnData, rowGroupSize: rows.length });
  }

  /** Seals the file with its manifest and moves it into place. */
  async finish(): Promise<{ manifest: SnapshotManifest; bytes: number }> {
    const manifest: SnapshotManifest = { format: SNAPSHOT_FORMAT, formatVersion: SNAPSHOT_FORMAT_VERSION, ...this.header, rows: this.rows, rowsDigest: this.digest.hex() };
    // The manifest's count and digest are known only now; the footer is written from this field.
    this.writer.kvMetadata = [{ key: METADATA_KEY, value: JSON.stringify(manifest) }];
    await this.writer.finish();
    await rename(this.temporary, this.path).catch((error: unknown) => {
      throw unwritable(this.path, error);
    });
    return { manifest, bytes: (await stat(this.path)).size };
  }

  /** Removes the partial file. */
  async abort(): Promise<void> {
    await rm(this.temporary, { force: true });
  }
}

function damaged(path: string, reason: string, cause?: unknown): RagossError {
  return new RagossError(`snapshot ${path} is damaged or not a ragoss snapshot: ${reason}`, 'export it again (ragoss export --out FILE), or copy it again', undefined, { cause });
}

function parseManifest(path: string, metadata: FileMetaData): SnapshotManifest {
  const entry = metadata.key_value_metadata?.find(({ key }) => key === METADATA_KEY)?.value;
  if (entry === undefined) throw damaged(path, `its Parquet metadata has no "${METADATA_KEY}" entry (written by ragoss export)`);
  let manifest: SnapshotManifest;
  try {
    manifest = JSON.parse(entry) as SnapshotManifest;
  } catch (error) {
    throw damaged(path, `its "${METADATA_KEY}" metadata is not JSON`, error);
  }
  if (manifest.format !== SNAPSHOT_FORMAT) throw damaged(path, `its metadata says format "${String(manifest.format)}"`);
  if (manifest.formatVersion > SNAPSHOT_FORMAT_VERSION) {
    throw new RagossError(`snapshot ${path} has format version ${manifest.formatVersion}; this ragoss reads up to ${SNAPSHOT_FORMAT_VERSION}`, 'upgrade ragoss');
  }
  if (manifest.formatVersion < SNAPSHOT_FORMAT_VERSION) {
    throw new RagossError(
      `snapshot ${path} has format version ${manifest.formatVersion} (ragoss ${manifest.ragossVersion}), whose chunks do not carry their pages' text`,
      'export it again with this ragoss (ragoss export --out FILE), or ingest the docs',
    );
  }
  const columns = new Set(metadata.schema.map((element) => element.name));
  for (const column of COLUMNS) {
    if (!columns.has(column)) throw damaged(path, `it has no "${column}" column`);
  }
  if (Number(metadata.num_rows) !== manifest.rows) throw damaged(path, `it holds ${metadata.num_rows} rows, its manifest says ${manifest.rows}`);
  return manifest;
}

/** A snapshot opened for reading: its manifest at once, its rows a row group at a time. */
export class SnapshotReader {
  private constructor(
    readonly path: string,
    readonly manifest: SnapshotManifest,
    private readonly file: AsyncBuffer,
    private readonly metadata: FileMetaData,
  ) {}

  /** Reads the footer only; refuses what is not a ragoss snapshot, with one line. */
  static async open(path: string): Promise<SnapshotReader> {
    let file: AsyncBuffer;
    let metadata: FileMetaData;
    try {
      file = await asyncBufferFromFile(path);
      metadata = await parquetMetadataAsync(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new RagossError(`snapshot ${path} does not exist`, 'check the path given to --source');
      throw damaged(path, errorMessage(error).split('\n')[0] ?? 'unreadable', error);
    }
    return new SnapshotReader(path, parseManifest(path, metadata), file, metadata);
  }

  /**
   * The rows, a row group at a time, each checked against the manifest's dimension; after the last
   * one the digest over all rows must match the manifest's, or this throws before the caller can
   * commit anything.
   */
  async *batches(): AsyncGenerator<StoredChunk[]> {
    const digest = new RowDigest();
    let rowStart = 0;
    let seen = 0;
    for (const group of this.metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      let records: Array<Record<string, unknown>>;
      try {
        records = (await parquetReadObjects({ file: this.file, metadata: this.metadata, rowStart, rowEnd })) as Array<Record<string, unknown>>;
      } catch (error) {
        throw damaged(this.path, `rows ${rowStart}-${rowEnd - 1} cannot be read (${errorMessage(error).split('\n')[0]})`, error);
      }
      const rows = records.map((record) => this.toChunk(record));
      for (const row of rows) digest.add(row);
      seen += rows.length;
      rowStart = rowEnd;
      yield rows;
    }
    if (seen !== this.manifest.rows) throw damaged(this.path, `read ${seen} rows, its manifest says ${this.manifest.rows}`);
    if (digest.hex() !== this.manifest.rowsDigest) throw damaged(this.path, 'its rows do not match the digest in its manifest');
  }

  private toChunk(record: Record<string, unknown>): StoredChunk {
    const vector = record['vector'];
    if (!Array.isArray(vector) || vector.length !== this.manifest.dimension) {
      throw damaged(this.path, `a row's vector has ${Array.isArray(vector) ? vector.length : 'no'} values, not ${this.manifest.dimension}`);
    }
    return {
      id: String(record['id']),
      source: String(record['source']),
      chunkIndex: Number(record['chunk_index']),
      text: String(record['text']),
      vector: Float32Array.from(vector as number[]),
      raw: String(record['raw']),
      heading: String(record['heading']),
      line: Number(record['line']),
    };
  }
}
