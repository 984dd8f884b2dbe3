import { LoadState, MilvusClient, RRFRanker, type ResStatus } from '@zilliz/milvus2-sdk-node';
import { RagossError, errorMessage } from '../errors.js';
import type { GroundingCalibration } from '../types.js';
import { chunkRow, groundingProperty, idFilter, LOCATION_FIELDS, metaFrom, OUTPUT_FIELDS, RAW_FIELD, SPARSE_FIELD, STRONG } from './milvus-schema.js';
import {
  notIngestedError,
  serverFeatures,
  type CollectionInfo,
  type CollectionMeta,
  type CollectionWriter,
  type ChunkKey,
  type PageChunk,
  type RetrievalMode,
  type SearchHit,
  type SearchQuery,
  type StoredChunk,
  type VectorStore,
} from './store.js';
import { aliasOf, beginSwap, type SwapHost } from './swap.js';

export { truncateUtf8 } from './milvus-schema.js';

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

/** A query refused because the collection is not loaded (yet): Milvus Lite's "is in state 'loading'" or "'released'", Milvus's "collection not loaded" (code 101). */
function isNotLoaded(status: ResStatus): boolean {
  return status.code === 101 || /in state '(loading|released)'|not loaded/i.test(status.reason ?? '');
}

/** The collection an alias pointed at was dropped while we read it: the alias moved on. */
class CollectionVanished extends Error {
  constructor(readonly reason: unknown) {
    super('collection vanished while being described');
  }
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

/**
 * Whether each collection's rows carry where their chunk sits in its file (ragoss 0.2+), by alias
 * and physical name: every `describe` records it, and the reads that ask for those fields
 * (`search`, `chunksByIds`) look it up first, describing a name they do not find.
 */
class RowLayouts {
  private readonly pageTextOf = new Map<string, boolean>();

  learn(names: readonly string[], pageText: boolean): void {
    for (const name of names) this.pageTextOf.set(name, pageText);
  }

  /** Unknown until the name is described. */
  pageText(name: string): boolean | undefined {
    return this.pageTextOf.get(name);
  }
}

/** How often a collection being loaded is checked on, how often the load is asked for again, and the least time it is given. */
const LOAD_POLL_MS = 100;
const LOAD_REQUEST_EVERY_MS = 5000;
const MIN_LOAD_WAIT_MS = 60_000;

export class MilvusStore implements VectorStore {
  private readonly rowLayouts = new RowLayouts();
  /** Loads in flight, by physical name: concurrent requests wait on one. */
  private readonly loads = new Map<string, Promise<void>>();

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
    const pageText = described.schema.fields.some((field) => field.name === RAW_FIELD);
    this.rowLayouts.learn([name, physicalName], pageText);
    return {
      name,
      physicalName,
      ...metaFrom(properties, vectorField?.dim === undefined ? undefined : Number(vectorField.dim)),
      rowCount: Number(count.data[0]?.['count(*)'] ?? 0),
      fullText: described.schema.fields.some((field) => field.name === SPARSE_FIELD),
      pageText,
    };
  }

  /** The fields to read back with a chunk: the location ones only where the collection has them (see RowLayouts). */
  private async chunkFields(name: string, fields: readonly string[]): Promise<string[]> {
    const pageText = this.rowLayouts.pageText(name) ?? (await this.describe(name))?.pageText ?? false;
    return pageText ? [...fields, ...LOCATION_FIELDS] : [...fields];
  }

  private async exists(physicalName: string): Promise<boolean> {
    const result = await this.call('hasCollection', () => this.client.hasCollection({ collection_name: physicalName }));
    return Boolean(result.value);
  }

  /**
   * Milvus Lite (and a restarted Milvus) keeps collections released; queries need them loaded.
   * Concurrent requests share one load: Milvus Lite answers a second load of a collection still
   * loading at once, and a query sent then fails ("is in state 'loading'").
   */
  private ensureLoaded(physicalName: string): Promise<void> {
    const pending = this.loads.get(physicalName);
    if (pending !== undefined) return pending;
    const load = this.loadAndWait(physicalName).finally(() => this.loads.delete(physicalName));
    this.loads.set(physicalName, load);
    return load;
  }

  /**
   * Asks Milvus to load the collection and polls its load state until it is loaded. Not the SDK's
   * loadCollection: that polls the loading progress with no bound, and on CI's busy machine a
   * service's first burst of requests hung behind one that never reached 100%. The request is
   * repeated now and then (it is idempotent, and a load Milvus Lite left stalled starts again).
   */
  private async loadAndWait(physicalName: string): Promise<void> {
    const loadState = async () => (await this.call('getLoadState', () => this.client.getLoadState({ collection_name: physicalName }))).state;
    if ((await loadState()) === LoadState.LoadStateLoaded) return;
    const requestLoad = () => this.call('loadCollection', () => this.client.loadCollectionAsync({ collection_name: physicalName }));
    await requestLoad();
    const waitMs = Math.max(this.connection.timeoutMs, MIN_LOAD_WAIT_MS);
    const started = Date.now();
    let requested = started;
    while ((await loadState()) !== LoadState.LoadStateLoaded) {
      const now = Date.now();
      if (now - started >= waitMs) throw this.failure('loadCollection', `${physicalName} was still not loaded after ${Math.round(waitMs / 1000)}s`);
      if (now - requested >= LOAD_REQUEST_EVERY_MS) {
        requested = now;
        await requestLoad();
      }
      await new Promise((resolveDelay) => setTimeout(resolveDelay, LOAD_POLL_MS));
    }
  }

  async listCollections(): Promise<CollectionInfo[]> {
    const physical = await this.physicalNames();
    const names = new Set(physical.map(aliasOf));
    const infos: CollectionInfo[] = [];
    for (const name of [...names].sort()) {
      const info = await this.describe(name);
      if (info !== undefined) infos.push(info);
    }
    return infos;
  }

  beginReplace(name: string, meta: CollectionMeta): Promise<CollectionWriter> {
    return beginSwap(this.swapHost(), name, meta);
  }

  /** The store's calls and knowledge the alias swap (swap.ts) works through. */
  private swapHost(): SwapHost {
    return {
      location: this.location,
      client: this.client,
      run: (what, call) => this.call(what, call),
      describe: (name) => this.describe(name),
      physicalNames: () => this.physicalNames(),
      hasFullText: () => this.hasFullText(),
      writeGrounding: (physicalName, grounding) => this.writeGrounding(physicalName, grounding),
      ensureLoaded: (physicalName) => this.ensureLoaded(physicalName),
    };
  }

  async recordGrounding(name: string, grounding: GroundingCalibration): Promise<void> {
    const info = await this.describe(name);
    if (info === undefined) throw notIngestedError(name, this.location);
    await this.writeGrounding(info.physicalName, grounding);
  }

  private async writeGrounding(physicalName: string, grounding: GroundingCalibration): Promise<void> {
    await this.call('alterCollectionProperties', () =>
      this.client.alterCollectionProperties({ collection_name: physicalName, properties: groundingProperty(grounding) }),
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

  async search(name: string, query: SearchQuery, topK: number, mode: RetrievalMode): Promise<SearchHit[]> {
    let result;
    try {
      const outputFields = await this.chunkFields(name, OUTPUT_FIELDS);
      const run = () => this.client.search(searchRequest(name, query, topK, mode, outputFields));
      result = await run();
      // Released since it was described (a restarted Milvus Lite): describing loads it, and waits.
      if (!isOk(result.status) && isNotLoaded(result.status) && (await this.describe(name)) !== undefined) result = await run();
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
