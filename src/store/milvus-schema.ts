import { DataType, FunctionType, type ConsistencyLevelEnum, type RowData } from '@zilliz/milvus2-sdk-node';
import type { CorpusRecord, GroundingCalibration } from '../types.js';
import type { CollectionMeta, StoredChunk } from './store.js';

/**
 * How ragoss's chunks and records lie in a Milvus collection: its fields, the properties a
 * collection records, and the conversions between those and the store's types.
 */

/**
 * Every read is Strong (the collections are created so too): a search or count right after a write
 * sees it. Given by name because the SDK's enum value for Strong is 0, and its search falls back to
 * the collection's level on a falsy one; the protobuf encoder takes names for this enum field.
 */
export const STRONG = 'Strong' as unknown as ConsistencyLevelEnum;
const PROP_MODEL = 'ragoss.embedding_model';
const PROP_DIMENSION = 'ragoss.dimension';
const PROP_CHUNKER = 'ragoss.chunker';
const PROP_DTYPE = 'ragoss.embedding_dtype';
const PROP_ENDPOINT = 'ragoss.embedding_endpoint';
const PROP_SOURCE = 'ragoss.source';
const PROP_GLOB = 'ragoss.glob';
const PROP_CORPUS_DIGEST = 'ragoss.corpus_digest';
/** The grounding calibration as JSON (see pipeline/grounding.ts). */
const PROP_GROUNDING = 'ragoss.grounding';
/** Filled by Milvus from `text` through a BM25 function; ragoss never writes it. */
export const SPARSE_FIELD = 'sparse';
/** Milvus caps VarChar at 65,535 bytes; longer chunks are cut (by bytes, on a character boundary). */
const MAX_TEXT_BYTES = 65_535;
export const OUTPUT_FIELDS = ['text', 'source', 'chunk_index'];
/** Where a chunk sits in its file; absent from collections made before ragoss 0.2. */
export const RAW_FIELD = 'raw';
export const LOCATION_FIELDS = ['heading', 'line'];
const MAX_HEADING_BYTES = 1024;

export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8');
  // A cut through a multi-byte character decodes to U+FFFD; drop it.
  return cut.replace(/\uFFFD$/, '');
}

/** A new collection for ragoss's chunks, recording `meta`; with `fullText`, a BM25 function on its text. */
export function collectionSchema(physicalName: string, meta: CollectionMeta, fullText: boolean) {
  return {
    collection_name: physicalName,
    fields: [
      { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
      { name: 'vector', data_type: DataType.FloatVector, dim: meta.dimension },
      { name: 'text', data_type: DataType.VarChar, max_length: MAX_TEXT_BYTES, ...(fullText ? { enable_analyzer: true } : {}) },
      { name: 'source', data_type: DataType.VarChar, max_length: 1024 },
      { name: 'chunk_index', data_type: DataType.Int64 },
      { name: RAW_FIELD, data_type: DataType.VarChar, max_length: MAX_TEXT_BYTES },
      { name: 'heading', data_type: DataType.VarChar, max_length: MAX_HEADING_BYTES },
      { name: 'line', data_type: DataType.Int64 },
      ...(fullText ? [{ name: SPARSE_FIELD, data_type: DataType.SparseFloatVector }] : []),
    ],
    ...(fullText
      ? { functions: [{ name: 'text_bm25', type: FunctionType.BM25, input_field_names: ['text'], output_field_names: [SPARSE_FIELD], params: {} }] }
      : {}),
    consistency_level: 'Strong' as const,
    properties: {
      [PROP_MODEL]: meta.embeddingModel,
      [PROP_DIMENSION]: String(meta.dimension),
      [PROP_CHUNKER]: meta.chunker,
      ...(meta.embeddingDtype === undefined ? {} : { [PROP_DTYPE]: meta.embeddingDtype }),
      ...(meta.embeddingEndpoint === undefined ? {} : { [PROP_ENDPOINT]: meta.embeddingEndpoint }),
      ...(meta.corpus === undefined ? {} : { [PROP_SOURCE]: meta.corpus.source, [PROP_GLOB]: meta.corpus.glob, [PROP_CORPUS_DIGEST]: meta.corpus.digest }),
      ...groundingProperty(meta.grounding),
    },
  };
}

/** The property that records a grounding calibration (none: nothing recorded). */
export function groundingProperty(grounding: GroundingCalibration | undefined): Record<string, string> {
  return grounding === undefined ? {} : { [PROP_GROUNDING]: JSON.stringify(grounding) };
}

/** What a collection's properties record; `vectorDim`: the vector field's, for collections that did not record it. */
export function metaFrom(properties: ReadonlyMap<string, string>, vectorDim: number | undefined): CollectionMeta {
  return {
    embeddingModel: properties.get(PROP_MODEL) ?? 'unknown',
    ...(properties.has(PROP_DTYPE) ? { embeddingDtype: properties.get(PROP_DTYPE) } : {}),
    ...(properties.has(PROP_ENDPOINT) ? { embeddingEndpoint: properties.get(PROP_ENDPOINT) } : {}),
    ...corpusFrom(properties),
    ...groundingFrom(properties),
    dimension: Number(properties.get(PROP_DIMENSION) ?? vectorDim ?? 0),
    // Collections from before the chunker was recorded were all cut the seed way.
    chunker: properties.get(PROP_CHUNKER) ?? 'seed',
  };
}

function corpusFrom(properties: ReadonlyMap<string, string>): { corpus?: CorpusRecord } {
  const source = properties.get(PROP_SOURCE);
  const glob = properties.get(PROP_GLOB);
  const digest = properties.get(PROP_CORPUS_DIGEST);
  return source === undefined || glob === undefined || digest === undefined ? {} : { corpus: { source, glob, digest } };
}

/** A calibration another ragoss wrote in a shape this one does not read is left out: the model's default line applies. */
function groundingFrom(properties: ReadonlyMap<string, string>): { grounding?: GroundingCalibration } {
  const recorded = properties.get(PROP_GROUNDING);
  if (recorded === undefined) return {};
  try {
    const grounding = JSON.parse(recorded) as GroundingCalibration;
    return typeof grounding.threshold === 'number' && Number.isFinite(grounding.threshold) ? { grounding } : {};
  } catch {
    return {};
  }
}

/** A chunk as a row to insert. */
export function insertRow(chunk: StoredChunk): RowData {
  return {
    id: chunk.id,
    vector: Array.from(chunk.vector),
    text: truncateUtf8(chunk.text, MAX_TEXT_BYTES),
    source: chunk.source,
    chunk_index: chunk.chunkIndex,
    [RAW_FIELD]: truncateUtf8(chunk.raw, MAX_TEXT_BYTES),
    heading: truncateUtf8(chunk.heading, MAX_HEADING_BYTES),
    line: chunk.line,
  };
}

export function chunkRow(row: Record<string, unknown>): { text: string; source: string; chunkIndex: number } {
  return { text: String(row['text'] ?? ''), source: String(row['source'] ?? ''), chunkIndex: Number(row['chunk_index'] ?? 0) };
}

/** Ids are hex digests (chunkId) or a snapshot's strings: quoted as JSON, they are valid filter literals. */
export function idFilter(ids: readonly string[]): string {
  return `id in [${ids.map((id) => JSON.stringify(id)).join(', ')}]`;
}
