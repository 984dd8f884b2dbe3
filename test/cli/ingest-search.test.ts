import { testMilvusClient } from '../helpers/milvus-client.js';
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
// In-process through the CLI's entry (see runInProcess); what needs a process of its own (PATH lookups, signals) spawns it.
import { baseEnv, runCli, runInProcess, tempHome } from '../helpers/cli.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { binPath, devQuestions, faqZip, fullZip, milvusLiteExecutable, projectRoot, tinyModel } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { backendIndependent } from '../helpers/backend.js';

const QUESTION = 'How is data stored in milvus?';


/** Serves the shared FAQ zip over real HTTP and counts downloads. */
function serveZip(): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((request, response) => {
    hits++;
    response.writeHead(200, { 'content-type': 'application/zip', 'content-length': statSync(faqZip).size });
    createReadStream(faqZip).pipe(response);
  });
  return new Promise((resolveServer) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolveServer({
        url: `http://127.0.0.1:${port}/releases/milvus_docs_2.4.x_en.zip`,
        hits: () => hits,
        close: () => new Promise((resolveClose) => server.close(() => resolveClose())),
      });
    }),
  );
}

async function storedRows(uri: string, collection: string): Promise<Array<Record<string, unknown>>> {
  const client = testMilvusClient(uri);
  try {
    const result = await client.query({ collection_name: collection, filter: 'chunk_index >= 0', output_fields: ['id', 'text', 'source', 'chunk_index'], limit: 1000 });
    return result.data;
  } finally {
    await client.closeConnection();
  }
}

describe('ragoss ingest + search against a real Milvus', () => {
  const milvusUri = inject('milvusUri');
  const collection = uniqueCollection('cli_faq');
  let home: string;
  let zip: Awaited<ReturnType<typeof serveZip>>;
  let env: Record<string, string>;

  beforeAll(async () => {
    home = tempHome();
    zip = await serveZip();
    env = baseEnv({ RAGOSS_HOME: home, MILVUS_URI: milvusUri, RAGOSS_COLLECTION: collection, RAGOSS_EMBEDDING_MODEL: tinyModel });
  });
  afterAll(async () => {
    await zip.close();
  });

  it('downloads over HTTP, splits into 72 chunks and stores text, source and index', async () => {
    const result = await runInProcess(['ingest', '--source', zip.url], env);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/ingested 72 chunks from 4 files into cli_faq_/);
    expect(result.stdout).toContain(`${tinyModel} (768 dims)`);
    expect(result.stdout).toContain('\n  embedded    72 chunks\n');
    // Not a TTY: plain progress lines, no bar redraws.
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).toContain('ragoss: embedding and storing');
    const rows = await storedRows(milvusUri, collection);
    expect(rows).toHaveLength(72);
    const bySource = new Map<string, number>();
    for (const row of rows) bySource.set(String(row['source']), (bySource.get(String(row['source'])) ?? 0) + 1);
    expect(Object.fromEntries(bySource)).toEqual({ 'en/faq/operational_faq.md': 19, 'en/faq/performance_faq.md': 7, 'en/faq/product_faq.md': 33, 'en/faq/troubleshooting.md': 13 });
    const whereStored = rows.find((row) => String(row['text']).trimStart().startsWith('Where does Milvus store data?'));
    expect(whereStored).toMatchObject({ source: 'en/faq/product_faq.md' });
  });

  it('re-ingests from the download cache and stores identical rows, reusing every vector; --full embeds all', async () => {
    const before = await storedRows(milvusUri, collection);
    const result = await runInProcess(['ingest', '--source', zip.url, '--json'], env);
    expect(result.code).toBe(0);
    expect(zip.hits()).toBe(1);
    const summary = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(summary).toMatchObject({ files: 4, chunks: 72, collection, embeddingModel: tinyModel, dimension: 768, embeddedChunks: 0, reusedChunks: 72 });
    const after = await storedRows(milvusUri, collection);
    const key = (row: Record<string, unknown>) => `${row['id']}|${row['source']}|${row['chunk_index']}|${row['text']}`;
    expect(after.map(key).sort()).toEqual(before.map(key).sort());
    const full = await runInProcess(['ingest', '--source', zip.url, '--full'], env);
    expect(full.code, full.stderr).toBe(0);
    expect(full.stdout).toContain('\n  embedded    72 chunks\n');
  });

  it('search --json prints exactly one JSON object with ranked hits', async () => {
    const result = await runInProcess(['search', QUESTION, '--json'], env);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    const parsed = JSON.parse(result.stdout) as { question: string; hits: Array<Record<string, unknown>> };
    expect(parsed.question).toBe(QUESTION);
    expect(parsed.hits.map((hit) => hit['rank'])).toEqual([1, 2, 3]);
    for (const hit of parsed.hits) {
      expect(typeof hit['score']).toBe('number');
      expect(typeof hit['text']).toBe('string');
      expect(String(hit['source'])).toMatch(/^en\/faq\/\w+\.md$/);
    }
    const scores = parsed.hits.map((hit) => Number(hit['score']));
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
  });

  it('search reads the model from the collection and prints hits for people', async () => {
    const { RAGOSS_EMBEDDING_MODEL: _unused, ...withoutModel } = env;
    const result = await runInProcess(['search', QUESTION, '--top-k', '2'], withoutModel);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^1\. \d\.\d{4} {2}en\/faq\/\w+\.md #\d+\n {3}\S/);
    expect(result.stdout).toMatch(/\n2\. /);
    expect(result.stdout).not.toMatch(/\n3\. /);
  });

  it('eval reports recall@k, MRR and misses over the dev questions', async () => {
    // The tiny model is random, so the eval file is made from what `search` returns: for rank r =
    // 1, 2, 3 a dev question whose rank-r hit has a heading of its own (no earlier hit starts with
    // it) expects that heading; a fourth expects a heading no chunk has. The figures eval must
    // report then follow by hand: recall 3/4, MRR (1 + 1/2 + 1/3 + 0) / 4.
    const heading = (text: string) => (text.trimStart().split('\n')[0] ?? '').replace(/^#+\s*/, '').trim();
    const pool = readFileSync(devQuestions, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { question: string }).question);
    const lines: string[] = [];
    for (const rank of [1, 2, 3]) {
      for (;;) {
        const question = pool.shift();
        if (question === undefined) throw new Error(`no dev question has a rank-${rank} hit with a heading of its own`);
        const search = await runInProcess(['search', question, '--top-k', '3', '--json'], env);
        expect(search.code, search.stderr).toBe(0);
        const headings = (JSON.parse(search.stdout) as { hits: Array<{ text: string }> }).hits.map((hit) => heading(hit.text));
        const target = headings[rank - 1] ?? '';
        if (target.length < 8 || headings.slice(0, rank - 1).some((earlier) => earlier.startsWith(target))) continue;
        lines.push(JSON.stringify({ question, expected: [target] }));
        break;
      }
    }
    const unanswered = pool[0] as string;
    lines.push(JSON.stringify({ question: unanswered, expected: ['A heading no FAQ chunk has'] }));
    const file = join(tempHome(), 'ranked.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const json = await runInProcess(['eval', file, '--top-k', '3', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { questions: number; topK: number; recallAtK: number; mrr: number; misses: Array<{ question: string }> };
    expect(report).toMatchObject({ questions: 4, topK: 3, embeddingModel: tinyModel });
    expect(report.recallAtK).toBeCloseTo(3 / 4, 10);
    expect(report.mrr).toBeCloseTo((1 + 1 / 2 + 1 / 3) / 4, 10);
    expect(report.misses.map((miss) => miss.question)).toEqual([unanswered]);
    const human = await runInProcess(['eval', devQuestions], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^questions {3}15\nmodel {7}testing\/tiny-random-albert-768\nchunker {5}seed\nmode {8}(hybrid|dense)\nrecall@3 {4}\d\.\d{3}\nMRR {9}\d\.\d{3}\ncontext {5}\d\.\d{3} recall in what ask sends \(the top 3; median prompt \d+ characters\)\nmisses {6}\d+\n/);
  });

  it('ingests with the markdown chunker: sections with their title path, recorded with the collection', async () => {
    const own = { ...env, RAGOSS_COLLECTION: uniqueCollection('cli_md') };
    const dryRun = await runInProcess(['ingest', '--source', faqZip, '--chunker', 'markdown', '--dry-run', '--json'], own);
    expect(dryRun.code, dryRun.stderr).toBe(0);
    const planned = (JSON.parse(dryRun.stdout) as { totalChunks: number }).totalChunks;
    const result = await runInProcess(['ingest', '--source', faqZip, '--json'], { ...own, RAGOSS_CHUNKER: 'markdown' });
    expect(result.code, result.stderr).toBe(0);
    const fullText = inject('milvusBackend') === 'lite';
    expect(JSON.parse(result.stdout)).toMatchObject({ chunks: planned, chunker: 'markdown', fullText });
    const rows = await storedRows(milvusUri, own.RAGOSS_COLLECTION);
    expect(rows).toHaveLength(planned);
    const titles = new Set(rows.map((row) => String(row['text']).split(' › ')[0]?.split('\n')[0]));
    expect([...titles].sort()).toEqual(['Operational FAQ', 'Performance FAQ', 'Product FAQ', 'Troubleshooting']);
    expect(rows.some((row) => String(row['text']).startsWith('Product FAQ › Where does Milvus store data?\n\n'))).toBe(true);
    const doctor = await runInProcess(['doctor', '--json'], own);
    const listed = (JSON.parse(doctor.stdout) as { milvus: { collections: Array<Record<string, unknown>> } }).milvus.collections;
    expect(listed.find((info) => info['name'] === own.RAGOSS_COLLECTION)).toMatchObject({ chunker: 'markdown', fullText });

    // bm25 matches the question's terms; where the server has no full text it says so and searches dense.
    const bm25 = await runInProcess(['search', 'Which StorageClass does etcd need?', '--mode', 'bm25', '--json'], own);
    expect(bm25.code, bm25.stderr).toBe(0);
    const parsed = JSON.parse(bm25.stdout) as { mode: string; hits: Array<{ text: string }> };
    if (fullText) {
      expect(bm25.stderr).toBe('');
      expect(parsed.mode).toBe('bm25');
      expect(parsed.hits[0]?.text).toContain('StorageClass');
    } else {
      expect(bm25.stderr.trim().split('\n')).toHaveLength(1);
      expect(bm25.stderr).toMatch(/^ragoss: warning: collection cli_md_\w+ has no full-text \(BM25\) index, so bm25 search runs as dense/);
      expect(parsed.mode).toBe('dense');
    }
    // The default is hybrid where there is full text, and dense, without a word, where there is none.
    const byDefault = await runInProcess(['search', QUESTION, '--json'], own);
    expect(byDefault.stderr).toBe('');
    expect((JSON.parse(byDefault.stdout) as { mode: string }).mode).toBe(fullText ? 'hybrid' : 'dense');
  });

  it('eval scores the full-docs format by source and heading, and compares modes in a table', async () => {
    const dir = tempHome();
    const file = join(dir, 'gold.jsonl');
    // Only troubleshooting.md names StorageClass: bm25 finds it whatever the tiny model does.
    writeFileSync(
      file,
      [
        { question: 'StorageClass preconfigured for etcd pvc', gold: [{ source: 'en/faq/troubleshooting.md', chunk_index: 7, heading: '1. etcd pod pending' }] },
        { question: 'Where does Milvus store data?', gold: [{ source: 'en/faq/nowhere.md', chunk_index: 1, heading: 'Where does Milvus store data?' }] },
      ]
        .map((line) => JSON.stringify(line))
        .join('\n'),
    );
    const json = await runInProcess(['eval', file, '--mode', 'all', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const { runs } = JSON.parse(json.stdout) as { runs: Array<{ mode: string; recallAtK: number; page: { recallAtK: number }; misses: Array<{ question: string }> }> };
    const fullText = inject('milvusBackend') === 'lite';
    expect(runs.map((run) => run.mode)).toEqual(fullText ? ['dense', 'bm25', 'hybrid'] : ['dense', 'dense', 'dense']);
    for (const run of runs) expect(run.misses.map((miss) => miss.question)).toContain('Where does Milvus store data?');
    if (fullText) expect(runs[1]).toMatchObject({ recallAtK: 0.5, page: { recallAtK: 0.5 } });
    const table = await runInProcess(['eval', file, '--mode', 'dense,bm25'], env);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^2 questions, model testing\/tiny-random-albert-768, chunker seed, grounding line -1\.000 \(min-score\)\nmode {3}recall@3 {2}MRR {4}page recall@3 {2}page MRR {2}context recall {2}misses {2}flagged\ndense {2}/);
    // Off-topic lines ("expected": []) are scored by the grounding check, beside recall.
    writeFileSync(file, `${JSON.stringify({ question: 'How do I bake sourdough bread?', expected: [] })}\n${JSON.stringify({ question: 'Where does Milvus store data?', expected: ['Where does Milvus store data?'] })}\n`);
    const strict = await runInProcess(['eval', file, '--min-score', '1'], env);
    expect(strict.code, strict.stderr).toBe(0);
    expect(strict.stdout).toMatch(/^questions {3}1\n[\s\S]*\nthreshold {3}1\.000\nflagged {5}1 of 1 real questions\n {2}- Where does Milvus store data\?\noff-topic {3}1 of 1 flagged\n$/);
    const badMode = await runInProcess(['search', QUESTION, '--mode', 'sparse'], env);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/--mode must be one of dense, bm25, hybrid, got "sparse"/);
  });

  it('exits 3 with the fix when the collection was never ingested', async () => {
    const result = await runInProcess(['search', QUESTION, '--collection', uniqueCollection('never')], env);
    expect(result.code).toBe(3);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^ragoss: error: collection never_\w+ not found .* run `ragoss ingest` first/);
  });

  it('refuses to query with another embedding model than the collection was built with', async () => {
    const result = await runInProcess(['search', QUESTION, '--embedding-model', 'Xenova/all-mpnet-base-v2'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/was built with testing\/tiny-random-albert-768, not Xenova\/all-mpnet-base-v2/);
  });

  backendIndependent('warns, even with --json, when the question is longer than the embedding model reads', async () => {
    const longQuestion = `${'Please explain in detail how Milvus persists inserted vectors and metadata. '.repeat(20)}How is data stored in milvus?`;
    const result = await runInProcess(['search', longQuestion, '--json'], env);
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^ragoss: warning: the question is \d+ tokens; testing\/tiny-random-albert-768 reads only the first 100 for retrieval/);
    expect((JSON.parse(result.stdout) as { hits: unknown[] }).hits).toHaveLength(3);
  });

  backendIndependent('rejects an empty question and a bad --top-k as usage errors', async () => {
    expect((await runInProcess(['search', '   '], env)).code).toBe(2);
    const badTopK = await runInProcess(['search', QUESTION, '--top-k', 'zero'], env);
    expect(badTopK.code).toBe(2);
    expect(badTopK.stderr).toMatch(/--top-k must be a whole number/);
  });

  it('an interrupted ingest exits 130 and leaves the previous data serving', async () => {
    const own = { ...env, RAGOSS_COLLECTION: uniqueCollection('cli_interrupt') };
    expect((await runInProcess(['ingest', '--source', faqZip], own)).code).toBe(0);
    const child = spawn(process.execPath, [binPath, 'ingest', '--source', fullZip, '--glob', 'en/**/*.md'], { cwd: projectRoot, env: own, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let interrupted = false;
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
      if (!interrupted && stderr.includes('embedding and storing')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
    expect({ code, stderr }).toMatchObject({ code: 130 });
    expect(stderr).toMatch(/interrupted/);
    const rows = await storedRows(milvusUri, own.RAGOSS_COLLECTION);
    expect(rows).toHaveLength(72);
    const search = await runInProcess(['search', QUESTION, '--json'], own);
    expect(search.code).toBe(0);
  });
});

/**
 * PATH with the test setup's milvus-lite first, found as a user's would be. (Not `.venv` in the
 * checkout: under RAGOSS_TEST_VENV_DIR the venv lives elsewhere, and each test pip-installed its own.)
 */
function pathWithMilvusLite(): string {
  return `${dirname(milvusLiteExecutable())}:${process.env['PATH'] ?? ''}`;
}

// Embedded mode runs Milvus Lite whatever the suite's backend: once is enough.
describe.skipIf(inject('milvusBackend') === 'server')('embedded Milvus Lite by default (no MILVUS_URI)', () => {
  it('ingests, then a second process starts it again and reads the data back', async () => {
    const home = tempHome();
    const env = baseEnv({ RAGOSS_HOME: home, RAGOSS_EMBEDDING_MODEL: tinyModel, PATH: pathWithMilvusLite() });
    const ingest = await runCli(['ingest', '--source', faqZip], env);
    expect(ingest.stderr).toContain('starting embedded Milvus Lite');
    // The milvus-lite on PATH, not a venv of its own.
    expect(ingest.stderr).not.toContain('installing Milvus Lite');
    expect(ingest.code).toBe(0);
    expect(ingest.stdout).toContain(`milvus      ${join(home, 'milvus')}`);
    const search = await runCli(['search', QUESTION, '--json'], env);
    expect(search.code).toBe(0);
    expect((JSON.parse(search.stdout) as { hits: unknown[] }).hits).toHaveLength(3);
  });

  it('takes an embedded data path in MILVUS_URI, as pymilvus does', async () => {
    const home = tempHome();
    const dataDir = join(home, 'elsewhere', 'milvus.db');
    const env = baseEnv({ RAGOSS_HOME: home, MILVUS_URI: dataDir, RAGOSS_EMBEDDING_MODEL: tinyModel, PATH: pathWithMilvusLite() });
    const ingest = await runCli(['ingest', '--source', faqZip, '--json'], env);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(JSON.parse(ingest.stdout)).toMatchObject({ chunks: 72, milvus: dataDir });
    expect(ingest.stderr).not.toContain('installing Milvus Lite');
    expect(existsSync(join(dataDir, 'collections'))).toBe(true);
  });

  it('without Python 3 or milvus-lite it names both ways out', async () => {
    const env = baseEnv({ RAGOSS_HOME: tempHome(), RAGOSS_EMBEDDING_MODEL: tinyModel, PATH: '/nonexistent' });
    const result = await runCli(['search', QUESTION], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/needs Python 3.*docker compose up -d.*MILVUS_URI/);
  });
});
