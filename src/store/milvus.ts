import { ConsistencyLevelEnum, DataType, FunctionType, LoadState, MilvusClient, RRFRanker, type ResStatus } from '@zilliz/milvus2-sdk-node';
import { ExitCode, RagossError, errorMessage } from '../errors.js';
import type { GroundingCalibration } from '../types.js';
import {
  notIngestedError,
  serverFeatures,
  type CollectionInfo,
  type CollectionMeta,
  type CollectionWriter,
  type ChunkKey,
  type CorpusRecord,
  type PageChunk,
  type RetrievalMode,
  type SearchHit,
  type SearchQuery,
  type StoredChunk,
  type VectorStore,
} from './store.js';

/**
 * Every read is Strong (the collections are created so too): a search or count right after a write
 * sees it. Given by name because the SDK's enum value for Strong is 0, and its search falls back to
 * the collection's level on a falsy one; the protobuf encoder takes names for this enum field.
 */
const STRONG = 'Strong' as unknown as ConsistencyLevelEnum;
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
const SPARSE_FIELD = 'sparse';
/** Reciprocal rank fusion's usual constant: ranks matter, raw scores of the two searches never mix. */
const RRF_K = 60;
/** Candidates each side of a hybrid search brings to the fusion. */
const HYBRID_CANDIDATES = 50;
/**
 * HNSW's search breadth (`ef`) for the dense side. With Milvus's default the ranking was not the
 * vectors' own at docs scale: on Milvus 2.3 two builds of the same 3,820 rows disagreed on the top
 * 10 of 3 of 30 dev questions and matched the exact inner-product ranking on 22; with 128, all 30
 * matched it on both builds and on Milvus Lite, at no cost worth measuring at this size.
 */
const SEARCH_EF = 128;
const PHYSICAL_SEPARATOR = '__';
/** Milvus caps VarChar at 65,535 bytes; longer chunks are cut (by bytes, on a character boundary). */
const MAX_TEXT_BYTES = 65_535;
const OUTPUT_FIELDS = ['text', 'source', 'chunk_index'];
/** Where a chunk sits in its file; absent from collections made before ragoss 0.2. */
const RAW_FIELD = 'raw';
const LOCATION_FIELDS = ['heading', 'line'];
const MAX_HEADING_BYTES = 1024;

export interface MilvusConnection {
  address: string;
  ssl: boolean;
  token?: string;
  /** Shown to the user; must not contain the token. */
  displayUri: string;
  /** Deadline for each call, so a server that accepts connections but never answers cannot hang us. */
  timeoutMs: number;
  /** Explains failures that are really "the embedded server died". */
  explainFailure?: () => string | undefined;
  /** Runs after the connection closes (the embedded server stops here). */
  onClose?: () => Promise<void>;
}

function isOk(status: ResStatus | undefined): boolean {
  return status === undefined || status.error_code === 'Success' || (status.error_code === undefined && (status.code ?? 0) === 0);
}

function statusReason(status: ResStatus): string {
  return status.reason || status.detail || String(status.error_code ?? status.code);
}

function isMissingCollection(status: ResStatus): boolean {
  return status.error_code === 'CollectionNotExists' || status.code === 100 || /not.?(found|exist)/i.test(status.reason ?? '');
}

/** The collection an alias pointed at was dropped while we read it: the alias moved on. */
class CollectionVanished extends Error {
  constructor(readonly reason: unknown) {
    super('collection vanished while being described');
  }
}

export function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const cut = Buffer.from(text).subarray(0, maxBytes).toString('utf8');
  // A cut through a multi-byte character decodes to U+FFFD; drop it.
  return cut.replace(/\uFFFD$/, '');
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

function chunkRow(row: Record<string, unknown>): { text: string; source: string; chunkIndex: number } {
  return { text: String(row['text'] ?? ''), source: String(row['source'] ?? ''), chunkIndex: Number(row['chunk_index'] ?? 0) };
}

/** Ids are hex digests (chunkId) or a snapshot's strings: quoted as JSON, they are valid filter literals. */
function idFilter(ids: readonly string[]): string {
  return `id in [${ids.map((id) => JSON.stringify(id)).join(', ')}]`;
}

export function physicalNameFor(name: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/\D/g, '').slice(0, 17);
  const nonce = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0');
  return `${name}${PHYSICAL_SEPARATOR}${stamp}_${nonce}`;
}

function vectorOf(query: SearchQuery): number[] {
  if (query.vector === undefined) throw new Error('dense and hybrid search need the question\'s vector');
  return Array.from(query.vector);
}

function searchRequest(name: string, query: SearchQuery, topK: number, mode: RetrievalMode, outputFields: readonly string[]) {
  const common = { collection_name: name, limit: topK, output_fields: [...outputFields], consistency_level: STRONG };
  if (mode === 'dense') return { ...common, anns_field: 'vector', data: [vectorOf(query)], metric_type: 'IP', params: { ef: Math.max(SEARCH_EF, topK) } };
  if (mode === 'bm25') return { ...common, anns_field: SPARSE_FIELD, data: [query.text], metric_type: 'BM25' };
  const candidates = Math.max(HYBRID_CANDIDATES, topK);
  return {
    ...common,
    data: [
      { anns_field: 'vector', data: vectorOf(query), params: { metric_type: 'IP', topk: candidates, ef: Math.max(SEARCH_EF, candidates) } },
      { anns_field: SPARSE_FIELD, data: query.text, params: { metric_type: 'BM25', topk: candidates } },
    ],
    rerank: RRFRanker(RRF_K),
  };
}

/**
 * gRPC's failure in words where it has a plain name; its own first line otherwise. A deadline is
 * one plain line however grpc-js words it: expiring while it still picks a connection ("Waiting
 * for LB pick"), resolves the name or waits for the answer, it lists its internal timings.
 */
export function grpcProblem(message: string, timeoutMs: number): string {
  if (/Name resolution failed/.test(message)) return 'host not found';
  if (/ECONNREFUSED|Connection refused/i.test(message)) return 'connection refused';
  if (/DEADLINE_EXCEEDED|Deadline exceeded/i.test(message)) return `no answer within ${timeoutMs / 1000}s`;
  return message.split('\n')[0] ?? message;
}

/**
 * gRPC channel options for every connection to Milvus. The SDK pings every 10 s, even with no call
 * in flight; gRPC servers (Milvus and Milvus Lite too) take pings less than 5 minutes apart with no
 * data between them as abuse and send GOAWAY (ENHANCE_YOUR_CALM): grpc-js prints "excess pings" and
 * fails any call on that connection with "RESOURCE_EXHAUSTED: Bandwidth exhausted". It happened during
 * a long embedding pause or a slow flush. Every call has its own deadline, so keepalive is not how
 * we find a dead server.
 */
export const MILVUS_CHANNEL_OPTIONS: Readonly<Record<string, number>> = Object.freeze({
  'grpc.keepalive_permit_without_calls': 0,
  'grpc.keepalive_time_ms': 300_000,
});

export class MilvusStore implements VectorStore {
  private constructor(
    private readonly client: MilvusClient,
    private readonly connection: MilvusConnection,
  ) {}

  get location(): string {
    return this.connection.displayUri;
  }

  static async connect(connection: MilvusConnection): Promise<MilvusStore> {
    const client = new MilvusClient({
      address: connection.address,
      ssl: connection.ssl,
      token: connection.token,
      timeout: connection.timeoutMs,
      logLevel: 'error',
      channelOptions: MILVUS_CHANNEL_OPTIONS,
    });
    // The constructor starts connecting at once; an unobserved rejection would kill the process.
    const connected = client.connectPromise.then(
      () => undefined,
      (error: unknown) => error,
    );
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolveTimeout) => {
      timer = setTimeout(() => resolveTimeout('timeout'), connection.timeoutMs);
    });
    const outcome = await Promise.race([connected, timedOut]);
    clearTimeout(timer);
    if (outcome !== undefined) {
      void client.closeConnection().catch(() => undefined);
      const why = outcome === 'timeout' ? `no answer within ${connection.timeoutMs / 1000}s` : grpcProblem(errorMessage(outcome), connection.timeoutMs);
      throw new RagossError(
        `cannot reach Milvus at ${connection.displayUri}: ${connection.explainFailure?.() ?? why}`,
        'check MILVUS_URI and start the server (docker compose up -d, or milvus-lite server --data-dir DIR --port 19530), or unset MILVUS_URI to use the embedded Milvus Lite',
      );
    }
    return new MilvusStore(client, connection);
  }

  private failure(what: string, reason: string, cause?: unknown): RagossError {
    const explained = this.connection.explainFailure?.();
    return new RagossError(`Milvus at ${this.connection.displayUri}: ${what} failed: ${explained ?? reason}`, undefined, undefined, { cause });
  }

  /** Runs one SDK call, turning thrown errors and non-success statuses into one clear error. */
  private async call<T extends object>(what: string, run: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await run();
    } catch (error) {
      throw this.failure(what, grpcProblem(errorMessage(error), this.connection.timeoutMs), error);
    }
    const status = ('status' in result ? result.status : 'error_code' in result ? result : undefined) as ResStatus | undefined;
    if (!isOk(status)) throw this.failure(what, statusReason(status as ResStatus));
    return result;
  }

  async serverVersion(): Promise<string> {
    const result = await this.call('getVersion', () => this.client.getVersion());
    return result.version;
  }

  private async physicalNames(): Promise<string[]> {
    const result = await this.call('listCollections', () => this.client.listCollections());
    return result.data.map((collection) => collection.name);
  }

  /**
   * What `name` is now. Another process may swap the alias and drop the collection it pointed at
   * between our calls (an ingest finishing while doctor or a search describes): then the alias is
   * described again, up to three times.
   */
  async describe(name: string): Promise<CollectionInfo | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.describeOnce(name);
      } catch (error) {
        if (!(error instanceof CollectionVanished) || attempt === 3) throw error instanceof CollectionVanished ? error.reason : error;
      }
    }
  }

  private async describeOnce(name: string): Promise<CollectionInfo | undefined> {
    let described;
    try {
      described = await this.client.describeCollection({ collection_name: name });
    } catch (error) {
      throw this.failure('describeCollection', errorMessage(error), error);
    }
    if (!isOk(described.status)) {
      if (isMissingCollection(described.status)) return undefined;
      throw this.failure('describeCollection', statusReason(described.status));
    }
    // Milvus 2.3 echoes an alias back as collection_name; schema.name is the real collection on
    // every version (Milvus Lite fills both with it).
    const physicalName = described.schema?.name || described.collection_name;
    const properties = new Map(described.properties.map(({ key, value }) => [key, String(value)]));
    const vectorField = described.schema.fields.find((field) => field.name === 'vector');
    const dimension = Number(properties.get(PROP_DIMENSION) ?? vectorField?.dim ?? 0);
    let count;
    try {
      await this.ensureLoaded(physicalName);
      count = await this.call('query count(*)', () =>
        this.client.query({ collection_name: physicalName, filter: '', output_fields: ['count(*)'], consistency_level: STRONG }),
      );
    } catch (error) {
      if (physicalName !== name && !(await this.exists(physicalName))) throw new CollectionVanished(error);
      throw error;
    }
    return {
      name,
      physicalName,
      embeddingModel: properties.get(PROP_MODEL) ?? 'unknown',
      ...(properties.has(PROP_DTYPE) ? { embeddingDtype: properties.get(PROP_DTYPE) } : {}),
      ...(properties.has(PROP_ENDPOINT) ? { embeddingEndpoint: properties.get(PROP_ENDPOINT) } : {}),
      ...corpusFrom(properties),
      ...groundingFrom(properties),
      dimension,
      // Collections from before the chunker was recorded were all cut the seed way.
      chunker: properties.get(PROP_CHUNKER) ?? 'seed',
      rowCount: Number(count.data[0]?.['count(*)'] ?? 0),
      fullText: described.schema.fields.some((field) => field.name === SPARSE_FIELD),
      pageText: this.notePageText([name, physicalName], described.schema.fields.some((field) => field.name === RAW_FIELD)),
    };
  }

  /** Which collections (by alias and physical name) store where their chunks sit, as last described. */
  private readonly pageTextOf = new Map<string, boolean>();

  private notePageText(names: readonly string[], pageText: boolean): boolean {
    for (const name of names) this.pageTextOf.set(name, pageText);
    return pageText;
  }

  /** The fields to read back with a chunk: the location ones only where the collection has them. */
  private async chunkFields(name: string, fields: readonly string[]): Promise<string[]> {
    const pageText = this.pageTextOf.get(name) ?? (await this.describe(name))?.pageText ?? false;
    return pageText ? [...fields, ...LOCATION_FIELDS] : [...fields];
  }

  private async exists(physicalName: string): Promise<boolean> {
    const result = await this.call('hasCollection', () => this.client.hasCollection({ collection_name: physicalName }));
    return Boolean(result.value);
  }

  /** Milvus Lite (and a restarted Milvus) keeps collections released; queries need them loaded. */
  private async ensureLoaded(physicalName: string): Promise<void> {
    const state = await this.call('getLoadState', () => this.client.getLoadState({ collection_name: physicalName }));
    if (state.state !== LoadState.LoadStateLoaded) {
      await this.call('loadCollection', () => this.client.loadCollection({ collection_name: physicalName }));
    }
  }

  async listCollections(): Promise<CollectionInfo[]> {
    const physical = await this.physicalNames();
    const names = new Set(physical.map((name) => name.split(PHYSICAL_SEPARATOR)[0] as string));
    const infos: CollectionInfo[] = [];
    for (const name of [...names].sort()) {
      const info = await this.describe(name);
      if (info !== undefined) infos.push(info);
    }
    return infos;
  }

  /** Drops leftovers of ingests that died before their commit: physical collections no alias points at. */
  private async dropStale(name: string, keep: string | undefined): Promise<void> {
    for (const physical of await this.physicalNames()) {
      if (physical.startsWith(`${name}${PHYSICAL_SEPARATOR}`) && physical !== keep) {
        await this.call(`drop stale collection ${physical}`, () => this.client.dropCollection({ collection_name: physical }));
      }
    }
  }

  async beginReplace(name: string, meta: CollectionMeta): Promise<CollectionWriter> {
    const current = await this.describe(name);
    if (current !== undefined && current.physicalName === name) {
      throw new RagossError(
        `collection ${name} at ${this.location} was not created by ragoss (it is a plain collection, not an alias)`,
        'choose another --collection, or drop that collection first',
        ExitCode.usage,
      );
    }
    await this.dropStale(name, current?.physicalName);
    const physicalName = physicalNameFor(name);
    const fullText = await this.hasFullText();
    await this.call('createCollection', () =>
      this.client.createCollection({
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
        consistency_level: 'Strong',
        properties: {
          [PROP_MODEL]: meta.embeddingModel,
          [PROP_DIMENSION]: String(meta.dimension),
          [PROP_CHUNKER]: meta.chunker,
          ...(meta.embeddingDtype === undefined ? {} : { [PROP_DTYPE]: meta.embeddingDtype }),
          ...(meta.embeddingEndpoint === undefined ? {} : { [PROP_ENDPOINT]: meta.embeddingEndpoint }),
          ...(meta.corpus === undefined ? {} : { [PROP_SOURCE]: meta.corpus.source, [PROP_GLOB]: meta.corpus.glob, [PROP_CORPUS_DIGEST]: meta.corpus.digest }),
          ...(meta.grounding === undefined ? {} : { [PROP_GROUNDING]: JSON.stringify(meta.grounding) }),
        },
      }),
    );
    await this.call('createIndex', () =>
      this.client.createIndex({ collection_name: physicalName, field_name: 'vector', index_type: 'AUTOINDEX', metric_type: 'IP' }),
    );
    if (fullText) {
      await this.call('createIndex (BM25)', () =>
        this.client.createIndex({ collection_name: physicalName, field_name: SPARSE_FIELD, index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'BM25' }),
      );
    }
    // Loading takes ~3 s on a Milvus 2.3 server even when empty: start it now, so it runs while the
    // chunks embed and insert (inserts into a loading collection are fine); commit waits for it.
    await this.call('loadCollectionAsync', () => this.client.loadCollectionAsync({ collection_name: physicalName }));
    return new MilvusWriter(this, this.client, name, physicalName, current?.physicalName);
  }

  async recordGrounding(name: string, grounding: GroundingCalibration): Promise<void> {
    const info = await this.describe(name);
    if (info === undefined) throw notIngestedError(name, this.location);
    await this.writeGrounding(info.physicalName, grounding);
  }

  /** @internal also used by the writer, before the alias moves to the new collection */
  async writeGrounding(physicalName: string, grounding: GroundingCalibration): Promise<void> {
    await this.call('alterCollectionProperties', () =>
      this.client.alterCollectionProperties({ collection_name: physicalName, properties: { [PROP_GROUNDING]: JSON.stringify(grounding) } }),
    );
  }

  async vectorsByIds(name: string, ids: readonly string[]): Promise<Map<string, Float32Array>> {
    const found = new Map<string, Float32Array>();
    if (ids.length === 0) return found;
    const result = await this.call('query vectors by id', () =>
      this.client.query({
        collection_name: name,
        filter: idFilter(ids),
        output_fields: ['id', 'vector'],
        limit: ids.length,
        consistency_level: STRONG,
      }),
    );
    for (const row of result.data) found.set(String(row['id']), Float32Array.from(row['vector'] as number[]));
    return found;
  }

  async chunkKeys(name: string): Promise<ChunkKey[]> {
    // A filter that every row passes: Milvus wants a limit with an empty one, and any limit caps.
    const result = await this.call('query chunk keys', () =>
      this.client.query({ collection_name: name, filter: 'chunk_index >= 0', output_fields: ['id', 'source', 'chunk_index'], consistency_level: STRONG }),
    );
    return result.data.map((row) => ({ id: String(row['id']), source: String(row['source']), chunkIndex: Number(row['chunk_index']) }));
  }

  async chunksByIds(name: string, ids: readonly string[]): Promise<StoredChunk[]> {
    if (ids.length === 0) return [];
    const outputFields = await this.chunkFields(name, ['id', 'vector', ...OUTPUT_FIELDS, RAW_FIELD]);
    const result = await this.call('query chunks by id', () =>
      this.client.query({ collection_name: name, filter: idFilter(ids), output_fields: outputFields, limit: ids.length, consistency_level: STRONG }),
    );
    const byId = new Map(
      result.data.map((row) => [
        String(row['id']),
        { id: String(row['id']), vector: Float32Array.from(row['vector'] as number[]), ...chunkRow(row), raw: String(row[RAW_FIELD] ?? ''), heading: String(row['heading'] ?? ''), line: Number(row['line'] ?? 0) },
      ]),
    );
    return ids.flatMap((id) => byId.get(id) ?? []);
  }

  async pageChunks(name: string, source: string): Promise<PageChunk[]> {
    const result = await this.call('query page chunks', () =>
      this.client.query({
        collection_name: name,
        filter: `source == ${JSON.stringify(source)}`,
        output_fields: ['chunk_index', 'text', RAW_FIELD, ...LOCATION_FIELDS],
        consistency_level: STRONG,
      }),
    );
    return result.data
      .map((row) => ({ chunkIndex: Number(row['chunk_index']), text: String(row['text'] ?? ''), raw: String(row[RAW_FIELD] ?? ''), heading: String(row['heading'] ?? ''), line: Number(row['line'] ?? 0) }))
      .sort((a, b) => a.chunkIndex - b.chunkIndex);
  }

  private fullTextSupport: Promise<boolean> | undefined;

  /** Full-text search needs Milvus 2.5+ or Milvus Lite 3.2+; older servers get dense vectors only. */
  private hasFullText(): Promise<boolean> {
    this.fullTextSupport ??= this.serverVersion().then((version) => serverFeatures(version).bm25 === true);
    this.fullTextSupport.catch(() => (this.fullTextSupport = undefined));
    return this.fullTextSupport;
  }

  /** @internal used by the writer so every call goes through the same error mapping */
  run<T extends object>(what: string, call: () => Promise<T>): Promise<T> {
    return this.call(what, call);
  }

  async search(name: string, query: SearchQuery, topK: number, mode: RetrievalMode): Promise<SearchHit[]> {
    let result;
    try {
      const outputFields = await this.chunkFields(name, OUTPUT_FIELDS);
      result = await this.client.search(searchRequest(name, query, topK, mode, outputFields));
    } catch (error) {
      // The SDK throws a TypeError, not a status, when the collection is missing: ask Milvus which it was.
      if ((await this.describe(name)) === undefined) throw notIngestedError(name, this.location);
      throw this.failure('search', grpcProblem(errorMessage(error), this.connection.timeoutMs), error);
    }
    if (!isOk(result.status)) {
      if (isMissingCollection(result.status)) throw notIngestedError(name, this.location);
      throw this.failure('search', statusReason(result.status));
    }
    return (result.results as Array<Record<string, unknown>>).map((row) => ({
      // Milvus Lite reports BM25 relevance negated (as a distance); Milvus proper, positive.
      score: mode === 'bm25' ? Math.abs(Number(row['score'])) : Number(row['score']),
      ...chunkRow(row),
      ...('heading' in row ? { heading: String(row['heading']), line: Number(row['line'] ?? 0) } : {}),
    }));
  }

  private closed = false;

  usable(): boolean {
    return !this.closed && this.connection.explainFailure?.() === undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client.closeConnection().catch(() => undefined);
    await this.connection.onClose?.();
  }
}

class MilvusWriter implements CollectionWriter {
  constructor(
    private readonly store: MilvusStore,
    private readonly client: MilvusClient,
    private readonly name: string,
    private readonly physicalName: string,
    private readonly previousPhysicalName: string | undefined,
  ) {}

  async insert(chunks: readonly StoredChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const data = chunks.map((chunk) => ({
      id: chunk.id,
      vector: Array.from(chunk.vector),
      text: truncateUtf8(chunk.text, MAX_TEXT_BYTES),
      source: chunk.source,
      chunk_index: chunk.chunkIndex,
      [RAW_FIELD]: truncateUtf8(chunk.raw, MAX_TEXT_BYTES),
      heading: truncateUtf8(chunk.heading, MAX_HEADING_BYTES),
      line: chunk.line,
    }));
    const result = await this.store.run('insert', () => this.client.insert({ collection_name: this.physicalName, data }));
    if (Number(result.insert_cnt) !== chunks.length) {
      throw new RagossError(`Milvus inserted ${result.insert_cnt} of ${chunks.length} rows into ${this.physicalName}`);
    }
  }

  async commit(expectedRows: number, probe: Float32Array, grounding?: GroundingCalibration): Promise<void> {
    const { store, client, physicalName } = this;
    await store.run('flush', () => client.flush({ collection_names: [physicalName] }));
    await store.run('loadCollection', () => client.loadCollection({ collection_name: physicalName }));
    const count = await store.run('query count(*)', () =>
      client.query({ collection_name: physicalName, filter: '', output_fields: ['count(*)'], consistency_level: STRONG }),
    );
    const rows = Number(count.data[0]?.['count(*)'] ?? -1);
    if (rows !== expectedRows) {
      throw new RagossError(`new collection ${physicalName} holds ${rows} rows, expected ${expectedRows}; the previous data keeps serving`);
    }
    if (expectedRows > 0) {
      const probeResult = await store.run('probe search', () =>
        client.search({ collection_name: physicalName, anns_field: 'vector', data: [Array.from(probe)], limit: 1, metric_type: 'IP', consistency_level: STRONG }),
      );
      if (probeResult.results.length === 0) {
        throw new RagossError(`probe search on new collection ${physicalName} found nothing; the previous data keeps serving`);
      }
    }
    // Recorded before the name moves: no search ever sees the new chunks with the old line.
    if (grounding !== undefined) await store.writeGrounding(physicalName, grounding);
    if (this.previousPhysicalName === undefined) {
      await store.run('createAlias', () => client.createAlias({ collection_name: physicalName, alias: this.name }));
    } else {
      await store.run('alterAlias', () => client.alterAlias({ collection_name: physicalName, alias: this.name }));
      await store.run('drop previous collection', () => client.dropCollection({ collection_name: this.previousPhysicalName as string }));
    }
  }

  async abort(): Promise<void> {
    await this.client.dropCollection({ collection_name: this.physicalName }).catch(() => undefined);
  }
}
