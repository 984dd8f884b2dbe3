import type { MilvusClient } from '@zilliz/milvus2-sdk-node';
import { DataType } from '@zilliz/milvus2-sdk-node';
import { physicalCollectionNames, testMilvusClient } from '../helpers/milvus-client.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseMilvusUri } from '../../src/store/location.js';
import { grpcProblem, truncateUtf8 } from '../../src/store/milvus.js';
import { openStore } from '../../src/store/open.js';
import { serverFeatures, type StoredChunk, type VectorStore } from '../../src/store/store.js';
import { silentProgress } from '../../src/progress.js';
import { freePort } from '../../src/system.js';
import { ragossRejection } from '../helpers/errors.js';
import { uniqueCollection } from '../helpers/names.js';

const DIM = 8;

function unit(index: number): Float32Array {
  const vector = new Float32Array(DIM);
  vector[index % DIM] = 1;
  return vector;
}

function chunks(count: number, tag: string): StoredChunk[] {
  return Array.from({ length: count }, (_, index) => ({ id: `${tag}-${index}`, vector: unit(index), text: `${tag} chunk ${index}`, source: `en/faq/${tag}.md`, chunkIndex: index, raw: `# ${tag} chunk ${index}\n`, heading: `${tag} chunk ${index}`, line: index + 1 }));
}

const physicalCollections = (): Promise<string[]> => physicalCollectionNames(inject('milvusUri'));


describe(`MilvusStore on a real Milvus (${inject('milvusBackend')})`, () => {
  let store: VectorStore;

  beforeAll(async () => {
    store = await openStore({ location: parseMilvusUri(inject('milvusUri'), '/nonexistent', undefined), home: '/nonexistent', progress: silentProgress, timeoutMs: 10_000 });
  });
  afterAll(async () => {
    await store.close();
  });

  it('stores chunks with text, source and index, records the model, and searches by inner product', async () => {
    const name = uniqueCollection('store_basic');
    const writer = await store.beginReplace(name, { embeddingModel: 'test/model', dimension: DIM, chunker: 'seed' });
    await writer.insert(chunks(5, 'a'));
    await writer.commit(5, unit(0));
    const info = await store.describe(name);
    expect(info).toMatchObject({ name, embeddingModel: 'test/model', dimension: DIM, rowCount: 5, pageText: true });
    expect(info?.physicalName).not.toBe(name);
    const hits = await store.search(name, { text: '', vector: unit(2) }, 3, 'dense');
    expect(hits[0]).toEqual({ score: expect.closeTo(1, 5), text: 'a chunk 2', source: 'en/faq/a.md', chunkIndex: 2, heading: 'a chunk 2', line: 3 });
    expect(hits).toHaveLength(3);
  });

  it('searches a collection released since it was described, and concurrent describes of a released one share its load', async () => {
    const name = uniqueCollection('store_released');
    const writer = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    await writer.insert(chunks(5, 'r'));
    await writer.commit(5, unit(0));
    const physicalName = (await store.describe(name))?.physicalName as string;
    const client = testMilvusClient(inject('milvusUri'));
    try {
      // As after a restarted Milvus Lite: the search itself finds it released, loads it and answers.
      await client.releaseCollection({ collection_name: physicalName });
      expect((await store.search(name, { text: '', vector: unit(1) }, 1, 'dense'))[0]?.text).toBe('r chunk 1');
      // Eight requests at once on a released collection (a service's first burst): every one answers.
      await client.releaseCollection({ collection_name: physicalName });
      const answers = await Promise.all(
        Array.from({ length: 8 }, async (_, index) => {
          await store.describe(name);
          return (await store.search(name, { text: '', vector: unit(index % 5) }, 1, 'dense'))[0]?.text;
        }),
      );
      expect(answers).toEqual(Array.from({ length: 8 }, (_, index) => `r chunk ${index % 5}`));
    } finally {
      await client.closeConnection();
    }
  });

  it('gives back a page\'s chunks in chunk order, with their raw bytes, heading and line', async () => {
    const name = uniqueCollection('store_page');
    const writer = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    // Inserted out of order, and beside another page with a source that shares a prefix.
    const page = chunks(4, 'p');
    await writer.insert([page[2]!, page[0]!, ...chunks(2, 'p2'), page[3]!, page[1]!]);
    await writer.commit(6, unit(0));
    const stored = await store.pageChunks(name, 'en/faq/p.md');
    expect(stored).toEqual(page.map(({ chunkIndex, text, raw, heading, line }) => ({ chunkIndex, text, raw, heading, line })));
    expect(await store.pageChunks(name, 'en/faq/"quoted".md')).toEqual([]);
  });

  it('replaces the data atomically: until commit the old rows keep serving, then the old collection is gone', async () => {
    const name = uniqueCollection('store_swap');
    const first = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    await first.insert(chunks(3, 'old'));
    await first.commit(3, unit(0));
    const oldPhysical = (await store.describe(name))?.physicalName;

    const second = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    await second.insert(chunks(4, 'new'));
    expect((await store.search(name, { text: '', vector: unit(0) }, 1, 'dense'))[0]?.text).toBe('old chunk 0');
    await second.commit(4, unit(0));
    expect((await store.search(name, { text: '', vector: unit(0) }, 1, 'dense'))[0]?.text).toBe('new chunk 0');
    const newPhysical = (await store.describe(name))?.physicalName;
    expect(newPhysical).not.toBe(oldPhysical);
    const physical = await physicalCollections();
    expect(physical).toContain(newPhysical);
    expect(physical).not.toContain(oldPhysical);
  });

  it('aborting a replacement leaves the previous data serving, and the next ingest removes leftovers', async () => {
    const name = uniqueCollection('store_abort');
    const first = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    await first.insert(chunks(2, 'keep'));
    await first.commit(2, unit(0));

    const failed = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    await failed.insert(chunks(1, 'partial'));
    await expect(failed.commit(5, unit(0))).rejects.toThrow(/expected 5/);
    await failed.abort();
    expect((await store.describe(name))?.rowCount).toBe(2);

    // A crashed ingest never gets to abort(): its collection lingers until the next ingest.
    const crashed = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    await crashed.insert(chunks(1, 'crashed'));
    const next = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'seed' });
    await next.insert(chunks(2, 'next'));
    await next.commit(2, unit(0));
    const leftovers = (await physicalCollections()).filter((physical) => physical.startsWith(`${name}__`));
    expect(leftovers).toEqual([(await store.describe(name))?.physicalName]);
    expect((await store.search(name, { text: '', vector: unit(1) }, 1, 'dense'))[0]?.text).toBe('next chunk 1');
  });

  it('still searches a collection made by ragoss 0.1, which has no raw, heading or line fields', async () => {
    const name = uniqueCollection('store_v01');
    const physical = `${name}__20261101000000000_abcd`;
    const client = testMilvusClient(inject('milvusUri'), 30_000);
    try {
      await client.createCollection({
        collection_name: physical,
        fields: [
          { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
          { name: 'vector', data_type: DataType.FloatVector, dim: DIM },
          { name: 'text', data_type: DataType.VarChar, max_length: 65_535 },
          { name: 'source', data_type: DataType.VarChar, max_length: 1024 },
          { name: 'chunk_index', data_type: DataType.Int64 },
        ],
        properties: { 'ragoss.embedding_model': 'test/model', 'ragoss.dimension': String(DIM), 'ragoss.chunker': 'seed' },
      });
      await client.createIndex({ collection_name: physical, field_name: 'vector', index_type: 'AUTOINDEX', metric_type: 'IP' });
      await client.insert({ collection_name: physical, data: [0, 1].map((index) => ({ id: `old-${index}`, vector: Array.from(unit(index)), text: `old chunk ${index}`, source: 'en/faq/old.md', chunk_index: index })) });
      await client.flush({ collection_names: [physical] });
      await client.loadCollectionSync({ collection_name: physical });
      await client.createAlias({ collection_name: physical, alias: name });
    } finally {
      await client.closeConnection();
    }
    expect(await store.describe(name)).toMatchObject({ rowCount: 2, pageText: false });
    const [hit] = await store.search(name, { text: '', vector: unit(1) }, 1, 'dense');
    expect(hit).toEqual({ score: expect.closeTo(1, 5), text: 'old chunk 1', source: 'en/faq/old.md', chunkIndex: 1 });
  });

  it('records the chunker, and full-text search exactly where the server has it (Milvus Lite 3.2, not Milvus 2.3)', async () => {
    const name = uniqueCollection('store_fulltext');
    const writer = await store.beginReplace(name, { embeddingModel: 'm', dimension: DIM, chunker: 'markdown' });
    const rows: StoredChunk[] = [
      { id: 'w', vector: unit(0), text: 'Set queryNode.cache.warmup to sync to load vectors at start', source: 'en/a.md', chunkIndex: 0, raw: '', heading: '', line: 1 },
      { id: 'i', vector: unit(1), text: 'If io_setup() failed at start, raise the aio-max-nr limit', source: 'en/b.md', chunkIndex: 0, raw: '', heading: '', line: 1 },
      { id: 's', vector: unit(2), text: 'Milvus keeps its data in object storage such as MinIO or S3', source: 'en/c.md', chunkIndex: 0, raw: '', heading: '', line: 1 },
    ];
    await writer.insert(rows);
    await writer.commit(3, unit(0));
    const info = await store.describe(name);
    const expectFullText = inject('milvusBackend') === 'lite';
    expect(info).toMatchObject({ chunker: 'markdown', fullText: expectFullText });
    if (!expectFullText) return;
    // BM25 matches terms, whatever the vectors say: the question's vector points at the MinIO chunk.
    const bm25 = await store.search(name, { text: 'what does io_setup() failed mean', vector: unit(2) }, 3, 'bm25');
    expect(bm25[0]?.text).toContain('io_setup() failed');
    expect(bm25[0]?.score).toBeGreaterThan(0);
    expect(bm25.map((hit) => hit.source)).not.toContain('en/c.md');
    // Hybrid fuses both rankings: the term match and the vector match take the first two places.
    const hybrid = await store.search(name, { text: 'io_setup() failed', vector: unit(2) }, 3, 'hybrid');
    expect(hybrid.slice(0, 2).map((hit) => hit.source).sort()).toEqual(['en/b.md', 'en/c.md']);
    expect(hybrid[2]?.source).toBe('en/a.md');
  });

  it('describes an alias swapped and its old collection dropped mid-describe as what it is now', async () => {
    const name = uniqueCollection('store_race');
    const first = await store.beginReplace(name, { embeddingModel: 'test/model', dimension: DIM, chunker: 'seed' });
    await first.insert(chunks(2, 'old'));
    await first.commit(2, unit(0));
    const oldPhysical = (await store.describe(name))?.physicalName;
    // Another process finishes a re-ingest just after this one resolved the alias: the swap and
    // the drop of the old collection land between describing the alias and counting its rows.
    const other = await openStore({ location: parseMilvusUri(inject('milvusUri'), '/nonexistent', undefined), home: '/nonexistent', progress: silentProgress, timeoutMs: 10_000 });
    const client = (store as unknown as { client: MilvusClient }).client;
    const getLoadState = client.getLoadState.bind(client);
    let raced = false;
    client.getLoadState = (async (request: Parameters<MilvusClient['getLoadState']>[0]) => {
      if (!raced && request.collection_name === oldPhysical) {
        raced = true;
        const second = await other.beginReplace(name, { embeddingModel: 'test/model', dimension: DIM, chunker: 'seed' });
        await second.insert(chunks(3, 'new'));
        await second.commit(3, unit(0));
      }
      return getLoadState(request);
    }) as MilvusClient['getLoadState'];
    try {
      const info = await store.describe(name);
      expect(raced).toBe(true);
      expect(await physicalCollections()).not.toContain(oldPhysical);
      expect(info).toMatchObject({ name, rowCount: 3 });
      expect(info?.physicalName).not.toBe(oldPhysical);
    } finally {
      client.getLoadState = getLoadState;
      await other.close();
    }
  });

  it('search on a missing collection is exit code 3 with the fix', async () => {
    const error = await ragossRejection(store.search(uniqueCollection('missing'), { text: '', vector: unit(0) }, 3, 'dense'));
    expect(error.exitCode).toBe(3);
    expect(error.hint).toMatch(/ragoss ingest/);
  });
});

describe('connecting', () => {
  it('fails fast and clearly when nothing listens at the URI', async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await ragossRejection(openStore({ location: parseMilvusUri(`http://127.0.0.1:${port}`, '/x', 'tok-SECRET'), home: '/x', progress: silentProgress, timeoutMs: 3000 }));
    expect(Date.now() - started).toBeLessThan(8000);
    expect(error.message).toContain(`http://127.0.0.1:${port}`);
    expect(error.message).not.toContain('SECRET');
    expect(error.hint).toMatch(/docker compose|milvus-lite/);
  });
});

describe('truncateUtf8', () => {
  it('cuts on a character boundary within the byte budget', () => {
    expect(truncateUtf8('héllo', 2)).toBe('h');
    expect(truncateUtf8('hello', 10)).toBe('hello');
    expect(Buffer.byteLength(truncateUtf8('€'.repeat(30), 10))).toBeLessThanOrEqual(10);
  });
});

describe('serverFeatures', () => {
  it('knows full-text search (BM25) from the version: Milvus 2.5+ and Milvus Lite 3.2+', () => {
    expect(serverFeatures('v2.3.5-lite')).toEqual({ bm25: false });
    expect(serverFeatures('v2.4.15')).toEqual({ bm25: false });
    expect(serverFeatures('v2.5.0')).toEqual({ bm25: true });
    expect(serverFeatures('2.6.9')).toEqual({ bm25: true });
    expect(serverFeatures('milvus_lite-3.2.2')).toEqual({ bm25: true });
    expect(serverFeatures('milvus_lite-2.4.10')).toEqual({ bm25: false });
    expect(serverFeatures('unknown')).toEqual({ bm25: undefined });
  });
});

describe('grpcProblem', () => {
  it('says every variant of a deadline as one plain line, whatever grpc-js was doing when it expired', () => {
    const variants = [
      '4 DEADLINE_EXCEEDED: Deadline exceeded after 2.008s,name resolution: 0.058s,metadata filters: 0.002s,time to current attempt start: 0.012s,Waiting for LB pick',
      '4 DEADLINE_EXCEEDED: Deadline exceeded after 2.001s,LB pick: 0.001s,remote_addr=127.0.0.1:19530',
      'Deadline exceeded after 10.000s',
    ];
    for (const message of variants) expect(grpcProblem(message, 2000)).toBe('no answer within 2s');
    expect(grpcProblem('14 UNAVAILABLE: Name resolution failed for target dns:nowhere.invalid:19530', 2000)).toBe('host not found');
    expect(grpcProblem('14 UNAVAILABLE: No connection established. Last error: connect ECONNREFUSED 127.0.0.1:1', 2000)).toBe('connection refused');
    expect(grpcProblem('3 INVALID_ARGUMENT: bad\nmore', 2000)).toBe('3 INVALID_ARGUMENT: bad');
  });
});
