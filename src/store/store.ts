import { ExitCode, RagossError } from '../errors.js';
import type { CorpusRecord, GroundingCalibration } from '../types.js';

/** What ragoss records with a collection so later commands embed questions the same way. */
export interface CollectionMeta {
  embeddingModel: string;
  /** The model weights' dtype; unknown on collections made before ragoss recorded it. */
  embeddingDtype?: string;
  /** The server the vectors came from (OpenAI /embeddings); absent: a local model. Questions go there too. */
  embeddingEndpoint?: string;
  dimension: number;
  /** How the documents were cut into chunks (see corpus/chunk.ts). */
  chunker: string;
  /** Unknown on collections made before ragoss recorded it. */
  corpus?: CorpusRecord;
  /** Where its "not in the docs" line is and how it was drawn; absent on collections made before ragoss calibrated them. */
  grounding?: GroundingCalibration;
}

/** dense: the embedding vectors; bm25: Milvus full-text search; hybrid: both, fused by RRF. */
export const RETRIEVAL_MODES = ['dense', 'bm25', 'hybrid'] as const;
export type RetrievalMode = (typeof RETRIEVAL_MODES)[number];

export interface SearchQuery {
  /** The question as typed: what BM25 matches terms against. */
  text: string;
  /** The question's embedding; needed by dense and hybrid. */
  vector?: Float32Array;
}

export interface CollectionInfo extends CollectionMeta {
  /** The name users pass with --collection (a Milvus alias). */
  name: string;
  /** The physical collection the alias points at; replaced on every ingest. */
  physicalName: string;
  rowCount: number;
  /** Whether the collection has a BM25 full-text index beside its vectors (bm25 and hybrid search). */
  fullText: boolean;
  /** Whether its chunks carry their file's bytes, heading and line (collections made by ragoss 0.2+). */
  pageText: boolean;
}

export interface StoredChunk {
  id: string;
  vector: Float32Array;
  text: string;
  source: string;
  chunkIndex: number;
  /** The file's bytes the chunk stands for: a page's raws, joined in chunk order, are the file. */
  raw: string;
  /** The heading the chunk sits under, as the file writes it ('' above the first heading). */
  heading: string;
  /** 1-based line of the file where the chunk's content starts. */
  line: number;
}

/** What `get` reads of a page's chunks to put the page back together. */
export type PageChunk = Pick<StoredChunk, 'chunkIndex' | 'text' | 'raw' | 'heading' | 'line'>;

/** What identifies a stored chunk and orders it as ingest wrote it. */
export type ChunkKey = Pick<StoredChunk, 'id' | 'source' | 'chunkIndex'>;

export interface SearchHit {
  score: number;
  text: string;
  source: string;
  chunkIndex: number;
  /** Unknown on collections made before ragoss stored where chunks sit in their files. */
  heading?: string;
  line?: number;
}

/** Fills a fresh collection; nothing is visible under the name until `commit` succeeds. */
export interface CollectionWriter {
  insert(chunks: readonly StoredChunk[]): Promise<void>;
  /** Checks the row count and a probe search, records the grounding calibration if given, then points the name at the new data. */
  commit(expectedRows: number, probe: Float32Array, grounding?: GroundingCalibration): Promise<void>;
  /** Drops what was written; the previous data keeps serving. */
  abort(): Promise<void>;
}

export interface VectorStore {
  /** Where the store lives, for messages (never includes credentials). */
  readonly location: string;
  serverVersion(): Promise<string>;
  listCollections(): Promise<CollectionInfo[]>;
  describe(name: string): Promise<CollectionInfo | undefined>;
  beginReplace(name: string, meta: CollectionMeta): Promise<CollectionWriter>;
  /** Records a new grounding calibration with the collection in place (its chunks untouched). */
  recordGrounding(name: string, grounding: GroundingCalibration): Promise<void>;
  /** The stored vectors of those chunk ids that the collection holds (the others are left out). */
  vectorsByIds(name: string, ids: readonly string[]): Promise<Map<string, Float32Array>>;
  /** Every chunk's key: small next to the rows, so an export can order them without holding vectors. */
  chunkKeys(name: string): Promise<ChunkKey[]>;
  /** Whole rows (text and vector too) of those ids the collection holds, in the order asked. */
  chunksByIds(name: string, ids: readonly string[]): Promise<StoredChunk[]>;
  /** One page's chunks (no vectors) in chunk order; needs a collection with `pageText`. */
  pageChunks(name: string, source: string): Promise<PageChunk[]>;
  search(name: string, query: SearchQuery, topK: number, mode: RetrievalMode): Promise<SearchHit[]>;
  /** False once closed or once the server behind it is known to be gone: a long-lived owner reconnects. */
  usable(): boolean;
  close(): Promise<void>;
}

/** Exit code 3: scripts tell "nothing ingested yet" from real failures by it. */
export function notIngestedError(name: string, location: string): RagossError {
  return new RagossError(
    `collection ${name} not found at ${location}`,
    'run `ragoss ingest` first (or pass the --collection / MILVUS_URI you ingested into)',
    ExitCode.notIngested,
  );
}

/** What a Milvus server can do that ragoss may use, from its version string. */
export interface ServerFeatures {
  /** Full-text search (a BM25 function on a text field): Milvus 2.5+, Milvus Lite 3.2+. */
  bm25: boolean | undefined;
}

export function serverFeatures(version: string): ServerFeatures {
  const lite = /^milvus_lite-(\d+)\.(\d+)/.exec(version);
  if (lite) return { bm25: Number(lite[1]) > 3 || (Number(lite[1]) === 3 && Number(lite[2]) >= 2) };
  const server = /^v?(\d+)\.(\d+)/.exec(version);
  if (server) return { bm25: Number(server[1]) > 2 || (Number(server[1]) === 2 && Number(server[2]) >= 5) };
  return { bm25: undefined };
}
