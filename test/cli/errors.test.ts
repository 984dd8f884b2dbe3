import { DataType } from '@zilliz/milvus2-sdk-node';
import { testMilvusClient } from '../helpers/milvus-client.js';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { baseEnv, runCli, runInProcess, tempHome, without, type CliResult } from '../helpers/cli.js';
import { cleanErrorLine } from '../helpers/errors.js';
import { chatRequests, startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { binPath, faqZip, modelsDir, projectRoot, tinyModel } from '../helpers/paths.js';
import { processAlive } from '../../src/system.js';
import { freePort } from '../../src/system.js';

/** The README's "When things go wrong" messages and the exit-code contract, each produced for real. */

const QUESTION = 'How is data stored in milvus?';

/** A clean failure (see cleanErrorLine) with nothing on stdout; returns the error line. */
function errorLine(result: CliResult, exitCode: number): string {
  const line = cleanErrorLine(result, exitCode);
  expect(line.startsWith('ragoss: error:'), line).toBe(true);
  expect(result.stdout).toBe('');
  return line;
}

/** A stand-in for milvus-lite: a shell script that does what `body` says instead of serving. */
function fakeMilvusLite(body: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'ragoss-fake-lite-')), 'milvus-lite');
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

/** `node --import` this and every `*.invalid` host name is unknown, with no DNS query sent. */
const NO_SUCH_HOST = ['--import', join(projectRoot, 'test', 'helpers', 'no-such-host.mjs')];

const MILVUS_HINT = 'check MILVUS_URI and start the server (docker compose up -d, or milvus-lite server --data-dir DIR --port 19530), or unset MILVUS_URI to use the embedded Milvus Lite';

/** A copy of the tiny model (by symlinks) whose config.json claims another hidden size. */
function tinyModelClaiming(hiddenSize: number): string {
  const root = mkdtempSync(join(tmpdir(), 'ragoss-models-'));
  const source = join(modelsDir, tinyModel);
  const target = join(root, tinyModel);
  mkdirSync(target, { recursive: true });
  for (const entry of readdirSync(source)) if (entry !== 'config.json') symlinkSync(join(source, entry), join(target, entry));
  const config = JSON.parse(readFileSync(join(source, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(target, 'config.json'), JSON.stringify({ ...config, hidden_size: hiddenSize }));
  return root;
}

describe('errors a user meets, through the CLI', () => {
  const milvusUri = inject('milvusUri');
  const collection = `errors_${Date.now().toString(36)}`;
  let chat: ChatServer;
  let hub: FileServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    chat = await startChatServer();
    hub = await startFileServer({});
    env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: milvusUri, RAGOSS_COLLECTION: collection, RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_BASE_URL: chat.baseUrl });
    const ingest = await runInProcess(['ingest', '--quiet', '--source', faqZip], env);
    expect(ingest.code, ingest.stderr).toBe(0);
  });
  afterAll(async () => {
    await chat.close();
    await hub.close();
  });

  it('refuses to ingest over a plain collection of the same name that ragoss did not make (exit 2)', async () => {
    const name = `plain_${Date.now().toString(36)}`;
    const client = testMilvusClient(new URL(milvusUri).host);
    try {
      await client.createCollection({ collection_name: name, fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'v', data_type: DataType.FloatVector, dim: 4 }] });
      const line = errorLine(await runInProcess(['ingest', '--source', faqZip, '--collection', name], env), 2);
      expect(line).toMatch(new RegExp(`collection ${name} at .* was not created by ragoss \\(it is a plain collection, not an alias\\) — choose another --collection, or drop that collection first`));
      // Untouched: still the user's own collection.
      expect((await client.describeCollection({ collection_name: name })).schema.fields.map((field) => field.name)).toEqual(['id', 'v']);
    } finally {
      await client.dropCollection({ collection_name: name });
      await client.closeConnection();
    }
  });

  it('says where it looked when the model is not in --model-dir', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ragoss-no-models-'));
    const line = errorLine(await runInProcess(['search', QUESTION, '--model-dir', empty], env), 1);
    expect(line).toBe(`ragoss: error: embedding model ${tinyModel} is not in ${empty} — put it at ${join(empty, tinyModel)} (config.json, tokenizer.json, onnx/) or drop --model-dir to download it`);
  });

  it('names the model and the file when the hub has no such model (404)', async () => {
    const online = { ...without(env, 'RAGOSS_MODEL_DIR', 'RAGOSS_OFFLINE'), RAGOSS_HOME: tempHome(), HF_ENDPOINT: hub.url('/') };
    const line = errorLine(await runCli(['ingest', '--source', faqZip, '--embedding-model', 'nobody/no-such-model'], online), 1);
    expect(line).toMatch(/^ragoss: error: cannot load embedding model nobody\/no-such-model: .*nobody\/no-such-model\/resolve\/main\/\S+.* — check the model name, your network, or --model-dir$/);
  });

  it('explains a refused key (403) and a rate limit that outlasts the retries (429)', async () => {
    chat.setScenario({ kind: 'status', status: 403 });
    expect(errorLine(await runInProcess(['ask', QUESTION], env), 1)).toMatch(/chat endpoint http:\/\/127\.0\.0\.1:\d+\/v1 refused the API key \(HTTP 403\) — set a valid OPENROUTER_API_KEY or OPENAI_API_KEY$/);
    chat.setScenario({ kind: 'status', status: 429, retryAfterSeconds: 0 });
    const before = chatRequests(chat).length;
    expect(errorLine(await runInProcess(['ask', QUESTION], env), 1)).toMatch(/chat endpoint http:\/\/127\.0\.0\.1:\d+\/v1 is rate limiting us \(HTTP 429\) and retries did not help — wait a minute and try again, or use another --model$/);
    // The first request and three retries.
    expect(chatRequests(chat).length - before).toBe(4);
    chat.setScenario({ kind: 'ok' });
  });

  it('refuses an empty eval file and a line that is not JSON (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ragoss-eval-'));
    writeFileSync(join(dir, 'empty.jsonl'), '\n\n');
    writeFileSync(join(dir, 'bad.jsonl'), '{"question": "ok?", "expected": ["x"]}\n{not json\n');
    expect(errorLine(await runInProcess(['eval', join(dir, 'empty.jsonl')], env), 2)).toMatch(/empty\.jsonl has no questions — put /);
    expect(errorLine(await runInProcess(['eval', join(dir, 'bad.jsonl')], env), 2)).toMatch(/bad\.jsonl:2 is not valid JSON$/);
  });

  it('reports an embedded Milvus Lite that exits while starting, with its last words', async () => {
    const dying = fakeMilvusLite('echo "loading data" >&2; echo "fatal: cannot open the data directory" >&2; exit 3');
    const embedded = { ...without(env, 'MILVUS_URI'), RAGOSS_HOME: tempHome(), RAGOSS_MILVUS_LITE: dying };
    const line = errorLine(await runCli(['search', QUESTION], embedded), 1);
    expect(line).toMatch(/^ragoss: error: embedded Milvus Lite exited while starting \(exit 3\): fatal: cannot open the data directory — data directory: .*\/milvus$/);
  });

  it('refuses a question model whose vectors have another dimension than the collection', async () => {
    const line = errorLine(await runInProcess(['search', QUESTION, '--model-dir', tinyModelClaiming(384)], env), 1);
    expect(line).toBe(`ragoss: error: collection ${collection} holds 768-dim vectors but ${tinyModel} makes 384-dim ones — re-ingest with --replace, or use the model the collection was built with`);
  });

  it('names an unknown host (of a download, a chat endpoint, a Milvus server) and a refused connection', async () => {
    const download = errorLine(await runCli(['ingest', '--source', 'http://docs.invalid/milvus_docs.zip'], env, { nodeArgs: NO_SUCH_HOST }), 1);
    expect(download).toBe('ragoss: error: download of http://docs.invalid/milvus_docs.zip failed: host not found — check the URL and your network, or pass a local zip with --source FILE.zip');
    const ask = errorLine(await runCli(['ask', QUESTION, '--base-url', 'http://chat.invalid/v1'], env, { nodeArgs: NO_SUCH_HOST }), 1);
    expect(ask).toBe('ragoss: error: cannot reach chat endpoint http://chat.invalid/v1: host not found — check --base-url and that the server is running');
    const milvus = errorLine(await runCli(['search', QUESTION], { ...env, MILVUS_URI: 'http://milvus.invalid:19530' }, { nodeArgs: NO_SUCH_HOST }), 1);
    expect(milvus).toBe(`ragoss: error: cannot reach Milvus at http://milvus.invalid:19530: host not found — ${MILVUS_HINT}`);
    const closedPort = await freePort();
    const refused = errorLine(await runInProcess(['search', QUESTION], { ...env, MILVUS_URI: `http://127.0.0.1:${closedPort}` }), 1);
    expect(refused).toBe(`ragoss: error: cannot reach Milvus at http://127.0.0.1:${closedPort}: connection refused — ${MILVUS_HINT}`);
  });

  it('gives up on an embedded Milvus Lite that never listens after RAGOSS_START_TIMEOUT, and stops it', async () => {
    const pidFile = join(mkdtempSync(join(tmpdir(), 'ragoss-fake-pid-')), 'pid');
    const silent = fakeMilvusLite(`echo $$ > ${pidFile}; echo "waiting for the metadata store" >&2; exec sleep 600`);
    const embedded = { ...without(env, 'MILVUS_URI'), RAGOSS_HOME: tempHome(), RAGOSS_MILVUS_LITE: silent, RAGOSS_START_TIMEOUT: '2' };
    const line = errorLine(await runCli(['search', QUESTION], embedded), 1);
    expect(line).toMatch(/^ragoss: error: embedded Milvus Lite did not start within 2s: waiting for the metadata store — raise RAGOSS_START_TIMEOUT on a slow machine, or check the data directory .*\/milvus$/);
    expect(processAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
  });

  it('quotes pip when installing Milvus Lite fails, and tries again on the next run', async () => {
    // A package index on 127.0.0.1 that has nothing: the real pip fails as with a bad mirror.
    const pip = { ...without(env, 'MILVUS_URI'), RAGOSS_HOME: tempHome(), PIP_INDEX_URL: hub.url('/simple'), PIP_CONFIG_FILE: '/dev/null', PIP_NO_CACHE_DIR: '1', PIP_RETRIES: '0' };
    const first = await runCli(['search', QUESTION], pip);
    const line = errorLine(first, 1);
    expect(line).toMatch(/^ragoss: error: pip install milvus-lite==\S+ pymilvus==\S+ failed \(exit 1\): ERROR: No matching distribution found for milvus-lite==\S+ — see .*\/venv-install\.log; /);
    expect(hub.hits('/simple/milvus-lite/')).toBeGreaterThan(0);
    const second = await runCli(['search', QUESTION], pip);
    expect(errorLine(second, 1)).toBe(line);
    expect(second.stderr).toMatch(/^ragoss: pip install milvus-lite/m);
  });

  it('quotes Python when it cannot create the venv for Milvus Lite', async () => {
    // A file where the venv goes: the real `python3 -m venv` fails, as it does without python3-venv.
    const home = tempHome();
    writeFileSync(join(home, 'venv'), '');
    const line = errorLine(await runCli(['search', QUESTION], { ...without(env, 'MILVUS_URI'), RAGOSS_HOME: home }), 1);
    expect(line).toBe(`ragoss: error: creating a Python venv failed (exit 1): Error: Unable to create directory '${join(home, 'venv')}' — see ${join(home, 'venv-install.log')}; check that Python's venv works there (Debian/Ubuntu: apt-get install python3-venv), or set MILVUS_URI to a Milvus server`);
  });

  it('a second Ctrl-C during cleanup exits at once and still stops the embedded Milvus Lite', async () => {
    // A Milvus Lite that never listens and shrugs off SIGTERM: the cleanup after the first Ctrl-C
    // would wait out its 5 s grace before SIGKILL.
    const dir = mkdtempSync(join(tmpdir(), 'ragoss-fake-stubborn-'));
    const [pidFile, termFile] = [join(dir, 'pid'), join(dir, 'term')];
    const stubborn = fakeMilvusLite(`trap 'echo term > ${termFile}' TERM; echo $$ > ${pidFile}; while :; do sleep 0.1; done`);
    const home = tempHome();
    const embedded = { ...without(env, 'MILVUS_URI'), RAGOSS_HOME: home, RAGOSS_MILVUS_LITE: stubborn };
    const child = spawn(process.execPath, [binPath, 'search', QUESTION], { cwd: projectRoot, env: embedded, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const closed = new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
    await vi.waitFor(() => expect(existsSync(pidFile)).toBe(true), { timeout: 30_000, interval: 50 });
    child.kill('SIGINT');
    await vi.waitFor(() => expect(existsSync(termFile)).toBe(true), { timeout: 4_000, interval: 20 });
    child.kill('SIGINT');
    expect(await closed, stderr).toBe(130);
    expect(stderr).toMatch(/\nragoss: interrupted again; stopped without cleaning up\n$/);
    await vi.waitFor(() => expect(processAlive(Number(readFileSync(pidFile, 'utf8')))).toBe(false), { timeout: 5_000 });
    // The data lock went with it: the next command does not wait for a dead holder.
    const next = await runCli(['search', QUESTION], { ...embedded, RAGOSS_MILVUS_LITE: fakeMilvusLite('echo "gone" >&2; exit 4') });
    expect(errorLine(next, 1)).toMatch(/exited while starting \(exit 4\): gone/);
    expect(next.stderr).not.toMatch(/waiting for another ragoss/);
  });

  it('an unexpected failure is one line that points at --verbose, which shows the stack', async () => {
    // A ragoss home that is a file: no command can create its directories there.
    const home = join(mkdtempSync(join(tmpdir(), 'ragoss-file-home-')), 'home');
    writeFileSync(home, 'not a directory');
    const broken = { ...without(env, 'MILVUS_URI'), RAGOSS_HOME: home };
    const plain = await runCli(['search', QUESTION], broken);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/^ragoss: unexpected error: EEXIST: file already exists, mkdir '.*\/home' \(run with --verbose for details\)\n$/m);
    expect(plain.stderr).not.toMatch(/^ {4}at /m);
    const verbose = await runCli(['search', QUESTION, '--verbose'], broken);
    expect(verbose.code).toBe(1);
    expect(verbose.stderr).toMatch(/EEXIST/);
    expect(verbose.stderr).toMatch(/^ {4}at /m);
  });

  it('SIGTERM stops a command like Ctrl-C: exit 130, nothing changed', async () => {
    const stalled = await startFileServer({ '/stalled.zip': { kind: 'stall', file: faqZip, bytes: 1000 } });
    try {
      const child = spawn(process.execPath, [binPath, 'ingest', '--source', stalled.url('/stalled.zip')], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      let sent = false;
      child.stderr.on('data', (data: Buffer) => {
        stderr += data.toString();
        if (stderr.includes('downloading') && !sent) sent = child.kill('SIGTERM');
      });
      const code = await new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
      expect(code, stderr).toBe(130);
      expect(stderr).toMatch(/ragoss: interrupted; nothing was changed\n$/);
      // The collection ingested before still serves.
      const search = await runInProcess(['search', QUESTION, '--json', '--top-k', '1'], env);
      expect(search.code, search.stderr).toBe(0);
    } finally {
      await stalled.close();
    }
  });
});
