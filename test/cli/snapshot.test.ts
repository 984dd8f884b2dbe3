import { copyFileSync, createReadStream, readFileSync, statSync, truncateSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { ParquetWriter, fileWriter } from 'hyparquet-writer';
import { ConsistencyLevelEnum, DataType } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { engineSettings, resolveCommonConfig } from '../../src/config.js';
import { LocalEngine } from '../../src/engine/local.js';
import { silentProgress } from '../../src/progress.js';
import { SnapshotReader, SnapshotWriter } from '../../src/snapshot/parquet.js';
// In-process through the CLI's entry (see runInProcess); what needs a process of its own spawns it.
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { testMilvusClient } from '../helpers/milvus-client.js';
import { startTestMilvus, type TestMilvus } from '../helpers/milvus-server.js';
import { devQuestions, faqDir, faqZip, fullDocsQuestions, modelsDir, tinyModel } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { backendIndependent } from '../helpers/backend.js';

const backend = inject('milvusBackend');


/** Every question of both dev sets: what "answers exactly as its source" is checked on. */
const QUESTIONS = [devQuestions, fullDocsQuestions].flatMap((file) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => (JSON.parse(line) as { question: string }).question),
);

/** The ranked (source, chunk) lists of each question, through the engine every entry point uses. */
async function answers(milvusUri: string, home: string, collection: string, mode?: 'dense'): Promise<string[][]> {
  const env = { RAGOSS_HOME: home, MILVUS_URI: milvusUri, RAGOSS_MODEL_DIR: modelsDir, RAGOSS_OFFLINE: '1' };
  const engine = new LocalEngine(engineSettings(resolveCommonConfig({}, env)));
  try {
    // All at once, as a service's clients would send them: each waits on Milvus, not on the CPU.
    const search = async (question: string) => {
      const { hits } = await engine.search({ question, topK: 10, collection, ...(mode === undefined ? {} : { mode }) }, { progress: silentProgress, signal: new AbortController().signal });
      return hits.map((hit) => `${hit.source}#${hit.chunkIndex}`);
    };
    return await Promise.all(QUESTIONS.map(search));
  } finally {
    await engine.close();
  }
}

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.startsWith('ragoss: error:'));
}

describe(`snapshots: export, import, refusals (${backend})`, () => {
  const milvusUri = inject('milvusUri');
  const source = uniqueCollection('snap_src');
  const target = uniqueCollection('snap_dst');
  let home: string;
  let env: Record<string, string>;
  let snapshot: string;

  beforeAll(async () => {
    home = tempHome();
    snapshot = join(home, 'faq.parquet');
    env = baseEnv({ RAGOSS_HOME: home, MILVUS_URI: milvusUri, RAGOSS_EMBEDDING_MODEL: tinyModel });
    const ingested = await runInProcess(['ingest', '--source', faqZip, '--collection', source, '--quiet'], env);
    expect(ingested.stderr).toBe('');
    expect(ingested.code).toBe(0);
  });

  it('exports every chunk with its vector and record into a Parquet file in Milvus bulk-import layout', async () => {
    const result = await runInProcess(['export', '--collection', source, '--out', snapshot, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ collection: source, path: snapshot, chunks: 72, embeddingModel: tinyModel, embeddingDtype: 'fp32', dimension: 768, chunker: 'seed' });
    expect(summary['corpus']).toMatchObject({ source: faqZip, glob: 'en/faq/*.md', digest: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(summary['bytes']).toBe(statSync(snapshot).size);
    // Read with a plain Parquet reader, as another tool would: the columns Milvus's importer expects.
    const file = await asyncBufferFromFile(snapshot);
    const metadata = await parquetMetadataAsync(file);
    const columns = parquetSchema(metadata).children.map((child) => [child.element.name, child.element.type ?? child.element.converted_type]);
    expect(columns).toEqual([['id', 'BYTE_ARRAY'], ['source', 'BYTE_ARRAY'], ['chunk_index', 'INT64'], ['text', 'BYTE_ARRAY'], ['vector', 'LIST'], ['raw', 'BYTE_ARRAY'], ['heading', 'BYTE_ARRAY'], ['line', 'INT64']]);
    const rows = (await parquetReadObjects({ file, metadata })) as Array<{ id: string; source: string; chunk_index: bigint; text: string; vector: number[]; raw: string }>;
    // The pages travel too: a file's raws, in chunk order, are the file.
    const product = rows.filter((row) => row.source === 'en/faq/product_faq.md').map((row) => row.raw).join('');
    expect(product).toBe(readFileSync(join(faqDir, 'en', 'faq', 'product_faq.md'), 'utf8'));
    expect(rows).toHaveLength(72);
    // In the order ingest wrote them: files by path, then chunk index.
    expect(rows.slice(0, 3).map((row) => [row.source, Number(row.chunk_index)])).toEqual([['en/faq/operational_faq.md', 0], ['en/faq/operational_faq.md', 1], ['en/faq/operational_faq.md', 2]]);
    expect(rows.every((row) => row.vector.length === 768 && /^[0-9a-f]{32}$/.test(row.id))).toBe(true);
    const manifest = JSON.parse(metadata.key_value_metadata?.find(({ key }) => key === 'ragoss')?.value ?? '{}') as Record<string, unknown>;
    expect(manifest).toMatchObject({ format: 'ragoss-snapshot', formatVersion: 2, rows: 72, collection: source, embeddingModel: tinyModel, dimension: 768, rowsDigest: summary['rowsDigest'] });
  });

  it('imports it with no model compute, and the import answers every dev question exactly as its source', async () => {
    const result = await runInProcess(['ingest', '--source', snapshot, '--collection', target, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ chunks: 72, files: 4, embeddedChunks: 0, embedSeconds: 0, embeddingModel: tinyModel, chunker: 'seed', fullText: backend === 'lite', snapshot: { collection: source } });
    expect(result.stderr).not.toContain('loading embedding model');
    expect(result.stderr).toContain('ragoss: verifying and switching the collection over');
    const before = await answers(milvusUri, home, source);
    expect(await answers(milvusUri, home, target)).toEqual(before);
    expect(await answers(milvusUri, home, target, 'dense')).toEqual(await answers(milvusUri, home, source, 'dense'));
    expect(before.every((list) => list.length === 10)).toBe(true);
    // The pages came along: get reads them back from the import exactly.
    const page = await runInProcess(['get', 'en/faq/product_faq.md', '--collection', target], env);
    expect(page.stdout).toBe(readFileSync(join(faqDir, 'en', 'faq', 'product_faq.md'), 'utf8'));
  });

  it('imports a published snapshot from a URL, downloaded and cached like the docs', async () => {
    let hits = 0;
    const server = createServer((_request, response) => {
      hits++;
      response.writeHead(200, { 'content-type': 'application/vnd.apache.parquet', 'content-length': statSync(snapshot).size });
      createReadStream(snapshot).pipe(response);
    });
    await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/releases/docs.parquet?token=SECRET-1234`;
    try {
      const collection = uniqueCollection('snap_url');
      for (let run = 0; run < 2; run++) {
        const result = await runInProcess(['ingest', '--source', url, '--collection', collection, '--json'], env);
        expect(result.code, result.stderr).toBe(0);
        expect(JSON.parse(result.stdout)).toMatchObject({ chunks: 72, embeddedChunks: 0, source: expect.not.stringContaining('SECRET') });
        expect(result.stderr + result.stdout).not.toContain('SECRET-1234');
      }
      expect(hits).toBe(1);
    } finally {
      await new Promise((resolveClose) => server.close(resolveClose));
    }
  });

  it('lets a later ingest of the same docs reuse the imported vectors', async () => {
    const result = await runInProcess(['ingest', '--source', faqZip, '--collection', target], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('\n  embedded    0 chunks; 72 unchanged kept their vectors (--full embeds all)\n');
  });

  it('refuses a truncated file with one line and keeps the previous data serving', async () => {
    const damaged = join(home, 'truncated.parquet');
    copyFileSync(snapshot, damaged);
    truncateSync(damaged, Math.floor(statSync(snapshot).size / 2));
    const result = await runInProcess(['ingest', '--source', damaged, '--collection', target], env);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([expect.stringMatching(/^ragoss: error: snapshot .*truncated\.parquet is damaged or not a ragoss snapshot: .+ — export it again/)]);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    expect((await runInProcess(['search', 'How is data stored in milvus?', '--collection', target, '--json'], env)).code).toBe(0);
  });

  it('refuses rows that do not match the manifest digest, after reading them, with the old data intact', async () => {
    // Same manifest, one text changed: every Parquet page is valid, only the digest can tell.
    const reader = await SnapshotReader.open(snapshot);
    const tampered = join(home, 'tampered.parquet');
    const rows = [];
    for await (const batch of reader.batches()) rows.push(...batch);
    rows[40] = { ...rows[40]!, text: `${rows[40]!.text} (edited)` };
    const writer = new ParquetWriter({
      writer: fileWriter(tampered),
      schema: (await parquetMetadataAsync(await asyncBufferFromFile(snapshot))).schema,
      kvMetadata: [{ key: 'ragoss', value: JSON.stringify(reader.manifest) }],
    });
    await writer.write({
      columnData: [
        { name: 'id', data: rows.map((row) => row.id) },
        { name: 'source', data: rows.map((row) => row.source) },
        { name: 'chunk_index', data: rows.map((row) => BigInt(row.chunkIndex)) },
        { name: 'text', data: rows.map((row) => row.text) },
        { name: 'vector', data: rows.map((row) => Array.from(row.vector)) },
        { name: 'raw', data: rows.map((row) => row.raw) },
        { name: 'heading', data: rows.map((row) => row.heading) },
        { name: 'line', data: rows.map((row) => BigInt(row.line)) },
      ],
    });
    await writer.finish();
    const result = await runInProcess(['ingest', '--source', tampered, '--collection', target], env);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([expect.stringContaining('is damaged or not a ragoss snapshot: its rows do not match the digest in its manifest')]);
    const search = await runInProcess(['search', 'How is data stored in milvus?', '--collection', target, '--json', '--top-k', '72'], env);
    expect((JSON.parse(search.stdout) as { hits: Array<{ text: string }> }).hits.some((hit) => hit.text.endsWith('(edited)'))).toBe(false);
  });

  backendIndependent('refuses a snapshot of another model, with one line naming both', async () => {
    const reader = await SnapshotReader.open(snapshot);
    const other = join(home, 'other-model.parquet');
    const { format: _format, formatVersion: _version, rows: _rows, rowsDigest: _digest, ...header } = reader.manifest;
    const writer = new SnapshotWriter(other, { ...header, embeddingModel: 'Xenova/all-mpnet-base-v2' });
    for await (const batch of reader.batches()) await writer.write(batch);
    await writer.finish();
    const into = await runInProcess(['ingest', '--source', other, '--collection', target], baseEnv({ RAGOSS_HOME: home, MILVUS_URI: milvusUri }));
    expect(into.code).toBe(2);
    expect(errorLines(into.stderr)).toEqual([`ragoss: error: collection ${target} was built with ${tinyModel} (768 dims), not Xenova/all-mpnet-base-v2 (768 dims) — pass --replace to rebuild it with Xenova/all-mpnet-base-v2, or use another --collection`]);
    const named = await runInProcess(['ingest', '--source', other, '--collection', uniqueCollection('snap_named')], env);
    expect(named.code).toBe(2);
    expect(errorLines(named.stderr)).toEqual([expect.stringContaining(`other-model.parquet was built with Xenova/all-mpnet-base-v2 (768 dims), not ${tinyModel}`)]);
  });

  backendIndependent('refuses what is not a snapshot, and export refuses a name ingest would not recognise', async () => {
    const plain = join(home, 'plain.parquet');
    const writer = new ParquetWriter({ writer: fileWriter(plain), schema: [{ name: 'root', num_children: 1 }, { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }] });
    await writer.write({ columnData: [{ name: 'id', data: ['a'] }] });
    await writer.finish();
    const result = await runInProcess(['ingest', '--source', plain, '--collection', target], env);
    expect(result.code).toBe(1);
    expect(errorLines(result.stderr)).toEqual([expect.stringContaining('plain.parquet is damaged or not a ragoss snapshot: its Parquet metadata has no "ragoss" entry')]);
    // A format-1 snapshot (ragoss 0.1) has no page text: refused with the way out.
    const reader = await SnapshotReader.open(snapshot);
    const old = join(home, 'format1.parquet');
    const oldWriter = new ParquetWriter({ writer: fileWriter(old), schema: [{ name: 'root', num_children: 1 }, { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }], kvMetadata: [{ key: 'ragoss', value: JSON.stringify({ ...reader.manifest, formatVersion: 1, ragossVersion: '0.1.0', rows: 1 }) }] });
    await oldWriter.write({ columnData: [{ name: 'id', data: ['a'] }] });
    await oldWriter.finish();
    const refused = await runInProcess(['ingest', '--source', old, '--collection', target], env);
    expect(refused.code).toBe(1);
    expect(errorLines(refused.stderr)).toEqual([expect.stringMatching(/format1\.parquet has format version 1 \(ragoss 0\.1\.0\), whose chunks do not carry their pages' text — export it again with this ragoss/)]);
    const badName = await runInProcess(['export', '--collection', source, '--out', join(home, 'faq.bin')], env);
    expect(badName.code).toBe(2);
    expect(errorLines(badName.stderr)).toEqual([expect.stringContaining('--out must name a .parquet file')]);
    const missing = await runInProcess(['export', '--collection', 'no_such_collection', '--out', join(home, 'none.parquet')], env);
    expect(missing.code).toBe(3);
    // A target the user can fix: one line with the path and the fix, no "unexpected error".
    const nowhere = join(home, 'no-such-dir', 'faq.parquet');
    const unwritable = await runInProcess(['export', '--collection', source, '--out', nowhere], env);
    expect(unwritable.code).toBe(1);
    expect(unwritable.stderr).toBe(`ragoss: error: cannot write the snapshot ${nowhere}: its directory does not exist — choose --out in an existing directory you can write to\n`);
  });

  // The layout claim, checked by Milvus itself: its own bulk import reads the file, no ragoss in the path.
  (backend === 'server' ? it : it.skip)("is read by Milvus's own bulk import into a plain collection", async () => {
    const client = testMilvusClient(milvusUri, 60_000);
    const plain = uniqueCollection('snap_bulk');
    try {
      await client.createCollection({
        collection_name: plain,
        fields: [
          { name: 'id', data_type: DataType.VarChar, is_primary_key: true, max_length: 64 },
          { name: 'vector', data_type: DataType.FloatVector, dim: 768 },
          { name: 'text', data_type: DataType.VarChar, max_length: 65_535 },
          { name: 'source', data_type: DataType.VarChar, max_length: 1024 },
          { name: 'chunk_index', data_type: DataType.Int64 },
          { name: 'raw', data_type: DataType.VarChar, max_length: 65_535 },
          { name: 'heading', data_type: DataType.VarChar, max_length: 1024 },
          { name: 'line', data_type: DataType.Int64 },
        ],
      });
      await client.createIndex({ collection_name: plain, field_name: 'vector', index_type: 'FLAT', metric_type: 'IP' });
      // The standalone server reads local storage: an absolute path is a file it can open.
      const task = await client.bulkInsert({ collection_name: plain, files: [snapshot] });
      let state = await client.getImportState({ task: task.tasks[0] as number });
      for (let poll = 0; poll < 120 && !['ImportCompleted', 'ImportFailed', 'ImportFailedAndCleaned'].includes(String(state.state)); poll++) {
        await new Promise((resolveWait) => setTimeout(resolveWait, 500));
        state = await client.getImportState({ task: task.tasks[0] as number });
      }
      expect(String(state.state), JSON.stringify(state.infos)).toBe('ImportCompleted');
      await client.loadCollectionSync({ collection_name: plain });
      const rows = await client.query({ collection_name: plain, filter: 'chunk_index >= 0', output_fields: ['id', 'source', 'chunk_index', 'text'], consistency_level: ConsistencyLevelEnum.Strong });
      expect(rows.data).toHaveLength(72);
      const reader = await SnapshotReader.open(snapshot);
      const expected = new Map<string, { source: string; chunkIndex: number; text: string }>();
      for await (const batch of reader.batches()) for (const row of batch) expected.set(row.id, { source: row.source, chunkIndex: row.chunkIndex, text: row.text });
      for (const row of rows.data) expect({ source: row['source'], chunkIndex: Number(row['chunk_index']), text: row['text'] }).toEqual(expected.get(String(row['id'])));
    } finally {
      await client.dropCollection({ collection_name: plain }).catch(() => undefined);
      await client.closeConnection();
    }
  });

  // Across backends: the other Milvus is started here (a Milvus Lite beside the real server).
  const acrossBackends = backend === 'server' ? describe : describe.skip;
  acrossBackends('across backends', () => {
    let lite: TestMilvus;
    beforeAll(async () => {
      lite = await startTestMilvus();
    });
    afterAll(async () => {
      await lite?.stop();
    });

    it('moves Milvus 2.3 (dense only) to Lite, where BM25 comes back, and Lite to the server, same dense answers', async () => {
      const onLite = uniqueCollection('snap_lite');
      const toLite = await runInProcess(['ingest', '--source', snapshot, '--collection', onLite, '--json'], { ...env, MILVUS_URI: lite.uri });
      expect(toLite.code, toLite.stderr).toBe(0);
      expect(JSON.parse(toLite.stdout)).toMatchObject({ chunks: 72, fullText: true });
      const hybrid = await runInProcess(['search', 'queryNode.cache.warmup', '--collection', onLite, '--mode', 'bm25', '--json'], { ...env, MILVUS_URI: lite.uri });
      expect(hybrid.code, hybrid.stderr).toBe(0);
      expect(hybrid.stderr).not.toContain('runs as dense');
      expect(await answers(lite.uri, home, onLite, 'dense')).toEqual(await answers(milvusUri, home, source, 'dense'));

      const liteSnapshot = join(home, 'from-lite.parquet');
      expect((await runInProcess(['export', '--collection', onLite, '--out', liteSnapshot], { ...env, MILVUS_URI: lite.uri })).code).toBe(0);
      const back = uniqueCollection('snap_back');
      const toServer = await runInProcess(['ingest', '--source', liteSnapshot, '--collection', back, '--json'], env);
      expect(toServer.code, toServer.stderr).toBe(0);
      expect(JSON.parse(toServer.stdout)).toMatchObject({ chunks: 72, fullText: false });
      expect(await answers(milvusUri, home, back, 'dense')).toEqual(await answers(milvusUri, home, source, 'dense'));
    });
  });
});
