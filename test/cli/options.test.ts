import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseEnv, runInProcess, tempHome, type CliResult } from '../helpers/cli.js';
import { chatRequests, startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { faqDir, faqZip, modelsDir, tinyModel } from '../helpers/paths.js';
import { freePort } from '../../src/system.js';

/** Every documented flag and variable does what the README says, flags over env over defaults. */

const QUESTION = 'How is data stored in milvus?';
const ONE_FILE = 'en/faq/product_faq.md';

function expectUsageError(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(message);
  expect(result.stdout).toBe('');
}

describe('documented settings, through the CLI', () => {
  const milvusUri = inject('milvusUri');
  const collection = `options_${Date.now().toString(36)}`;
  let chat: ChatServer;
  let files: FileServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    chat = await startChatServer();
    files = await startFileServer({ '/docs.zip': { kind: 'file', file: faqZip } });
    // The model directory only as a flag, below: not in the environment.
    env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: milvusUri, RAGOSS_COLLECTION: collection, RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_MODEL_DIR: undefined, RAGOSS_BASE_URL: chat.baseUrl });
  });
  afterAll(async () => {
    await chat.close();
    await files.close();
  });

  it('ingest reads RAGOSS_SOURCE and RAGOSS_GLOB, and the model from --model-dir', async () => {
    const without = await runInProcess(['ingest', '--json'], { ...env, RAGOSS_SOURCE: faqZip, RAGOSS_GLOB: ONE_FILE });
    expect(without.code).toBe(1);
    expect(without.stderr).toMatch(/embedding model testing\/tiny-random-albert-768/);
    const result = await runInProcess(['ingest', '--json', '--model-dir', modelsDir], { ...env, RAGOSS_SOURCE: faqZip, RAGOSS_GLOB: ONE_FILE });
    expect(result.code, result.stderr).toBe(0);
    const expectedChunks = readFileSync(join(faqDir, ONE_FILE), 'utf8').split('# ').length;
    expect(JSON.parse(result.stdout)).toMatchObject({ files: 1, chunks: expectedChunks, source: faqZip });
  });

  it('--refresh downloads a cached source again; without it the cache is used', async () => {
    const url = files.url('/docs.zip');
    const dryRun = (...extra: string[]) => runInProcess(['ingest', '--source', url, '--dry-run', '--json', '--model-dir', modelsDir, ...extra], env);
    expect((await dryRun()).code).toBe(0);
    const afterFirst = files.hits('/docs.zip');
    expect(afterFirst).toBeGreaterThan(0);
    expect((await dryRun()).code).toBe(0);
    expect(files.hits('/docs.zip')).toBe(afterFirst);
    const refreshed = await dryRun('--refresh');
    expect(refreshed.code, refreshed.stderr).toBe(0);
    expect(files.hits('/docs.zip')).toBe(afterFirst + 1);
  });

  it('RAGOSS_TOP_K sets the hit count, and --top-k wins over it', async () => {
    const withModel = { ...env, RAGOSS_MODEL_DIR: modelsDir };
    const fromEnv = await runInProcess(['search', QUESTION, '--json'], { ...withModel, RAGOSS_TOP_K: '2' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect((JSON.parse(fromEnv.stdout) as { hits: unknown[] }).hits).toHaveLength(2);
    const fromFlag = await runInProcess(['search', QUESTION, '--json', '--top-k', '1'], { ...withModel, RAGOSS_TOP_K: '2' });
    expect((JSON.parse(fromFlag.stdout) as { hits: unknown[] }).hits).toHaveLength(1);
  });

  it('ask sends --top-k chunks and the model, token budget and reasoning effort from flags or env', async () => {
    const withModel = { ...env, RAGOSS_MODEL_DIR: modelsDir };
    chat.setScenario({ kind: 'ok' });
    chat.requests.length = 0;
    const fromEnv = await runInProcess(['ask', QUESTION, '--json', '--top-k', '2'], { ...withModel, RAGOSS_MODEL: 'openai/gpt-oss-120b', RAGOSS_MAX_TOKENS: '777', RAGOSS_REASONING_EFFORT: 'low' });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    expect((JSON.parse(fromEnv.stdout) as { hits: unknown[] }).hits).toHaveLength(2);
    expect(chatRequests(chat).at(-1)?.body).toMatchObject({ model: 'openai/gpt-oss-120b', max_tokens: 777, reasoning_effort: 'low' });
    const fromFlags = await runInProcess(['ask', QUESTION, '--json', '--model', 'openai/gpt-oss-20b', '--max-tokens', '555', '--reasoning-effort', 'high'], { ...withModel, RAGOSS_MODEL: 'openai/gpt-oss-120b', RAGOSS_MAX_TOKENS: '777', RAGOSS_REASONING_EFFORT: 'low' });
    expect(fromFlags.code, fromFlags.stderr).toBe(0);
    expect(chatRequests(chat).at(-1)?.body).toMatchObject({ model: 'openai/gpt-oss-20b', max_tokens: 555, reasoning_effort: 'high' });
  });

  it('--timeout bounds the wait for the chat endpoint, over RAGOSS_TIMEOUT', async () => {
    const withModel = { ...env, RAGOSS_MODEL_DIR: modelsDir };
    chat.setScenario({ kind: 'hang' });
    try {
      // One run (each waits out three retries); RAGOSS_TIMEOUT alone is read as the unit tests show.
      for (const [args, extraEnv] of [[['--timeout', '1'], { RAGOSS_TIMEOUT: '600' }]] as const) {
        const started = Date.now();
        const result = await runInProcess(['ask', QUESTION, ...args], { ...withModel, ...extraEnv });
        expect(result.code, result.stderr).toBe(1);
        expect(result.stderr).toMatch(/ragoss: error: chat endpoint http:\/\/127\.0\.0\.1:\d+\/v1 did not answer within 1s — check the endpoint, or raise --timeout\n$/);
        // Three retries of one second each at most, not the two-minute default.
        expect(Date.now() - started).toBeLessThan(60_000);
      }
    } finally {
      chat.setScenario({ kind: 'ok' });
    }
  });

  it('RAGOSS_EMBEDDING_DTYPE picks the model weights and is recorded with the collection', async () => {
    const own = { ...env, RAGOSS_MODEL_DIR: modelsDir, RAGOSS_COLLECTION: `${collection}_q8`, RAGOSS_EMBEDDING_DTYPE: 'q8' };
    const ingest = await runInProcess(['ingest', '--source', faqZip, '--json'], own);
    expect(ingest.code, ingest.stderr).toBe(0);
    const doctor = JSON.parse((await runInProcess(['doctor', '--json'], own)).stdout) as { milvus: { collections: Array<{ name: string; embeddingDtype?: string }> } };
    expect(doctor.milvus.collections.find((info) => info.name === own.RAGOSS_COLLECTION)).toMatchObject({ embeddingDtype: 'q8' });
    // fp32 weights would give other vectors: re-ingesting with them may not reuse the q8 ones.
    const fp32 = await runInProcess(['ingest', '--source', faqZip, '--json'], { ...own, RAGOSS_EMBEDDING_DTYPE: 'fp32' });
    expect(fp32.code, fp32.stderr).toBe(0);
    expect(JSON.parse(fp32.stdout)).toMatchObject({ embeddedChunks: 72, reusedChunks: 0 });
  });

  it('tcp:// and grpc:// URIs reach the same server as http://', async () => {
    const port = new URL(milvusUri).port;
    for (const scheme of ['tcp', 'grpc']) {
      const result = await runInProcess(['search', QUESTION, '--json', '--top-k', '1'], { ...env, RAGOSS_MODEL_DIR: modelsDir, MILVUS_URI: `${scheme}://127.0.0.1:${port}` });
      expect(result.code, result.stderr).toBe(0);
      expect((JSON.parse(result.stdout) as { hits: unknown[] }).hits).toHaveLength(1);
    }
  });

  it('-q silences progress; --verbose adds the cause chain to an error, never a key', async () => {
    const quiet = await runInProcess(['ingest', '-q', '--source', faqZip, '--model-dir', modelsDir], env);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');
    expect(quiet.stdout).toMatch(/^ingested 72 chunks from 4 files/m);
    const loud = await runInProcess(['ingest', '--source', faqZip, '--model-dir', modelsDir], env);
    expect(loud.stderr).toMatch(/^ragoss: embedding and storing/m);

    const closedPort = await freePort();
    const unreachable = ['ask', QUESTION, '--base-url', `http://127.0.0.1:${closedPort}/v1`, '--model-dir', modelsDir];
    const keyed = { ...env, OPENAI_API_KEY: 'sk-verbose-SECRET' };
    const plain = await runInProcess(unreachable, keyed);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/\nragoss: error: cannot reach chat endpoint http:\/\/127\.0\.0\.1:\d+\/v1: connection refused — check --base-url and that the server is running\n$/);
    expect(plain.stderr.split('\n').filter((line) => line.startsWith('ragoss: error:'))).toHaveLength(1);
    expect(plain.stderr).not.toMatch(/^ {4}at /m);
    const verbose = await runInProcess([...unreachable, '--verbose'], keyed);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/ECONNREFUSED/);
    expect(verbose.stderr).toMatch(/^ {4}at /m);
    expect(verbose.stderr).not.toContain('SECRET');
  });

  it('refuses bad values of every numeric and enumerated setting, naming where each came from', async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['search', QUESTION], { RAGOSS_TOP_K: '0' }, /RAGOSS_TOP_K must be a whole number of 1 or more, got "0"/],
      [['search', QUESTION, '--top-k', 'ten'], {}, /--top-k must be a whole number of 1 or more, got "ten"/],
      [['search', QUESTION], { RAGOSS_EMBEDDING_BATCH: '0' }, /RAGOSS_EMBEDDING_BATCH must be a whole number of 1 or more, got "0"/],
      [['search', QUESTION], { RAGOSS_EMBEDDING_BATCH: 'many' }, /RAGOSS_EMBEDDING_BATCH must be a whole number of 1 or more, got "many"/],
      [['search', QUESTION], { RAGOSS_EMBEDDING_DTYPE: 'fp64' }, /RAGOSS_EMBEDDING_DTYPE must be one of fp32, .*, got "fp64"/],
      [['ask', QUESTION], { RAGOSS_MAX_TOKENS: '-5' }, /RAGOSS_MAX_TOKENS must be a whole number of 1 or more, got "-5"/],
      [['ask', QUESTION], { RAGOSS_TIMEOUT: '1.5' }, /RAGOSS_TIMEOUT must be a whole number of 1 or more, got "1\.5"/],
      [['ask', QUESTION, '--timeout', '0'], {}, /--timeout must be a whole number of 1 or more, got "0"/],
      [['ask', QUESTION], { RAGOSS_REASONING_EFFORT: 'max' }, /RAGOSS_REASONING_EFFORT must be low, medium or high, got "max"/],
      [['ask', QUESTION], { RAGOSS_BASE_URL: 'not a url' }, /invalid RAGOSS_BASE_URL "not a url"/],
      [['search', QUESTION], { RAGOSS_MODE: 'fuzzy' }, /RAGOSS_MODE must be/],
      [['ingest', '--source', faqZip], { RAGOSS_CHUNKER: 'words' }, /RAGOSS_CHUNKER must be one of/],
    ];
    for (const [args, extraEnv, message] of cases) expectUsageError(await runInProcess(args, { ...env, RAGOSS_MODEL_DIR: modelsDir, ...extraEnv }), message);
    expect(chatRequests(chat).filter((request) => (request.body as { max_tokens?: number } | undefined)?.max_tokens === -5)).toEqual([]);
  });
});
