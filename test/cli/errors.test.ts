import { MilvusClient, DataType } from '@zilliz/milvus2-sdk-node';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseEnv, runCli, tempHome, without, type CliResult } from '../helpers/cli.js';
import { cleanErrorLine } from '../helpers/errors.js';
import { chatRequests, startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { binPath, faqZip, projectRoot, tinyModel } from '../helpers/paths.js';

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
    const ingest = await runCli(['ingest', '-q', '--source', faqZip], env);
    expect(ingest.code, ingest.stderr).toBe(0);
  });
  afterAll(async () => {
    await chat.close();
    await hub.close();
  });

  it('refuses to ingest over a plain collection of the same name that ragoss did not make (exit 2)', async () => {
    const name = `plain_${Date.now().toString(36)}`;
    const client = new MilvusClient({ address: new URL(milvusUri).host, logLevel: 'error' });
    try {
      await client.createCollection({ collection_name: name, fields: [{ name: 'id', data_type: DataType.Int64, is_primary_key: true }, { name: 'v', data_type: DataType.FloatVector, dim: 4 }] });
      const line = errorLine(await runCli(['ingest', '--source', faqZip, '--collection', name], env), 2);
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
    const line = errorLine(await runCli(['search', QUESTION, '--model-dir', empty], env), 1);
    expect(line).toBe(`ragoss: error: embedding model ${tinyModel} is not in ${empty} — put it at ${join(empty, tinyModel)} (config.json, tokenizer.json, onnx/) or drop --model-dir to download it`);
  });

  it('names the model and the file when the hub has no such model (404)', async () => {
    const online = { ...without(env, 'RAGOSS_MODEL_DIR', 'RAGOSS_OFFLINE'), RAGOSS_HOME: tempHome(), HF_ENDPOINT: hub.url('/') };
    const line = errorLine(await runCli(['ingest', '--source', faqZip, '--embedding-model', 'nobody/no-such-model'], online), 1);
    expect(line).toMatch(/^ragoss: error: cannot load embedding model nobody\/no-such-model: .*nobody\/no-such-model\/resolve\/main\/\S+.* — check the model name, your network, or --model-dir$/);
  });

  it('explains a refused key (403) and a rate limit that outlasts the retries (429)', async () => {
    chat.setScenario({ kind: 'status', status: 403 });
    expect(errorLine(await runCli(['ask', QUESTION], env), 1)).toMatch(/chat endpoint http:\/\/127\.0\.0\.1:\d+\/v1 refused the API key \(HTTP 403\) — set a valid OPENROUTER_API_KEY or OPENAI_API_KEY$/);
    chat.setScenario({ kind: 'status', status: 429, retryAfterSeconds: 0 });
    const before = chatRequests(chat).length;
    expect(errorLine(await runCli(['ask', QUESTION], env), 1)).toMatch(/chat endpoint http:\/\/127\.0\.0\.1:\d+\/v1 is rate limiting us \(HTTP 429\) and retries did not help — wait a minute and try again, or use another --model$/);
    // The first request and three retries.
    expect(chatRequests(chat).length - before).toBe(4);
    chat.setScenario({ kind: 'ok' });
  });

  it('refuses an empty eval file and a line that is not JSON (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ragoss-eval-'));
    writeFileSync(join(dir, 'empty.jsonl'), '\n\n');
    writeFileSync(join(dir, 'bad.jsonl'), '{"question": "ok?", "expected": ["x"]}\n{not json\n');
    expect(errorLine(await runCli(['eval', join(dir, 'empty.jsonl')], env), 2)).toMatch(/empty\.jsonl has no questions — put /);
    expect(errorLine(await runCli(['eval', join(dir, 'bad.jsonl')], env), 2)).toMatch(/bad\.jsonl:2 is not valid JSON$/);
  });

  it('reports an embedded Milvus Lite that exits while starting, with its last words', async () => {
    const dying = fakeMilvusLite('echo "loading data" >&2; echo "fatal: cannot open the data directory" >&2; exit 3');
    const embedded = { ...without(env, 'MILVUS_URI'), RAGOSS_HOME: tempHome(), RAGOSS_MILVUS_LITE: dying };
    const line = errorLine(await runCli(['search', QUESTION], embedded), 1);
    expect(line).toMatch(/^ragoss: error: embedded Milvus Lite exited while starting \(exit 3\): fatal: cannot open the data directory — data directory: .*\/milvus$/);
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
      const search = await runCli(['search', QUESTION, '--json', '--top-k', '1'], env);
      expect(search.code, search.stderr).toBe(0);
    } finally {
      await stalled.close();
    }
  });
});
