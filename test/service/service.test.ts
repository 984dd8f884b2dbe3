import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { request } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/system.js';
import { runCli, tempHome } from '../helpers/cli.js';
import { startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { binPath, faqZip, fullZip, projectRoot } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { alive, dataDirOf, health, milvusLiteOn, pidRecord, recordedPid, serviceEnv, servicesFor, socketOf, spawnCli, stopServices, waitGone } from '../helpers/service.js';

const QUESTION = 'How is data stored in milvus?';
const recorder = join(projectRoot, 'test', 'helpers', 'record-imports.mjs');

/** A fresh home whose FAQ is ingested in-process (no service left behind) on the embedded default. */
async function ingestedHome(): Promise<{ home: string; env: Record<string, string> }> {
  const home = tempHome();
  const env = serviceEnv(home);
  await ingest(env);
  return { home, env };
}

async function ingest(env: Record<string, string>): Promise<void> {
  const result = await runCli(['ingest', '--source', faqZip], { ...env, RAGOSS_DAEMON: '0' });
  expect(result.code, result.stderr).toBe(0);
}

let serverCollection: Promise<string> | undefined;

/**
 * A fresh home on the run's shared Milvus (MILVUS_URI), for tests whose subject is the service, not
 * the Milvus it embeds (each service on the embedded default starts a Milvus Lite of its own, about
 * 2 s of CPU). The FAQ is ingested into one collection, once, for every such home.
 */
async function serverHome(): Promise<{ home: string; env: Record<string, string> }> {
  serverCollection ??= (async () => {
    const collection = uniqueCollection('service');
    await ingest(serviceEnv(tempHome(), { MILVUS_URI: inject('milvusUri'), RAGOSS_COLLECTION: collection }));
    return collection;
  })();
  const home = tempHome();
  return { home, env: serviceEnv(home, { MILVUS_URI: inject('milvusUri'), RAGOSS_COLLECTION: await serverCollection }) };
}

function sources(stdout: string): string[] {
  return (JSON.parse(stdout) as { hits: Array<{ source: string; chunkIndex: number }> }).hits.map((hit) => `${hit.source}#${hit.chunkIndex}`);
}

describe('ragoss serve in the foreground', () => {
  let home: string;
  let env: Record<string, string>;
  beforeAll(async () => ({ home, env } = await ingestedHome()));
  afterEach(async () => stopServices(home, env));

  it('serves on a 0600 socket with output identical to in-process, and Ctrl-C stops it and its Milvus cleanly', async () => {
    const inProcess = {
      text: await runCli(['search', QUESTION], { ...env, RAGOSS_DAEMON: '0' }),
      json: await runCli(['search', QUESTION, '--json', '--top-k', '5'], { ...env, RAGOSS_DAEMON: '0' }),
      missing: await runCli(['search', QUESTION, '--collection', 'never_ingested'], { ...env, RAGOSS_DAEMON: '0' }),
      section: await runCli(['get', 'product_faq.md', '--heading', 'Where does Milvus store data?', '--json'], { ...env, RAGOSS_DAEMON: '0' }),
      strict: await runCli(['search', QUESTION, '--json', '--min-score', '1'], { ...env, RAGOSS_DAEMON: '0' }),
    };
    // The service's own environment sets a threshold and a link style: what a command leaves to the
    // defaults must stay the defaults (served output below is compared with in-process output).
    const serve = spawnCli(['serve'], { ...env, RAGOSS_MIN_SCORE: '1', RAGOSS_LINK_TEMPLATE: 'https://mirror.invalid/{name}' });
    await serve.waitForStderr('serving on');
    const socket = socketOf(home);
    expect(statSync(socket).mode & 0o777).toBe(0o600);
    const before = await health(home);
    expect(before?.pid).toBe(serve.child.pid);

    const served = {
      text: await runCli(['search', QUESTION], env),
      json: await runCli(['search', QUESTION, '--json', '--top-k', '5'], env),
      missing: await runCli(['search', QUESTION, '--collection', 'never_ingested'], env),
      section: await runCli(['get', 'product_faq.md', '--heading', 'Where does Milvus store data?', '--json'], env),
      strict: await runCli(['search', QUESTION, '--json', '--min-score', '1'], env),
    };
    expect(served.text.stdout).toBe(inProcess.text.stdout);
    expect(served.text.code).toBe(0);
    expect(served.json.stdout).toBe(inProcess.json.stdout);
    expect(served.missing.code).toBe(3);
    expect(served.missing.stderr).toBe(inProcess.missing.stderr.split('\n').filter((line) => line.includes('error')).join('\n') + '\n');
    // get (POST /v1/get) and the grounding threshold travel through the service unchanged.
    expect(served.section.stdout).toBe(inProcess.section.stdout);
    expect(JSON.parse(served.section.stdout)).toMatchObject({ source: 'en/faq/product_faq.md', scope: 'section' });
    expect(served.strict.stdout).toBe(inProcess.strict.stdout);
    expect(JSON.parse(served.strict.stdout)).toMatchObject({ grounded: false, threshold: 1 });
    // They really went through the service: it counted them.
    expect((await health(home))?.requestsServed).toBe((before?.requestsServed ?? 0) + 5);

    const milvus = milvusLiteOn(dataDirOf(home));
    expect(milvus).toHaveLength(1);
    serve.child.kill('SIGINT');
    expect((await serve.exited).code).toBe(0);
    expect(serve.stderr()).toContain('stopping (interrupted)');
    expect(existsSync(socket)).toBe(false);
    expect(pidRecord(home)).toBeUndefined();
    expect(await waitGone(milvus[0]!)).toBe(true);
  });
});

describe("services on the run's shared Milvus", () => {
  let home: string;
  let env: Record<string, string>;
  beforeAll(async () => ({ home, env } = await serverHome()));
  afterEach(async () => stopServices(home, env));

  it('stops by itself after --idle-timeout (or RAGOSS_IDLE_TIMEOUT) without requests', async () => {
    for (const [args, extra] of [[['--idle-timeout', '1s'], { RAGOSS_IDLE_TIMEOUT: '10m' }], [[], { RAGOSS_IDLE_TIMEOUT: '2s' }]] as const) {
      const serve = spawnCli(['serve', ...args], { ...env, ...extra });
      await serve.waitForStderr('serving on');
      expect((await serve.exited).code).toBe(0);
      expect(serve.stderr()).toContain(`stopping (idle for ${args.length > 0 ? '1s' : '2s'})`);
      expect(existsSync(socketOf(home))).toBe(false);
    }
  });

  it('refuses a second service for the same home', async () => {
    const serve = spawnCli(['serve'], env);
    await serve.waitForStderr('serving on');
    const second = await runCli(['serve'], env);
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`a ragoss service is already running for this ragoss home (pid ${serve.child.pid})`);
    serve.child.kill('SIGTERM');
    await serve.exited;
  });

  it('eight services started at the same moment leave exactly one (the pid file appears whole, never empty)', async () => {
    for (let round = 0; round < 3; round++) {
      const started = Array.from({ length: 8 }, () => spawnCli(['serve', '--auto-started'], env));
      await expect.poll(() => health(home), { timeout: 30_000 }).toBeDefined();
      // Losers step aside at once; the winner serves.
      await expect.poll(() => started.filter((serve) => serve.child.exitCode === null).length, { timeout: 30_000 }).toBe(1);
      expect(servicesFor(home)).toEqual([pidRecord(home)?.pid]);
      await stopServices(home, env);
      await Promise.all(started.map((serve) => serve.exited));
    }
  });
});

describe('the service over TCP', () => {
  let home: string;
  let env: Record<string, string>;
  beforeAll(async () => ({ home, env } = await serverHome()));
  afterEach(async () => stopServices(home, env));

  function get(port: number, headers: Record<string, string>): Promise<number> {
    return new Promise((resolveGet, rejectGet) => {
      const call = request({ host: '127.0.0.1', port, path: '/v1/health', headers, agent: false }, (response) => {
        response.resume();
        resolveGet(response.statusCode ?? 0);
      });
      call.on('error', rejectGet);
      call.end();
    });
  }

  it('needs the bearer token when one is set, and refuses Host names that are not loopback', async () => {
    const port = await freePort();
    const serve = spawnCli(['serve', '--port', String(port)], { ...env, RAGOSS_SERVE_TOKEN: 'tok-123456' });
    await serve.waitForStderr('serving on');
    expect(serve.stderr()).toContain(`http://127.0.0.1:${port}`);
    expect(await get(port, {})).toBe(401);
    expect(await get(port, { authorization: 'Bearer wrong' })).toBe(401);
    expect(await get(port, { authorization: 'Bearer tok-123456' })).toBe(200);
    expect(await get(port, { authorization: 'Bearer tok-123456', host: `evil.example:${port}` })).toBe(403);
    // The token never shows in the service's output.
    expect(serve.stderr()).not.toContain('tok-123456');
    serve.child.kill('SIGINT');
    await serve.exited;
    // --token does the same, and wins over the variable.
    const flagged = spawnCli(['serve', '--port', String(port), '--token', 'flag-token-1'], { ...env, RAGOSS_SERVE_TOKEN: 'tok-123456' });
    await flagged.waitForStderr('serving on');
    expect(await get(port, { authorization: 'Bearer tok-123456' })).toBe(401);
    expect(await get(port, { authorization: 'Bearer flag-token-1' })).toBe(200);
    expect(flagged.stderr()).not.toContain('flag-token-1');
  });

  function post(port: number, path: string, body: unknown, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    return new Promise((resolvePost, rejectPost) => {
      const data = JSON.stringify(body);
      const call = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { ...headers, 'content-type': 'application/json', accept: 'application/json', 'content-length': String(Buffer.byteLength(data)) } }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolvePost({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      });
      call.on('error', rejectPost);
      call.end(data);
    });
  }

  it('without --token, makes one: only in the 0600 serve.json, never logged; every TCP request needs it', async () => {
    const port = await freePort();
    const serve = spawnCli(['serve', '--port', String(port)], env);
    await serve.waitForStderr('TCP requests need');
    const record = join(home, 'serve.json');
    expect(statSync(record).mode & 0o777).toBe(0o600);
    const token = (JSON.parse(readFileSync(record, 'utf8')) as { token: string }).token;
    expect(token).toMatch(/^[\w-]{32}$/);
    // Another local user, or any process without the file: no token, no answer.
    expect(await get(port, {})).toBe(401);
    expect(await get(port, { authorization: 'Bearer guess' })).toBe(401);
    expect(await get(port, { authorization: `Bearer ${token}` })).toBe(200);
    expect(serve.stderr()).toContain(`TCP requests need the bearer token kept in ${record} (readable by you only)`);
    expect(serve.stderr()).not.toContain(token);
    const unauthorised = await post(port, '/v1/search', { question: QUESTION }, {});
    expect(unauthorised.status).toBe(401);
    // Even with the token, a TCP request may not make the service read or write local paths.
    const auth = { authorization: `Bearer ${token}` };
    const ingest = await post(port, '/v1/ingest', { source: '/etc', glob: '**/*', dryRun: true }, auth);
    expect(ingest).toMatchObject({ status: 403, body: { message: 'TCP requests may not name local paths (/etc)' } });
    expect((await post(port, '/v1/export', { out: join(home, 'x.parquet') }, auth)).status).toBe(403);
    expect((await post(port, '/v1/jobs', { source: faqZip }, auth)).status).toBe(403);
    // A model directory is read too: a TCP caller's embedding settings may not name one.
    const modelDir = await post(port, '/v1/search', { question: QUESTION, embedding: { modelDir: '/etc' } }, auth);
    expect(modelDir).toMatchObject({ status: 403, body: { message: 'TCP requests may not name local paths (/etc)' } });
    expect((await post(port, '/v1/search', { question: QUESTION, topK: 1 }, auth)).status).toBe(200);
    serve.child.kill('SIGINT');
    await serve.exited;
    // --allow-path lets TCP requests name paths under it, and only there.
    const allowed = spawnCli(['serve', '--port', String(port), '--allow-path', dirname(faqZip)], { ...env, RAGOSS_SERVE_TOKEN: 'tok-123456' });
    await allowed.waitForStderr('serving on');
    const inside = await post(port, '/v1/ingest', { source: faqZip, dryRun: true }, { authorization: 'Bearer tok-123456' });
    expect(inside.status, JSON.stringify(inside.body)).toBe(200);
    expect(inside.body).toMatchObject({ dryRun: true, totalChunks: 72 });
    expect((await post(port, '/v1/ingest', { source: `${dirname(faqZip)}/../../etc`, dryRun: true }, { authorization: 'Bearer tok-123456' })).status).toBe(403);
  });

  it("never sends back or logs its own chat key, even when the endpoint quotes it in an error", async () => {
    const key = 'sk-test-SECRET-service-key';
    const chat = await startChatServer({ kind: 'status', status: 400, echoAuthorization: true });
    try {
      const port = await freePort();
      const serve = spawnCli(['serve', '--port', String(port)], { ...env, RAGOSS_SERVE_TOKEN: 'tok-123456', OPENAI_API_KEY: key });
      await serve.waitForStderr('serving on');
      // The request carries no key: the service asks with its own, and the endpoint quotes it back.
      const asked = await post(port, '/v1/ask', { question: QUESTION, baseUrl: chat.baseUrl, model: 'openai/gpt-oss-20b' }, { authorization: 'Bearer tok-123456' });
      expect(chat.requests.at(-1)?.headers['authorization']).toBe(`Bearer ${key}`);
      expect(asked.status).toBe(500);
      expect(JSON.stringify(asked.body)).not.toContain('SECRET');
      expect(String(asked.body['message'])).toContain('Bearer ***');
      serve.child.kill('SIGINT');
      await serve.exited;
      expect(serve.stderr()).not.toContain('SECRET');
    } finally {
      await chat.close();
    }
  });

  it('refuses to listen beyond loopback without a token', async () => {
    const result = await runCli(['serve', '--host', '0.0.0.0', '--port', String(await freePort())], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ragoss: error: --host 0\.0\.0\.0 would expose the service beyond this machine without a token — set RAGOSS_SERVE_TOKEN/);
  });
});

describe('commands and the service they start, on the embedded default', () => {
  let home: string;
  let env: Record<string, string>;
  let chat: ChatServer;
  beforeAll(async () => {
    ({ home, env } = await ingestedHome());
    chat = await startChatServer();
  });
  afterAll(async () => chat.close());
  afterEach(async () => stopServices(home, env));

  it('starts one for the embedded default, doctor reports it, and serve --stop stops it', async () => {
    const search = await runCli(['search', QUESTION, '--json'], env);
    expect(search.code, search.stderr).toBe(0);
    const record = pidRecord(home);
    expect(record?.autoStarted).toBe(true);
    const doctor = await runCli(['doctor', '--json', '--base-url', chat.baseUrl], env);
    expect(doctor.code, doctor.stderr).toBe(0);
    const report = JSON.parse(doctor.stdout) as { service: { running: boolean; pid: number; models: string[] } };
    expect(report.service).toMatchObject({ running: true, pid: record?.pid });
    expect(report.service.models).toEqual([env['RAGOSS_EMBEDDING_MODEL']]);
    const text = await runCli(['doctor', '--base-url', chat.baseUrl], env);
    expect(text.stdout).toMatch(new RegExp(`^ok {4}service {4}pid ${record?.pid} at .*serve\\.sock, up \\d+s, RSS \\d+ MiB, models testing/tiny-random-albert-768 \\(auto-started\\)$`, 'm'));
    const stop = await runCli(['serve', '--stop'], env);
    expect(stop.stdout).toBe(`stopped the ragoss service (pid ${record?.pid})\n`);
    expect(alive(record?.pid ?? 0)).toBe(false);
  });

  it('starts none under CI=true or with --no-daemon, and works in-process', async () => {
    const underCi = await runCli(['search', QUESTION], { ...env, CI: 'true' });
    expect(underCi.code, underCi.stderr).toBe(0);
    expect(underCi.stderr).toContain('starting embedded Milvus Lite');
    const noDaemon = await runCli(['search', QUESTION, '--no-daemon'], env);
    expect(noDaemon.code, noDaemon.stderr).toBe(0);
    expect(pidRecord(home)).toBeUndefined();
    expect(servicesFor(home)).toEqual([]);
  });

  it('6 searches and 2 asks at once all succeed with the hits of a sequential run', async () => {
    const sequential = await runCli(['search', QUESTION, '--json'], { ...env, RAGOSS_DAEMON: '0' });
    const askEnv = { ...env, RAGOSS_BASE_URL: chat.baseUrl };
    const runs = await Promise.all([
      ...Array.from({ length: 6 }, () => runCli(['search', QUESTION, '--json'], env, { timeoutMs: 90_000 })),
      ...Array.from({ length: 2 }, () => runCli(['ask', QUESTION, '--json'], askEnv, { timeoutMs: 90_000 })),
    ]);
    const log = existsSync(join(home, 'serve.log')) ? readFileSync(join(home, 'serve.log'), 'utf8').slice(-4000) : '(no service log)';
    for (const run of runs) {
      expect(run.code, `${run.stderr}\n--- serve.log ---\n${log}`).toBe(0);
      expect(sources(run.stdout)).toEqual(sources(sequential.stdout));
    }
    expect(servicesFor(home)).toHaveLength(1);
  });

  it('recovers from a service killed with SIGKILL: stale files are cleaned and a new one answers', async () => {
    expect((await runCli(['search', QUESTION], env)).code).toBe(0);
    const killed = recordedPid(home);
    const milvus = milvusLiteOn(dataDirOf(home));
    process.kill(killed, 'SIGKILL');
    expect(await waitGone(killed)).toBe(true);
    // Its Milvus Lite goes with it (parent-death signal): the data lock is free.
    expect(await waitGone(milvus[0] ?? 0)).toBe(true);
    expect(existsSync(socketOf(home))).toBe(true);
    const again = await runCli(['search', QUESTION], env);
    expect(again.code, again.stderr).toBe(0);
    const replacement = pidRecord(home)?.pid;
    expect(replacement).not.toBe(killed);
    expect(servicesFor(home)).toEqual([replacement]);
  });

  it('uses a service it did not start with any per-request setting, and fails at once, naming it, when a per-process one differs', async () => {
    const detach = await runCli(['serve', '--detach'], { ...env, RAGOSS_MILVUS_TIMEOUT: '20' });
    expect(detach.code, detach.stderr).toBe(0);
    const pid = pidRecord(home)?.pid;
    expect(detach.stdout).toMatch(new RegExp(`^started the ragoss service \\(pid ${pid}\\) at .*serve\\.sock\\n$`));
    // A setting that travels with the request: the hand-started service honours it, no warning.
    const perRequest = await runCli(['search', QUESTION], { ...env, RAGOSS_MILVUS_TIMEOUT: '20', RAGOSS_EMBEDDING_BATCH: '8' });
    expect(perRequest.code, perRequest.stderr).toBe(0);
    expect(perRequest.stderr).toBe('');
    // One that is the process's: in-process work would only wait on the data the service holds.
    const started = Date.now();
    const search = await runCli(['search', QUESTION], { ...env, RAGOSS_LOCK_TIMEOUT: '120' });
    // The failure this guards against is a wait of RAGOSS_LOCK_TIMEOUT (120 s) on the data lock;
    // the bound is half of it, so a busy CI machine's slow start cannot trip it.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(search.code).toBe(1);
    expect(search.stderr).toBe(
      `ragoss: error: the ragoss service (pid ${pid}) holds the embedded Milvus data in ${dataDirOf(home)} and runs with other settings (milvusTimeoutMs); it was started by \`ragoss serve\`, so it was not restarted — stop it with \`ragoss serve --stop\` and run the command again (a service with your settings starts), or run with its settings\n`,
    );
    expect(alive(pid ?? 0)).toBe(true);
  });

  it('--no-daemon beside a live service fails within seconds instead of waiting on its data lock', async () => {
    expect((await runCli(['search', QUESTION], env)).code).toBe(0);
    const pid = recordedPid(home);
    const started = Date.now();
    // RAGOSS_LOCK_TIMEOUT is for two in-process commands taking turns: a service's hold is not waited out.
    const noDaemon = await runCli(['search', QUESTION, '--no-daemon'], { ...env, RAGOSS_LOCK_TIMEOUT: '120' });
    const waited = Date.now() - started;
    expect(noDaemon.code).toBe(1);
    expect(noDaemon.stderr).toContain(`ragoss: error: the embedded Milvus data in ${dataDirOf(home)} is held by the ragoss service (pid ${pid}), and this command works in-process — let the command use the service (drop --no-daemon / RAGOSS_DAEMON=0), or stop it first with \`ragoss serve --stop\``);
    expect(noDaemon.stderr).not.toContain('waiting for another ragoss');
    // The 2 s grace for a service that is stopping, plus a cold Node; the failure guarded against
    // is a wait of RAGOSS_LOCK_TIMEOUT (120 s), so the bound is half of it (CI machines are busy).
    expect(waited).toBeLessThan(60_000);
    expect(alive(pid)).toBe(true);
  });

  it('two commands starting at once end with exactly one service, both answered', async () => {
    const [first, second] = await Promise.all([runCli(['search', QUESTION, '--json'], env), runCli(['search', QUESTION, '--json'], env)]);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(sources(first.stdout)).toEqual(sources(second.stdout));
    expect(servicesFor(home)).toEqual([pidRecord(home)?.pid]);
  });

  it('a service killed mid-request: one clear line and exit 1; the next command recovers', async () => {
    expect((await runCli(['search', QUESTION], env)).code).toBe(0);
    const pid = recordedPid(home);
    const ingest = spawnCli(['ingest', '--source', fullZip, '--glob', 'en/**/*.md', '--collection', uniqueCollection('killed_midway')], env);
    await ingest.waitForStderr('embedding and storing');
    process.kill(pid, 'SIGKILL');
    const { code } = await ingest.exited;
    expect(code).toBe(1);
    const errors = ingest.stderr().split('\n').filter((line) => line.startsWith('ragoss: error:'));
    expect(errors).toEqual([`ragoss: error: the ragoss service (pid ${pid}) stopped before answering — run the command again; a new service starts, or use --no-daemon`]);
    expect(ingest.stderr()).not.toMatch(/^\s+at /m);
    const next = await runCli(['search', QUESTION], env);
    expect(next.code, next.stderr).toBe(0);
  });

  it('Ctrl-C cancels the work in the service (exit 130) and the previous data keeps serving', async () => {
    const before = await runCli(['search', QUESTION, '--json'], env);
    const ingest = spawnCli(['ingest', '--source', fullZip, '--glob', 'en/**/*.md'], env);
    await ingest.waitForStderr('embedding and storing');
    const servicePid = recordedPid(home);
    ingest.child.kill('SIGINT');
    const { code } = await ingest.exited;
    expect(code).toBe(130);
    expect(ingest.stderr()).toContain('ragoss: interrupted; nothing was changed');
    expect(alive(servicePid)).toBe(true);
    const after = await runCli(['search', QUESTION, '--json'], env);
    expect(after.code, after.stderr).toBe(0);
    expect(sources(after.stdout)).toEqual(sources(before.stdout));
    // The service finishes its side of the cancellation (drops the half-built collection) by itself.
    await expect.poll(async () => (await health(home))?.activeRequests, { timeout: 20_000 }).toBe(0);
  });

  it('a warm command imports neither the Milvus SDK, transformers.js nor openai', async () => {
    const heavy = /@zilliz|@huggingface|onnxruntime|\/node_modules\/openai\//;
    const loaded = async (extra: Record<string, string>) => {
      const record = join(home, `imports-${Date.now()}.txt`);
      const result = await runCli(['search', QUESTION], { ...env, ...extra, RAGOSS_RECORD_IMPORTS: record }, { nodeArgs: ['--import', recorder] });
      expect(result.code, result.stderr).toBe(0);
      return readFileSync(record, 'utf8').split('\n').filter((url) => heavy.test(url));
    };
    // The recorder sees them when the work is done in-process...
    expect(await loaded({ RAGOSS_DAEMON: '0' })).not.toEqual([]);
    // ...and a command served by the service loads none.
    expect((await runCli(['search', QUESTION], env)).code).toBe(0);
    expect(await loaded({})).toEqual([]);
  });

  it('ragoss mcp answers through the same warm service, starting it if needed', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [binPath, 'mcp'], env, cwd: projectRoot, stderr: 'ignore' });
    const client = new Client({ name: 'ragoss-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const result = await client.callTool({ name: 'search', arguments: { question: QUESTION } });
      expect(result.isError).toBeFalsy();
      const cli = await runCli(['search', QUESTION, '--json'], env);
      expect((result.structuredContent as { hits: Array<{ source: string; chunkIndex: number }> }).hits.map((hit) => `${hit.source}#${hit.chunkIndex}`)).toEqual(sources(cli.stdout));
      const service = await health(home);
      expect(service?.autoStarted).toBe(true);
      // The MCP search and the CLI search both went through it.
      expect(service?.requestsServed).toBe(2);
    } finally {
      await client.close();
    }
  });

  it('restarts an idle auto-started service whose settings differ', async () => {
    expect((await runCli(['search', QUESTION], { ...env, RAGOSS_MILVUS_TIMEOUT: '20' })).code).toBe(0);
    const old = recordedPid(home);
    const search = await runCli(['search', QUESTION], env);
    expect(search.code, search.stderr).toBe(0);
    expect(search.stderr).toContain(`restarting the ragoss service (pid ${old}): its milvusTimeoutMs differ`);
    expect(alive(old)).toBe(false);
    expect(pidRecord(home)?.pid).not.toBe(old);
  });
});

describe('in-process commands on the same embedded data', () => {
  it('take turns instead of failing', async () => {
    const { home, env } = await ingestedHome();
    const inProcess = { ...env, RAGOSS_DAEMON: '0' };
    const ingest = spawnCli(['ingest', '--source', fullZip, '--glob', 'en/**/*.md', '--collection', 'second_copy'], inProcess);
    await ingest.waitForStderr('embedding and storing');
    const search = spawnCli(['search', QUESTION], inProcess);
    await search.waitForStderr(/ragoss: warning: waiting for another ragoss \(pid \d+\) that is using the embedded Milvus data in/);
    // The holder finishing (here: interrupted) lets the waiting command through.
    ingest.child.kill('SIGINT');
    expect((await ingest.exited).code).toBe(130);
    expect((await search.exited).code, search.stderr()).toBe(0);
    expect(search.stdout()).toContain('1. ');
    expect(servicesFor(home)).toEqual([]);
  });
});
