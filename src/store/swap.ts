import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { ExitCode, RagossError } from '../errors.js';
import type { GroundingCalibration } from '../types.js';
import { collectionSchema, insertRow, SPARSE_FIELD, STRONG } from './milvus-schema.js';
import type { CollectionInfo, CollectionMeta, CollectionWriter, StoredChunk } from './store.js';

/**
 * How a collection is replaced without a moment of missing or mixed data. The name users pass is a
 * Milvus alias; each ingest fills a fresh physical collection (`name__<stamp>_<nonce>`), checks it,
 * and only then moves the alias to it and drops the one it pointed at. A failed or interrupted
 * ingest leaves its physical collection behind for the next one to drop.
 */

const PHYSICAL_SEPARATOR = '__';

export function physicalNameFor(name: string, now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/\D/g, '').slice(0, 17);
  const nonce = Math.floor(Math.random() * 36 ** 4).toString(36).padStart(4, '0');
  return `${name}${PHYSICAL_SEPARATOR}${stamp}_${nonce}`;
}

/** The name (alias) a physical collection was made for. */
export function aliasOf(physicalName: string): string {
  return physicalName.split(PHYSICAL_SEPARATOR)[0] as string;
}

/** What the swap asks of the store: its calls (each failure mapped to one clear error) and what it knows. */
export interface SwapHost {
  readonly location: string;
  readonly client: MilvusClient;
  run<T extends object>(what: string, call: () => Promise<T>): Promise<T>;
  describe(name: string): Promise<CollectionInfo | undefined>;
  physicalNames(): Promise<string[]>;
  /** Whether the server has full-text search (a BM25 function on the text). */
  hasFullText(): Promise<boolean>;
  writeGrounding(physicalName: string, grounding: GroundingCalibration): Promise<void>;
  /** Until Milvus says the collection is loaded (bounded; the store's own load, not the SDK's unbounded one). */
  ensureLoaded(physicalName: string): Promise<void>;
}

/** A fresh physical collection for `name`, loading while it fills; the alias moves on `commit`. */
export async function beginSwap(host: SwapHost, name: string, meta: CollectionMeta): Promise<CollectionWriter> {
  const { client } = host;
  const current = await host.describe(name);
  if (current !== undefined && current.physicalName === name) {
    throw new RagossError(
      `collection ${name} at ${host.location} was not created by ragoss (it is a plain collection, not an alias)`,
      'choose another --collection, or drop that collection first',
      ExitCode.usage,
    );
  }
  await dropStale(host, name, current?.physicalName);
  const physicalName = physicalNameFor(name);
  const fullText = await host.hasFullText();
  await host.run('createCollection', () => client.createCollection(collectionSchema(physicalName, meta, fullText)));
  await host.run('createIndex', () =>
    client.createIndex({ collection_name: physicalName, field_name: 'vector', index_type: 'AUTOINDEX', metric_type: 'IP' }),
  );
  if (fullText) {
    await host.run('createIndex (BM25)', () =>
      client.createIndex({ collection_name: physicalName, field_name: SPARSE_FIELD, index_type: 'SPARSE_INVERTED_INDEX', metric_type: 'BM25' }),
    );
  }
  // Loading takes ~3 s on a Milvus 2.3 server even when empty: start it now, so it runs while the
  // chunks embed and insert (inserts into a loading collection are fine); commit waits for it.
  await host.run('loadCollectionAsync', () => client.loadCollectionAsync({ collection_name: physicalName }));
  return new SwapWriter(host, name, physicalName, current?.physicalName);
}

/** Drops leftovers of ingests that died before their commit: physical collections no alias points at. */
async function dropStale(host: SwapHost, name: string, keep: string | undefined): Promise<void> {
  for (const physical of await host.physicalNames()) {
    if (physical.startsWith(`${name}${PHYSICAL_SEPARATOR}`) && physical !== keep) {
      await host.run(`drop stale collection ${physical}`, () => host.client.dropCollection({ collection_name: physical }));
    }
  }
}

class SwapWriter implements CollectionWriter {
  constructor(
    private readonly host: SwapHost,
    private readonly name: string,
    private readonly physicalName: string,
    private readonly previousPhysicalName: string | undefined,
  ) {}

  async insert(chunks: readonly StoredChunk[]): Promise<void> {
    if (chunks.length === 0) return;
    const { host, physicalName } = this;
    const result = await host.run('insert', () => host.client.insert({ collection_name: physicalName, data: chunks.map(insertRow) }));
    if (Number(result.insert_cnt) !== chunks.length) {
      throw new RagossError(`Milvus inserted ${result.insert_cnt} of ${chunks.length} rows into ${physicalName}`);
    }
  }

  async commit(expectedRows: number, probe: Float32Array, grounding?: GroundingCalibration): Promise<void> {
    const { host, physicalName } = this;
    const { client } = host;
    await host.run('flush', () => client.flush({ collection_names: [physicalName] }));
    await host.ensureLoaded(physicalName);
    const count = await host.run('query count(*)', () =>
      client.query({ collection_name: physicalName, filter: '', output_fields: ['count(*)'], consistency_level: STRONG }),
    );
    const rows = Number(count.data[0]?.['count(*)'] ?? -1);
    if (rows !== expectedRows) {
      throw new RagossError(`new collection ${physicalName} holds ${rows} rows, expected ${expectedRows}; the previous data keeps serving`);
    }
    if (expectedRows > 0) {
      const probeResult = await host.run('probe search', () =>
        client.search({ collection_name: physicalName, anns_field: 'vector', data: [Array.from(probe)], limit: 1, metric_type: 'IP', consistency_level: STRONG }),
      );
      if (probeResult.results.length === 0) {
        throw new RagossError(`probe search on new collection ${physicalName} found nothing; the previous data keeps serving`);
      }
    }
    // Recorded before the name moves: no search ever sees the new chunks with the old line.
    if (grounding !== undefined) await host.writeGrounding(physicalName, grounding);
    if (this.previousPhysicalName === undefined) {
      await host.run('createAlias', () => client.createAlias({ collection_name: physicalName, alias: this.name }));
    } else {
      await host.run('alterAlias', () => client.alterAlias({ collection_name: physicalName, alias: this.name }));
      await host.run('drop previous collection', () => client.dropCollection({ collection_name: this.previousPhysicalName as string }));
    }
  }

  async abort(): Promise<void> {
    await this.host.client.dropCollection({ collection_name: this.physicalName }).catch(() => undefined);
  }
}
