import { mkdtempSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startChatServer, type ChatServer } from '../helpers/chat-server.js';
// In-process through the CLI's entry (see runInProcess); what needs a process of its own spawns it.
import { baseEnv, runInProcess, tempHome, without } from '../helpers/cli.js';
import { faqZip, tinyModel } from '../helpers/paths.js';
import { freePort } from '../../src/system.js';
import { backendIndependent } from '../helpers/backend.js';

interface DoctorReport {
  ok: boolean;
  milvus: { mode: string; address: string; reachable: boolean; serverVersion?: string; collections: Array<{ name: string; rowCount: number; embeddingModel: string; dimension: number; grounding?: { threshold: number } }> };
  embedding: { model: string; dimension: number | null; local: boolean };
  chat: { baseUrl: string; model: string; keySet: boolean; answers: boolean };
  checks: Array<{ name: string; status: string; detail: string; fix?: string }>;
}

describe('ragoss doctor', () => {
  let chat: ChatServer;
  let env: Record<string, string>;
  const collection = `doctor_${Date.now().toString(36)}`;

  beforeAll(async () => {
    chat = await startChatServer();
    env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: inject('milvusUri'), RAGOSS_COLLECTION: collection, RAGOSS_BASE_URL: chat.baseUrl, MILVUS_TOKEN: 'root:SECRET-token' });
    const ingest = await runInProcess(['ingest', '-q', '--source', faqZip, '--embedding-model', tinyModel], env);
    expect(ingest.code).toBe(0);
  });
  afterAll(async () => {
    await chat.close();
  });

  it('reports Milvus, the collection, the model and the chat endpoint, exit 0 when all is well', async () => {
    const result = await runInProcess(['doctor', '--json'], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.ok).toBe(true);
    expect(report.milvus).toMatchObject({ mode: 'server', reachable: true, serverVersion: expect.stringMatching(inject('milvusBackend') === 'server' ? /^v2\.3\./ : /milvus_lite/), features: { bm25: inject('milvusBackend') !== 'server' } });
    expect(report.milvus.collections.find((info) => info.name === collection)).toMatchObject({ rowCount: 72, embeddingModel: tinyModel, dimension: 768 });
    expect(report.embedding).toMatchObject({ model: tinyModel, dimension: 768, local: true });
    expect(report.chat).toMatchObject({ baseUrl: chat.baseUrl, model: 'openai/gpt-oss-20b', keySet: false, answers: true });
    expect(result.stdout + result.stderr).not.toContain('SECRET');
    const human = await runInProcess(['doctor'], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      inject('milvusBackend') === 'server'
        ? /^ok {4}milvus {5}server http:\/\/127\.0\.0\.1:\d+, version v2\.3\.\S+, no full-text search \(BM25 needs Milvus 2\.5\+\)$/m
        : /^ok {4}milvus {5}server http:\/\/127\.0\.0\.1:\d+, version milvus_lite-3\.2\.\S+, full-text search \(BM25\) available$/m,
    );
    expect(human.stdout).toMatch(/^ok {4}collection {1}doctor_\w+: 72 rows/m);
    // The line the ingest calibrated for the collection, and how.
    expect(report.milvus.collections.find((info) => info.name === collection)?.grounding).toMatchObject({ threshold: expect.any(Number), probes: expect.any(Number) });
    expect(human.stdout).toMatch(/^ok {4}grounding {2}line \d\.\d{3}, calibrated for doctor_\w+: .*percentile of \d+ off-topic probes/m);
  });

  backendIndependent('never prints the chat key, even when the endpoint quotes it back in its error (exit 1)', async () => {
    const key = 'sk-test-SECRET-doctor-key';
    chat.setScenario({ kind: 'status', status: 500, echoAuthorization: true });
    try {
      for (const args of [['doctor'], ['doctor', '--json'], ['doctor', '--verbose']]) {
        const result = await runInProcess(args, { ...env, OPENAI_API_KEY: key });
        expect(result.code).toBe(1);
        expect(chat.requests.at(-1)?.headers['authorization']).toBe(`Bearer ${key}`);
        expect(result.stdout + result.stderr).not.toContain('SECRET');
        // The error quotes the header back and reaches the output: redaction is what hides the key.
        expect(result.stdout).toContain('Bearer ***');
        if (args.length === 1) expect(result.stdout).toMatch(/^FAIL {2}chat .*HTTP 500/m);
      }
    } finally {
      chat.setScenario({ kind: 'ok' });
    }
  });

  it('warns, exit 0, on a fresh machine: embedded Milvus Lite not installed yet, model not downloaded yet', async () => {
    const fresh = without(env, 'MILVUS_URI', 'RAGOSS_MODEL_DIR', 'RAGOSS_OFFLINE', 'RAGOSS_MILVUS_LITE');
    const result = await runInProcess(['doctor'], { ...fresh, RAGOSS_HOME: tempHome() });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^warn {2}milvus {5}embedded Milvus Lite at .*\/milvus is not installed yet\n {17}fix: the first ingest installs it \(needs Python 3\), or set MILVUS_URI to a server$/m);
    expect(result.stdout).toMatch(/^warn {2}embedding {2}Xenova\/all-mpnet-base-v2 not downloaded yet\n {17}fix: the first ingest or search downloads it into the ragoss home$/m);
    expect(result.stdout).toMatch(/^ok {4}chat /m);
    expect(result.stdout).not.toMatch(/^FAIL/m);
  });

  backendIndependent('exits 1 and says what to do when the chat endpoint needs a key that is not set', async () => {
    const result = await runInProcess(['doctor', '--base-url', 'https://openrouter.ai/api/v1'], env);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FAIL {2}chat .*needs an API key/m);
    expect(result.stdout).toMatch(/fix: export OPENROUTER_API_KEY/);
  });

  it('fails a missing collection and a model missing from --model-dir, warns of a chat model the endpoint does not list (exit 1)', async () => {
    const emptyModels = mkdtempSync(join(tmpdir(), 'ragoss-no-models-'));
    const args = ['doctor', '--collection', 'nothing_here', '--model-dir', emptyModels, '--embedding-model', tinyModel, '--model', 'not/listed'];
    const result = await runInProcess(args, env);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stdout).toMatch(/^FAIL {2}collection nothing_here not found\n {17}fix: run `ragoss ingest`$/m);
    expect(result.stdout).toContain(`FAIL  embedding  ${tinyModel} not found at ${join(emptyModels, tinyModel)}\n${' '.repeat(17)}fix: put the model there, or drop --offline/--model-dir to download it\n`);
    expect(result.stdout).toMatch(/^warn {2}chat {7}http:\/\/127\.0\.0\.1:\d+\/v1 answers but does not list not\/listed\n {17}fix: check --model$/m);
    expect(result.stderr).toBe('ragoss: error: doctor found problems (see above)\n');
  });

  backendIndependent('exits 1 when Milvus is unreachable, within seconds', async () => {
    const started = Date.now();
    const result = await runInProcess(['doctor', '--json', '--milvus-uri', `http://127.0.0.1:${await freePort()}`], env);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(result.code).toBe(1);
    const report = JSON.parse(result.stdout) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(report.milvus.reachable).toBe(false);
    expect(report.checks.find((check) => check.name === 'milvus')).toMatchObject({ status: 'fail', detail: expect.stringMatching(/cannot reach Milvus/) });
  });
});

describe('a Milvus that accepts connections but never answers', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  let port: number;

  beforeAll(async () => {
    silent = createServer((socket) => sockets.push(socket));
    port = await new Promise<number>((resolvePort) => silent.listen(0, '127.0.0.1', () => resolvePort((silent.address() as { port: number }).port)));
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolveClose) => silent.close(resolveClose));
  });

  backendIndependent('fails within the bounded timeout instead of hanging', async () => {
    const env = baseEnv({ RAGOSS_HOME: tempHome(), RAGOSS_MILVUS_TIMEOUT: '2', RAGOSS_EMBEDDING_MODEL: tinyModel });
    const started = Date.now();
    const result = await runInProcess(['search', 'How is data stored in milvus?', '--milvus-uri', `http://127.0.0.1:${port}`], env);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ragoss: error: cannot reach Milvus at http:\/\/127\.0\.0\.1:\d+: no answer within 2s/);
  });
});
