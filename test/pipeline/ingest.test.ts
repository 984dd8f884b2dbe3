import { physicalCollectionNames } from '../helpers/milvus-client.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseMilvusUri } from '../../src/store/location.js';
import type { SourceDocument } from '../../src/corpus/source.js';
import type { Embedder } from '../../src/embedder/embedder.js';
import { TransformersEmbedder } from '../../src/embedder/transformers.js';
import { chunkDocuments, chunkId, ingestChunks, type Chunk, type IngestOptions } from '../../src/pipeline/ingest.js';
import { silentProgress } from '../../src/progress.js';
import { openStore } from '../../src/store/open.js';
import type { VectorStore } from '../../src/store/store.js';
import { modelsDir, tinyModel } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { ProbeVectors } from '../../src/pipeline/probe-vectors.js';

/** A real model that counts what it embeds, and can pose as other weights or another model. */
class CountingEmbedder implements Embedder {
  embeddedTexts: string[] = [];
  onEmbed: (() => void) | undefined;
  constructor(
    private readonly inner: Embedder,
    readonly dtype: string | undefined = inner.dtype,
    readonly modelName: string = inner.modelName,
  ) {}
  get dimension(): number {
    return this.inner.dimension;
  }
  async embedDocuments(texts: readonly string[]): Promise<Float32Array[]> {
    this.embeddedTexts.push(...texts);
    const vectors = await this.inner.embedDocuments(texts);
    this.onEmbed?.();
    return vectors;
  }
  embedQuery(text: string): Promise<Float32Array> {
    return this.inner.embedQuery(text);
  }
  embedQueries(texts: readonly string[]): Promise<Float32Array[]> {
    return this.inner.embedQueries(texts);
  }
  tokenBudget(text: string): { tokens: number; maxTokens: number } {
    return this.inner.tokenBudget(text);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** Each section is headed by its first word, so headings do not change when sections move. */
const page = (title: string, sections: string[]): string => [`# ${title}`, ...sections.map((body) => `## ${body.split(' ')[0]}\n\n${body}`)].join('\n\n');

const VERSION_1: SourceDocument[] = [
  { path: 'en/a.md', text: page('Alpha', ['Milvus stores data in object storage.', 'Segments are sealed at 512 MB.', 'Indexes build on sealed segments.', 'Queries go to query nodes.']) },
  { path: 'en/b.md', text: page('Beta', ['Collections hold entities.', 'Partitions split a collection.', 'Aliases point at collections.']) },
];

/** Version 2: a section inserted at the top of a.md, one section of b.md edited, one removed. */
const VERSION_2: SourceDocument[] = [
  { path: 'en/a.md', text: page('Alpha', ['A brand new first section.', 'Milvus stores data in object storage.', 'Segments are sealed at 512 MB.', 'Indexes build on sealed segments.', 'Queries go to query nodes.']) },
  { path: 'en/b.md', text: page('Beta', ['Collections hold entities, each with a primary key.', 'Aliases point at collections.']) },
];


/** The physical collections behind `prefix` (its alias's name), listed by the SDK itself. */
async function physicalCollections(prefix: string): Promise<string[]> {
  return (await physicalCollectionNames(inject('milvusUri'))).filter((name) => name.startsWith(`${prefix}__`));
}

describe(`incremental re-ingest on a real Milvus (${inject('milvusBackend')})`, () => {
  let store: VectorStore;
  let model: Embedder;
  let cacheDir: string;

  beforeAll(async () => {
    cacheDir = mkdtempSync(join(tmpdir(), 'ragoss-ingest-'));
    store = await openStore({ location: parseMilvusUri(inject('milvusUri'), '/nonexistent', undefined), home: '/nonexistent', progress: silentProgress, timeoutMs: 10_000 });
    model = await TransformersEmbedder.load({ modelName: tinyModel, modelDir: modelsDir, cacheDir, offline: false, dtype: 'fp32', batchSize: 8, progress: silentProgress });
  });
  afterAll(async () => {
    await model.close();
    await store.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const ingest = (chunks: readonly Chunk[], name: string, embedder: Embedder, extra: Partial<IngestOptions> = {}) =>
    ingestChunks(chunks, { collection: name, embedder, store, probes: new ProbeVectors(undefined), progress: silentProgress, replace: false, chunker: 'seed', batchSize: 4, full: false, ...extra });

  it('ids follow a chunk\'s file and text, not its position; repeated text in one file gets distinct ids', () => {
    const before = chunkDocuments([{ path: 'en/x.md', text: 'one# two# two# three' }]);
    const after = chunkDocuments([{ path: 'en/x.md', text: 'zero# one# two# two# three' }]);
    expect(after.slice(1).map((chunk) => chunk.id)).toEqual(before.map((chunk) => chunk.id));
    expect(new Set(before.map((chunk) => chunk.id)).size).toBe(4);
    expect(chunkId('en/x.md', 'two ', 0)).not.toBe(chunkId('en/y.md', 'two ', 0));
  });

  it('re-ingesting unchanged docs embeds nothing and keeps every vector', async () => {
    const name = uniqueCollection('inc_same');
    const chunks = chunkDocuments(VERSION_1);
    const first = new CountingEmbedder(model);
    expect(await ingest(chunks, name, first)).toMatchObject({ chunks: chunks.length, embedded: chunks.length, reused: 0 });
    const before = await store.vectorsByIds(name, chunks.map((chunk) => chunk.id));
    expect(before.size).toBe(chunks.length);

    const second = new CountingEmbedder(model);
    expect(await ingest(chunks, name, second)).toMatchObject({ chunks: chunks.length, embedded: 0, reused: chunks.length });
    expect(second.embeddedTexts).toEqual([]);
    const after = await store.vectorsByIds(name, chunks.map((chunk) => chunk.id));
    for (const chunk of chunks) expect(after.get(chunk.id)).toEqual(before.get(chunk.id));
    expect((await store.describe(name))?.rowCount).toBe(chunks.length);
  });

  it('an edited corpus embeds only new and changed chunks; removed ones are gone', async () => {
    const name = uniqueCollection('inc_edit');
    const oldChunks = chunkDocuments(VERSION_1);
    await ingest(oldChunks, name, new CountingEmbedder(model));
    const oldVectors = await store.vectorsByIds(name, oldChunks.map((chunk) => chunk.id));

    const newChunks = chunkDocuments(VERSION_2);
    const embedder = new CountingEmbedder(model);
    const stats = await ingest(newChunks, name, embedder);
    expect(embedder.embeddedTexts.sort()).toEqual(['A\n\nA brand new first section.\n\n#', 'Collections\n\nCollections hold entities, each with a primary key.\n\n#'].sort());
    expect(stats).toMatchObject({ chunks: newChunks.length, embedded: 2, reused: newChunks.length - 2 });

    const stored = await store.vectorsByIds(name, [...newChunks, ...oldChunks].map((chunk) => chunk.id));
    expect([...stored.keys()].sort()).toEqual(newChunks.map((chunk) => chunk.id).sort());
    // Chunks that moved down a.md kept their vectors; their new position is what is stored.
    const moved = newChunks.find((chunk) => chunk.text.includes('Queries go to query nodes')) as Chunk;
    expect(stored.get(moved.id)).toEqual(oldVectors.get(moved.id));
    const hits = await store.search(name, { text: moved.text, vector: stored.get(moved.id) as Float32Array }, 1, 'dense');
    expect(hits[0]).toMatchObject({ source: 'en/a.md', chunkIndex: moved.chunkIndex, text: moved.text });
  });

  it('--full, another chunker, other weights or another model embed every chunk', async () => {
    const name = uniqueCollection('inc_full');
    const chunks = chunkDocuments(VERSION_1);
    await ingest(chunks, name, new CountingEmbedder(model));
    const cases: Array<[string, CountingEmbedder, Partial<IngestOptions>]> = [
      ['--full', new CountingEmbedder(model), { full: true }],
      ['another chunker', new CountingEmbedder(model), { chunker: 'markdown' }],
      ['other weights', new CountingEmbedder(model, 'q8'), { chunker: 'markdown' }],
      ['another model', new CountingEmbedder(model, 'q8', 'test/other-model'), { chunker: 'markdown', replace: true }],
    ];
    for (const [what, embedder, extra] of cases) {
      const stats = await ingest(chunks, name, embedder, extra);
      expect({ what, embedded: stats.embedded, texts: embedder.embeddedTexts.length }).toEqual({ what, embedded: chunks.length, texts: chunks.length });
    }
    // ...and the same settings again reuse everything.
    expect(await ingest(chunks, name, new CountingEmbedder(model, 'q8', 'test/other-model'), { chunker: 'markdown' })).toMatchObject({ embedded: 0 });
  });

  it('an interrupted incremental re-ingest leaves the old data serving, and the next one completes', async () => {
    const name = uniqueCollection('inc_abort');
    const oldChunks = chunkDocuments(VERSION_1);
    await ingest(oldChunks, name, new CountingEmbedder(model));
    const serving = await store.describe(name);

    const controller = new AbortController();
    const interrupted = new CountingEmbedder(model);
    interrupted.onEmbed = () => controller.abort(new Error('interrupted'));
    await expect(ingest(chunkDocuments(VERSION_2), name, interrupted, { signal: controller.signal })).rejects.toThrow('interrupted');
    expect(interrupted.embeddedTexts.length).toBeGreaterThan(0);
    expect(await store.describe(name)).toEqual(serving);
    expect(await physicalCollections(name)).toEqual([serving?.physicalName]);
    const oldIds = oldChunks.map((chunk) => chunk.id);
    expect((await store.vectorsByIds(name, oldIds)).size).toBe(oldChunks.length);

    const resumed = await ingest(chunkDocuments(VERSION_2), name, new CountingEmbedder(model));
    expect(resumed).toMatchObject({ embedded: 2 });
  });
});
