// The warm path: the ragoss service against the cold in-process command, on the embedded default
// (no MILVUS_URI), all in one run so ratios compare like with like. Called by run.mjs.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

const QUESTION = 'How is data stored in milvus?';
const VARIED = ['How is data stored in milvus?', 'What is the maximum vector dimension?', 'Does Milvus support Apple M1?', 'How do I flush data?', 'What index types exist?', 'How does Milvus handle deletes?'];

/** One POST over the service's Unix socket; resolves with the parsed JSON answer. */
function post(socketPath, path, body) {
  return new Promise((resolvePost, rejectPost) => {
    const call = request({ socketPath, method: 'POST', path, agent: false, headers: { host: 'localhost', 'content-type': 'application/json', accept: 'application/json' } }, (response) => {
      let text = '';
      response.on('data', (data) => (text += data));
      response.on('end', () => (response.statusCode === 200 ? resolvePost(JSON.parse(text)) : rejectPost(new Error(`${path}: HTTP ${response.statusCode} ${text}`))));
    });
    call.on('error', rejectPost);
    call.end(JSON.stringify(body));
  });
}

const health = (socketPath) =>
  new Promise((resolveGet, rejectGet) => {
    const call = request({ socketPath, path: '/v1/health', agent: false, headers: { host: 'localhost' } }, (response) => {
      let text = '';
      response.on('data', (data) => (text += data));
      response.on('end', () => resolveGet(JSON.parse(text)));
    });
    call.on('error', rejectGet);
    call.end();
  });

const hitsOf = (stdout) => JSON.parse(stdout.trim().split('\n').pop()).hits.map((hit) => `${hit.source}#${hit.chunkIndex}`).join(',');

/**
 * @param {object} tools run.mjs's helpers: ragoss(args, env), childEnv(extra), log(message)
 * @param {{ work: string, faqZip: string, fullZip: string, full: boolean, chatUrl: string }} options
 */
export async function benchService({ ragoss, childEnv, log }, { work, faqZip, fullZip, full, chatUrl }) {
  const home = join(work, 'service-home');
  rmSync(home, { recursive: true, force: true });
  mkdirSync(home, { recursive: true });
  const socket = join(home, 'serve.sock');
  // CI unset: commands may start the service; RAGOSS_DAEMON=0 marks the cold, in-process runs.
  const env = childEnv({ RAGOSS_HOME: home, CI: '', RAGOSS_DAEMON: '' });
  const cold = { ...env, RAGOSS_DAEMON: '0' };
  const stop = () => ragoss(['serve', '--stop'], env, { rss: false });
  const out = {};
  try {
    const ingest = await ragoss(['ingest', '--source', faqZip, '--quiet'], cold);
    if (ingest.code !== 0) throw new Error(`service bench ingest failed:\n${ingest.stderr}`);

    log('service: cold in-process search x7');
    const coldRuns = [];
    for (let i = 0; i < 7; i++) coldRuns.push(await ragoss(['search', QUESTION, '--json'], cold));
    out.coldSearchSeconds = coldRuns.map((run) => run.seconds);
    const sequentialHits = hitsOf(coldRuns[0].stdout);

    log('service: first command with no service up (it starts one) x3');
    out.firstCommandSeconds = [];
    for (let i = 0; i < 3; i++) {
      await stop();
      const first = await ragoss(['search', QUESTION, '--json'], env);
      if (first.code !== 0) throw new Error(`first search failed:\n${first.stderr}`);
      out.firstCommandSeconds.push(first.seconds);
    }

    log('service: warm search, fresh CLI process x15');
    const warm = [];
    for (let i = 0; i < 15; i++) warm.push(await ragoss(['search', QUESTION, '--json'], env));
    out.warmSearchSeconds = warm.map((run) => run.seconds);
    out.warmClientPeakRssBytes = Math.max(...warm.map((run) => run.peakRssBytes));
    out.warmSameHits = warm.every((run) => hitsOf(run.stdout) === sequentialHits);

    log('service: 16 searches and 4 asks started at once');
    const started = performance.now();
    const burst = await Promise.all([
      ...Array.from({ length: 16 }, () => ragoss(['search', QUESTION, '--json'], env, { rss: false })),
      ...Array.from({ length: 4 }, () => ragoss(['ask', QUESTION, '--json', '--base-url', chatUrl], env, { rss: false })),
    ]);
    out.burst = {
      seconds: (performance.now() - started) / 1000,
      exitedZero: burst.filter((run) => run.code === 0).length,
      sameHits: burst.filter((run) => run.code === 0 && hitsOf(run.stdout) === sequentialHits).length,
      total: burst.length,
      failures: burst.filter((run) => run.code !== 0).map((run) => run.stderr.trim().split('\n').pop()),
    };

    out.differingSettings = await differingSettings({ ragoss, log }, env);

    log('service: RSS after 100 and after 2,000 searches over the socket');
    for (let i = 0; i < 100; i++) await post(socket, '/v1/search', { question: VARIED[i % VARIED.length], topK: 3 });
    out.serviceRssAfter100 = (await health(socket)).rssBytes;
    for (let i = 100; i < 2000; i++) await post(socket, '/v1/search', { question: `${VARIED[i % VARIED.length]} (${i})`, topK: 3 });
    out.serviceRssAfter2000 = (await health(socket)).rssBytes;

    if (full) out.duringReingest = await searchesDuringReingest({ ragoss, log }, env, fullZip);
  } finally {
    await stop();
  }
  return out;
}

/**
 * Settings that differ from the running service's (issue 34): a per-request one is honoured by the
 * warm service, doctor checks through it whatever its flags, and an in-process command beside it
 * stops at once instead of waiting on its data lock.
 */
async function differingSettings({ ragoss, log }, env) {
  log('service: settings that differ from the service\'s (per-request x3, doctor, --no-daemon)');
  const perRequest = [];
  for (let i = 0; i < 3; i++) perRequest.push(await ragoss(['search', QUESTION, '--json'], { ...env, RAGOSS_EMBEDDING_BATCH: String(4 + i) }, { rss: false }));
  const doctor = await ragoss(['doctor', '--json', '--base-url', 'http://127.0.0.1:9/v1'], { ...env, RAGOSS_MILVUS_TIMEOUT: '30' }, { rss: false });
  const noDaemon = await ragoss(['search', QUESTION, '--no-daemon'], env, { rss: false });
  return {
    perRequestSeconds: perRequest.map((run) => run.seconds),
    perRequestExitedZero: perRequest.filter((run) => run.code === 0 && run.stderr === '').length,
    doctorSeconds: doctor.seconds,
    doctorMilvusOk: /"name":"milvus","status":"ok"/.test(doctor.stdout),
    noDaemonSeconds: noDaemon.seconds,
    noDaemonNamesService: noDaemon.code === 1 && noDaemon.stderr.includes('is held by the ragoss service'),
  };
}

/** Re-ingests the whole docs through the service while a search starts every 0.5 s. */
async function searchesDuringReingest({ ragoss, log }, env, fullZip) {
  log('service: full-docs re-ingest with a search every 0.5 s');
  const ingest = ragoss(['ingest', '--source', fullZip, '--glob', 'en/**/*.md', '--quiet', '--json'], env, { rss: false });
  let ingestDone = false;
  ingest.then(() => (ingestDone = true));
  const searches = [];
  while (!ingestDone) {
    searches.push(ragoss(['search', QUESTION, '--json'], env, { rss: false }));
    await new Promise((resolveWait) => setTimeout(resolveWait, 500));
  }
  const finished = await ingest;
  const results = await Promise.all(searches);
  const answered = results.filter((run) => run.code === 0);
  const newData = answered.filter((run) => hitsOf(run.stdout).split(',').some((hit) => !hit.startsWith('en/faq/')));
  return { ingestExit: finished.code, ingestSeconds: finished.seconds, searches: results.length, answered: answered.length, oldData: answered.length - newData.length, newData: newData.length };
}

/**
 * Store time (insert + flush + load + verify + swap) for the FAQ on Milvus Lite and on a real Milvus
 * 2.3 standalone: the test setup's .venv-milvus provides it (npm test creates it).
 */
export async function benchStoreBackends({ ragoss, childEnv, log, freePort }, { work, faqZip, liteUri, root }) {
  const out = { lite: [], server: [] };
  const milvusServer = join(root, '.venv-milvus', 'bin', 'milvus-server');
  const ingest = async (uri, into) => {
    const result = await ragoss(['ingest', '--source', faqZip, '--json', '--quiet'], childEnv({ MILVUS_URI: uri, RAGOSS_COLLECTION: 'bench_store' }), { rss: false });
    if (result.code !== 0) throw new Error(`store bench ingest failed:\n${result.stderr}`);
    into.push(JSON.parse(result.stdout.trim().split('\n').pop()).insertSeconds);
  };
  log('store time per backend: Milvus Lite x3');
  for (let i = 0; i < 3; i++) await ingest(liteUri, out.lite);
  if (!existsSync(milvusServer)) {
    log('no .venv-milvus (run npm test once): real-server store time skipped');
    return out;
  }
  const dataDir = join(work, 'milvus-standalone');
  rmSync(dataDir, { recursive: true, force: true });
  const port = await freePort();
  const ports = [];
  for (const flag of ['--etcd-port', '--root-coord-port', '--proxy-internal-port', '--query-coord-port', '--query-node-port', '--index-coord-port', '--index-node-port', '--data-coord-port', '--data-node-port']) ports.push(flag, String(await freePort()));
  const child = spawn(milvusServer, ['--data', dataDir, '--proxy-port', String(port), ...ports], { detached: true, stdio: 'ignore' });
  try {
    log('store time per backend: Milvus 2.3.5 standalone x3');
    const uri = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + 120_000;
    for (;;) {
      const probe = await ragoss(['doctor', '--json', '--base-url', 'http://127.0.0.1:9/v1'], childEnv({ MILVUS_URI: uri }), { rss: false });
      if (/"reachable":true/.test(probe.stdout)) break;
      if (Date.now() > deadline) throw new Error('milvus-server did not come up');
      await new Promise((resolveWait) => setTimeout(resolveWait, 1000));
    }
    for (let i = 0; i < 3; i++) await ingest(uri, out.server);
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        process.kill(-child.pid, 0);
        await new Promise((resolveWait) => setTimeout(resolveWait, 200));
      }
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  return out;
}

