import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { faqZip, tinyModel } from '../helpers/paths.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';
import { uniqueCollection } from '../helpers/names.js';

const QUESTION = 'Where does Milvus store data?';

/** An env where no local model can load: the client path must not need one. */
function endpointEnv(server: ModelServer, extra: Record<string, string> = {}): Record<string, string> {
  return baseEnv({
    RAGOSS_HOME: tempHome(),
    MILVUS_URI: inject('milvusUri'),
    RAGOSS_MODEL_DIR: mkdtempSync(join(tmpdir(), 'ragoss-no-models-')),
    RAGOSS_COLLECTION: uniqueCollection('ep'),
    RAGOSS_EMBEDDING_URL: server.url,
    RAGOSS_EMBEDDING_RETRIES: '1',
    ...extra,
  });
}

interface SearchJson {
  hits: Array<{ source: string; chunkIndex: number; heading?: string; rerankScore?: number }>;
  rerank?: { by: string; candidates: number; fallback?: string };
}

describe('embedding through an OpenAI-compatible server', () => {
  let server: ModelServer;
  beforeAll(async () => {
    server = await startModelServer({ dimension: 64, models: ['fake-embedder'], apiKey: 'emb-key-5678' });
  });
  afterAll(() => server.close());

  it('ingests with no local model, records the server, and questions go there without being told', async () => {
    const env = endpointEnv(server, { RAGOSS_EMBEDDING_API_KEY: 'emb-key-5678' });
    const ingest = await runInProcess(['ingest', '--source', faqZip], env);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(ingest.stdout).toContain(`  model       fake-embedder (64 dims, through ${server.url})`);
    expect(ingest.stderr).toContain(`embedding through ${server.url} (fake-embedder)`);
    expect(ingest.stderr + ingest.stdout).not.toContain('emb-key-5678');

    const { RAGOSS_EMBEDDING_URL: _unset, ...withoutUrl } = env;
    const before = server.requests.length;
    const search = await runInProcess(['search', QUESTION, '--json'], withoutUrl);
    expect(search.code, search.stderr).toBe(0);
    const result = JSON.parse(search.stdout) as SearchJson;
    expect(result.hits).toHaveLength(3);
    expect(server.requests.slice(before).some((request) => request.route === '/embeddings' && (request.body['input'] as string[])[0] === QUESTION)).toBe(true);

    const doctor = JSON.parse((await runInProcess(['doctor', '--json'], withoutUrl)).stdout) as { embedding: unknown; checks: Array<{ name: string; status: string; detail: string }> };
    expect(doctor.embedding).toEqual({ model: 'fake-embedder', dimension: 64, local: false, location: server.url });
    expect(doctor.checks.find((check) => check.name === 'embedding')).toMatchObject({ status: 'ok', detail: `fake-embedder (64 dims) through ${server.url}` });
  });

  it('refuses to mix: a local collection queried through a server, a server collection re-ingested locally', async () => {
    const local = endpointEnv(server, { RAGOSS_EMBEDDING_MODEL: tinyModel });
    const { RAGOSS_EMBEDDING_URL: _a, RAGOSS_MODEL_DIR: _b, ...localOnly } = local;
    const localEnv = { ...localOnly, RAGOSS_MODEL_DIR: baseEnv()['RAGOSS_MODEL_DIR'] as string };
    expect((await runInProcess(['ingest', '-q', '--source', faqZip], localEnv)).code).toBe(0);
    const refused = await runInProcess(['search', QUESTION, '--embedding-url', server.url], { ...localEnv, RAGOSS_EMBEDDING_API_KEY: 'emb-key-5678' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toBe(
      `ragoss: error: collection ${local['RAGOSS_COLLECTION']} was embedded by the local model ${tinyModel}, so its questions must be too, not through ${server.url} — unset RAGOSS_EMBEDDING_URL (or drop --embedding-url), or re-ingest through the server with --replace\n`,
    );
    const mixed = await runInProcess(['ingest', '--source', faqZip, '--embedding-url', server.url], { ...localEnv, RAGOSS_EMBEDDING_API_KEY: 'emb-key-5678' });
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain(`was embedded by a local model (${tinyModel}), not through ${server.url} — pass --replace`);
  });

  it('says a refused key in one line', async () => {
    const env = endpointEnv(server, { RAGOSS_EMBEDDING_API_KEY: 'wrong-key-0000' });
    const result = await runInProcess(['ingest', '-q', '--source', faqZip], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`ragoss: error: embedding endpoint ${server.url}/models refused the API key (HTTP 401) — set a valid RAGOSS_EMBEDDING_API_KEY\n`);
    const named = await runInProcess(['ingest', '-q', '--source', faqZip, '--embedding-model', 'fake-embedder'], env);
    expect(named.stderr).toBe(`ragoss: error: embedding endpoint ${server.url}/embeddings refused the API key (HTTP 401) — set a valid RAGOSS_EMBEDDING_API_KEY\n`);
  });
});

describe('faults of the embedding server', () => {
  it('waits out a 429 with Retry-After mid-ingest, and finishes', async () => {
    const server = await startModelServer({ dimension: 32 });
    try {
      server.failNext('/embeddings', {}, { status: 429, headers: { 'retry-after': '1' } });
      const result = await runInProcess(['ingest', '--source', faqZip, '--json'], endpointEnv(server));
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toContain(`embedding endpoint ${server.url}/embeddings answered HTTP 429; retrying in 1.0s`);
      expect(JSON.parse(result.stdout)).toMatchObject({ chunks: 72, embeddedChunks: 72, embeddingEndpoint: server.url });
    } finally {
      await server.close();
    }
  });

  it('a server that dies mid-ingest fails it in one line, and the previous data keeps serving', async () => {
    const server = await startModelServer({ dimension: 32 });
    try {
      const env = endpointEnv(server, { RAGOSS_EMBEDDING_BATCH: '8', RAGOSS_EMBEDDING_CONCURRENCY: '1' });
      expect((await runInProcess(['ingest', '-q', '--source', faqZip], env)).code).toBe(0);
      const before = JSON.parse((await runInProcess(['search', QUESTION, '--json'], env)).stdout) as SearchJson;
      // The probe and four batches, then nothing listens: --full makes every chunk go to the server again.
      server.stopAfter(5);
      const failed = await runInProcess(['ingest', '--source', faqZip, '--full'], env);
      expect(failed.code).toBe(1);
      expect(failed.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^ragoss: error: cannot reach embedding endpoint ${server.url}/embeddings: connection (refused|dropped) \\(after 1 retry\\) — check the URL and that the server is running$`));
      // Questions need the server too, so the data is checked straight from Milvus: all 72 rows, same ranking on a new server.
      const revived = await startModelServer({ dimension: 32 });
      try {
        const after = JSON.parse((await runInProcess(['search', QUESTION, '--json', '--embedding-url', revived.url], env)).stdout) as SearchJson;
        expect(after.hits.map((hit) => [hit.source, hit.chunkIndex])).toEqual(before.hits.map((hit) => [hit.source, hit.chunkIndex]));
        const collections = JSON.parse((await runInProcess(['doctor', '--json', '--embedding-url', revived.url], env)).stdout) as { milvus: { collections: Array<{ name: string; rowCount: number }> } };
        expect(collections.milvus.collections.find((info) => info.name === env['RAGOSS_COLLECTION'])?.rowCount).toBe(72);
      } finally {
        await revived.close();
      }
    } finally {
      await server.close();
    }
  });

  it('a server that now makes vectors of another width is refused in one line', async () => {
    const server = await startModelServer({ dimension: 32 });
    try {
      const env = endpointEnv(server);
      expect((await runInProcess(['ingest', '-q', '--source', faqZip], env)).code).toBe(0);
      server.setDimension(48);
      const result = await runInProcess(['search', '-q', QUESTION], env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`ragoss: error: collection ${env['RAGOSS_COLLECTION']} holds 32-dim vectors but fake-embedder makes 48-dim ones — re-ingest with --replace, or use the model the collection was built with\n`);
    } finally {
      await server.close();
    }
  });
});

describe('the rerank stage', () => {
  let server: ModelServer;
  let env: Record<string, string>;
  beforeAll(async () => {
    server = await startModelServer({ dimension: 64 });
    env = endpointEnv(server);
    expect((await runInProcess(['ingest', '-q', '--source', faqZip], env)).code).toBe(0);
  });
  afterAll(() => server.close());

  it('reorders the top candidates by the server\'s scores, in both dialects', async () => {
    for (const format of ['cohere', 'tei']) {
      const result = await runInProcess(['search', QUESTION, '--json', '--rerank', `${server.url}/rerank`, '--rerank-candidates', '10', '--top-k', '4'], { ...env, RAGOSS_RERANK_FORMAT: format });
      expect(result.code, result.stderr).toBe(0);
      const { hits, rerank } = JSON.parse(result.stdout) as SearchJson;
      expect(rerank).toEqual({ by: `${server.url}/rerank`, candidates: 10 });
      expect(hits).toHaveLength(4);
      const scores = hits.map((hit) => hit.rerankScore as number);
      expect([...scores].sort((a, b) => b - a)).toEqual(scores);
      const sent = server.requests.filter((request) => request.route === '/rerank').at(-1);
      expect(((sent?.body['documents'] ?? sent?.body['texts']) as string[]).length).toBe(10);
    }
  });

  it('keeps the retrieval order past the time budget, with one warning', async () => {
    const plain = JSON.parse((await runInProcess(['search', QUESTION, '--json'], env)).stdout) as SearchJson;
    server.failNext('/rerank', { delayMs: 3000 });
    const result = await runInProcess(['search', QUESTION, '--rerank', server.url, '--rerank-timeout', '0.3'], env);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`ragoss: warning: reranking skipped (${server.url}/rerank did not answer within 0.3s); the dense order stands\n`);
    expect(result.stdout.split('\n')[0]).toContain(`${plain.hits[0]?.source} #${plain.hits[0]?.chunkIndex}`);
  });

  it('eval runs each mode without and with the reranker, side by side', async () => {
    const questions = join(tmpdir(), `ragoss-eval-${Date.now()}.jsonl`);
    const { writeFileSync } = await import('node:fs');
    writeFileSync(questions, `${JSON.stringify({ question: QUESTION, expected: ['Where does Milvus store data?'] })}\n${JSON.stringify({ question: 'Can I use Milvus offline?', expected: [] })}\n`);
    const table = await runInProcess(['eval', questions, '--rerank', server.url], env);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^1 questions, model fake-embedder, chunker seed, grounding line -1\\.000 \\(min-score\\), reranker ${server.url}/rerank over the top 20\\nmode +rerank +recall@3`));
    expect(table.stdout).toMatch(/\ndense +no +/);
    expect(table.stdout).toMatch(/\ndense +yes +/);
    const json = JSON.parse((await runInProcess(['eval', questions, '--rerank', server.url, '--json'], env)).stdout) as { runs: Array<{ rerank?: unknown }> };
    expect(json.runs.map((run) => run.rerank)).toEqual([undefined, { by: `${server.url}/rerank`, candidates: 20, fallbacks: 0 }]);
  });

  it('refuses a rerank target that is neither http(s) nor a model name', async () => {
    const result = await runInProcess(['search', QUESTION, '--rerank', 'ftp://host/rerank'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('ragoss: error: --rerank must be an http(s) URL or a model name, got "ftp://host/rerank" — e.g. http://localhost:7997/rerank or Xenova/ms-marco-MiniLM-L-6-v2\n');
  });
});
