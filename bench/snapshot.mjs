// Snapshots at docs scale (BENCH_ONLY=snapshot, run by bench/run.mjs): the whole docs ingested with
// the markdown chunker on the embedded default (the slow path a new machine pays, its plain log's
// longest silence measured), exported, imported into a fresh embedded Milvus Lite (the fast path),
// both collections asked every dev question (same ids in the same order?), and export/import peak
// RSS at the docs and at twice the docs (ragoss's own process, against a Milvus Lite server). With BENCH_MILVUS_SERVER (a milvus-server executable, PyPI
// `milvus` 2.3.5), the snapshot is also imported into that real server and its dense answers compared.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from './stats.mjs';

/** BENCH_SNAPSHOT_GLOB=en/faq/*.md runs the section in a minute (a smoke test of the bench itself). */
const MODEL_DOCS_GLOB = process.env.BENCH_SNAPSHOT_GLOB ?? 'en/**/*.md';

/** Every line a child writes on stderr, with when it arrived: the plain log's gaps. */
function gapsOf(lines) {
  let longest = 0;
  let at = 0;
  for (let index = 1; index < lines.length; index++) {
    const gap = lines[index].at - lines[index - 1].at;
    if (gap > longest) {
      longest = gap;
      at = index;
    }
  }
  return { longestSeconds: longest / 1000, before: lines[at]?.line ?? '', lines: lines.length };
}

/** The questions of both dev sets. */
function devQuestions(sharedDir) {
  return ['faq_dev_questions.jsonl', 'full_docs_dev_questions.jsonl'].flatMap((file) =>
    readFileSync(join(sharedDir, 'data', file), 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line).question),
  );
}

/** A snapshot twice the size: every row again under copy/, with new ids, written by ragoss's own writer. */
async function doubleSnapshot(root, from, to) {
  const { SnapshotReader, SnapshotWriter } = await import(pathToFileURL(join(root, 'dist', 'snapshot', 'parquet.js')).href);
  const { createHash } = await import('node:crypto');
  const reader = await SnapshotReader.open(from);
  const header = { ...reader.manifest };
  // The writer computes these four afresh for the new rows.
  for (const key of ['format', 'formatVersion', 'rows', 'rowsDigest']) delete header[key];
  const writer = new SnapshotWriter(to, header);
  const copies = [];
  for await (const batch of reader.batches()) {
    await writer.write(batch);
    copies.push(...batch.map((row) => ({ ...row, id: createHash('sha256').update(`copy\0${row.id}`).digest('hex').slice(0, 32), source: `copy/${row.source}` })));
    if (copies.length >= 256) await writer.write(copies.splice(0, copies.length));
  }
  await writer.write(copies);
  return (await writer.finish()).manifest.rows;
}

/** Asks every question of one collection through one warm service; returns the ranked (source, chunk) lists. */
async function answersOf(ragoss, env, questions, mode) {
  const lists = [];
  for (const question of questions) {
    const result = await ragoss(['search', question, '--json', '--top-k', '10', ...(mode ? ['--mode', mode] : [])], env, { rss: false });
    if (result.code !== 0) throw new Error(`search failed: ${result.stderr.slice(-1000)}`);
    lists.push(JSON.parse(result.stdout).hits.map((hit) => `${hit.source}#${hit.chunkIndex}`));
  }
  return lists;
}

function sameAnswers(a, b) {
  const differing = a.filter((list, index) => JSON.stringify(list) !== JSON.stringify(b[index])).length;
  return { questions: a.length, differing };
}

/**
 * @param tools {ragoss, childEnv, log, runWithStderr}
 * @param options {work, fullZip, sharedDir, root, milvusUri: a Milvus Lite server for the memory runs}
 */
export async function benchSnapshot({ ragoss, childEnv, log }, { work, fullZip, sharedDir, root, milvusUri }) {
  const dir = join(work, 'snapshot');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const home = (name) => join(dir, name);
  // Each home is a machine: its own embedded Milvus Lite, as on a laptop or a CI runner.
  const envFor = (name, extra = {}) => childEnv({ RAGOSS_HOME: home(name), RAGOSS_COLLECTION: 'docs_md', ...extra });
  const timed = async (what, args, env) => {
    log(`snapshot: ${what}`);
    const lines = [];
    const result = await ragoss(args, env, { onStderrLine: (line) => lines.push({ at: performance.now(), line }) });
    if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code}):\n${result.stderr.slice(-2000)}`);
    const summary = JSON.parse(result.stdout.trim().split('\n').pop());
    log(`snapshot: ${what}: ${result.seconds.toFixed(1)} s, peak RSS ${Math.round(result.peakRssBytes / 2 ** 20)} MiB`);
    return { seconds: result.seconds, peakRssBytes: result.peakRssBytes, summary, log: gapsOf([{ at: result.started, line: '(start)' }, ...lines]) };
  };

  const snapshotFile = join(dir, 'docs_md.parquet');
  const ingest = await timed('whole docs, markdown chunker, embedded Milvus Lite (plain log)', ['ingest', '--source', fullZip, '--glob', MODEL_DOCS_GLOB, '--chunker', 'markdown', '--json'], envFor('built'));
  const exported = await timed('export', ['export', '--out', snapshotFile, '--json'], envFor('built'));
  const imported = await timed('import into a fresh embedded Milvus Lite', ['ingest', '--source', snapshotFile, '--json'], envFor('imported'));

  // Memory: ragoss's own process against a Milvus Lite server (a separate process), so the peak is
  // what ragoss holds, not Milvus's copy of the data (which grows with it, as it must). Each size
  // twice, alternating; the medians are compared.
  const doubledFile = join(dir, 'docs_md_x2.parquet');
  log('snapshot: writing twice the corpus');
  const doubledRows = await doubleSnapshot(root, snapshotFile, doubledFile);
  const memory = { import: { once: [], twice: [] }, export: { once: [], twice: [] } };
  const onServer = (collection) => childEnv({ RAGOSS_HOME: home('memory'), MILVUS_URI: milvusUri, RAGOSS_COLLECTION: collection });
  for (let rep = 1; rep <= 2; rep++) {
    for (const [size, file] of [['once', snapshotFile], ['twice', doubledFile]]) {
      memory.import[size].push(await timed(`import (${size} the corpus, run ${rep}) into the Milvus Lite server`, ['ingest', '--source', file, '--json', '--quiet'], onServer(`mem_${size}`)));
      memory.export[size].push(await timed(`export (${size} the corpus, run ${rep}) from the Milvus Lite server`, ['export', '--out', join(dir, `again-${size}.parquet`), '--json', '--quiet'], onServer(`mem_${size}`)));
    }
  }

  // Answers: a warm service per home, so 60 searches cost seconds, not a Milvus Lite start each.
  const questions = devQuestions(sharedDir);
  const warm = (name) => envFor(name, { RAGOSS_DAEMON: '' });
  log(`snapshot: asking ${questions.length} dev questions of both collections (default mode and dense)`);
  const same = {};
  try {
    for (const mode of [undefined, 'dense']) {
      const built = await answersOf(ragoss, warm('built'), questions, mode);
      const fromSnapshot = await answersOf(ragoss, warm('imported'), questions, mode);
      same[mode ?? 'default'] = sameAnswers(built, fromSnapshot);
    }
    const server = process.env.BENCH_MILVUS_SERVER;
    if (server) same.realServerDense = await realServerAnswers({ ragoss, childEnv, log }, { server, dir, snapshotFile, questions, built: await answersOf(ragoss, warm('built'), questions, 'dense') });
  } finally {
    for (const name of ['built', 'imported']) await ragoss(['serve', '--stop'], warm(name), { rss: false });
  }
  for (const name of ['again-once.parquet', 'again-twice.parquet']) rmSync(join(dir, name), { force: true });
  return { ingest, exported, imported, memory, doubledRows, same, snapshotBytes: exported.summary.bytes };
}

/** The snapshot imported into a real Milvus 2.3 standalone (dense only there) and asked the same questions. */
async function realServerAnswers({ ragoss, childEnv, log }, { server, dir, snapshotFile, questions, built }) {
  const flags = ['--etcd-port', '--root-coord-port', '--proxy-internal-port', '--query-coord-port', '--query-node-port', '--index-coord-port', '--index-node-port', '--data-coord-port', '--data-node-port'];
  const proxy = await freePort();
  const ports = [];
  for (const flag of flags) ports.push(flag, String(await freePort()));
  const data = join(dir, 'milvus-server');
  const child = spawn(server, ['--data', data, '--proxy-port', String(proxy), ...ports], { detached: true, stdio: 'ignore' });
  const uri = `http://127.0.0.1:${proxy}`;
  const env = childEnv({ RAGOSS_HOME: join(dir, 'server-home'), MILVUS_URI: uri, RAGOSS_COLLECTION: 'docs_md', RAGOSS_MILVUS_TIMEOUT: '60' });
  try {
    log(`snapshot: importing into Milvus 2.3 at ${uri}`);
    let result;
    for (let attempt = 0; attempt < 120; attempt++) {
      result = await ragoss(['ingest', '--source', snapshotFile, '--json', '--quiet'], env, { rss: false });
      if (result.code === 0 || !/cannot reach Milvus/.test(result.stderr)) break;
      await new Promise((ok) => setTimeout(ok, 2000));
    }
    if (result.code !== 0) throw new Error(`import into the real server failed:\n${result.stderr.slice(-2000)}`);
    const summary = JSON.parse(result.stdout);
    const answers = await answersOf(ragoss, env, questions, 'dense');
    return { ...sameAnswers(built, answers), importSeconds: result.seconds, fullText: summary.fullText };
  } finally {
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await new Promise((ok) => setTimeout(ok, 3000));
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // gone
    }
    rmSync(data, { recursive: true, force: true });
  }
}

export function snapshotRows(r, { row, section, fmtS, fmtMiB, verdict, median }) {
  section('Snapshots at docs scale (whole docs, markdown chunker, embedded Milvus Lite, ragoss processes)');
  const { ingest, exported, imported, same } = r;
  row('ingest, whole docs, markdown', `${fmtS(ingest.seconds)}, ${ingest.summary.chunks} chunks, embedding ${fmtS(ingest.summary.embedSeconds)}, peak RSS ${fmtMiB(ingest.peakRssBytes)}`);
  const gap = ingest.log.longestSeconds;
  row('  longest silence in its plain log', `${gap.toFixed(1)} s over ${ingest.log.lines} lines`, '<= 30 s', verdict(gap <= 30));
  row('export', `${fmtS(exported.seconds)}, ${(r.snapshotBytes / 2 ** 20).toFixed(1)} MiB file, peak RSS ${fmtMiB(exported.peakRssBytes)}`);
  const ratio = imported.seconds / ingest.seconds;
  row('import into a fresh embedded Milvus Lite', `${fmtS(imported.seconds)}, peak RSS ${fmtMiB(imported.peakRssBytes)} (with Milvus Lite's)`);
  row('  import / ingest', `${ratio.toFixed(4)}x`, '<= 0.05x', verdict(ratio <= 0.05));
  for (const [mode, result] of Object.entries(same)) {
    row(`  same top 10 as the source (${mode})`, `${result.questions - result.differing} of ${result.questions} questions`, 'all', verdict(result.differing === 0));
  }
  const peaks = (runs) => runs.map((run) => run.peakRssBytes);
  const growthOf = (kind) => {
    const once = median(peaks(r.memory[kind].once));
    const twice = median(peaks(r.memory[kind].twice));
    const list = (runs) => peaks(runs).map((bytes) => Math.round(bytes / 2 ** 20)).join(', ');
    row(`${kind}, ragoss process: the docs vs twice (${r.doubledRows} chunks)`, `median ${fmtMiB(once)} (${list(r.memory[kind].once)}) vs ${fmtMiB(twice)} (${list(r.memory[kind].twice)}): ${(twice / once).toFixed(3)}x`, '<= 1.10x', verdict(twice / once <= 1.1));
    return twice / once;
  };
  const importGrowth = growthOf('import');
  const exportGrowth = growthOf('export');
  return {
    snapshotImportRatio: { value: Number(ratio.toFixed(4)), target: 0.05, pass: ratio <= 0.05 },
    plainLogLongestGapSeconds: { value: Number(gap.toFixed(1)), target: 30, pass: gap <= 30 },
    snapshotImportRssGrowth: { value: Number(importGrowth.toFixed(3)), target: 1.1, pass: importGrowth <= 1.1 },
    snapshotExportRssGrowth: { value: Number(exportGrowth.toFixed(3)), target: 1.1, pass: exportGrowth <= 1.1 },
    snapshotSameAnswers: { value: Object.fromEntries(Object.entries(same).map(([mode, result]) => [mode, result.differing])), target: 0, pass: Object.values(same).every((result) => result.differing === 0) },
  };
}
