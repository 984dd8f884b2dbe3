#!/usr/bin/env node
// The grounding line on the whole docs (issue 35's whole-docs row, too slow for CI): `npm run build &&
// node bench/grounding.mjs`. Builds the whole docs (markdown chunker, ~17 min of embedding on 2 cores)
// into a throwaway embedded Milvus Lite, or imports BENCH_GROUNDING_SNAPSHOT (a snapshot of them that
// `ragoss export` wrote: seconds; its line is drawn again in place, as this ragoss draws it), then evaluates the
// held-out grounding sets (test/fixtures/grounding) dense and hybrid on the collection's own line,
// prints real refused and off-topic caught per kind, and writes bench/grounding-results.json.
//
// Environment: RAGOSS_MODEL_DIR (default ~/.cache/ragoss-ci/models), RAGOSS_MILVUS_LITE (default the
// test venv's), RAGOSS_SHARED_DIR (default ../shared), BENCH_GROUNDING_SNAPSHOT.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixtures = join(root, 'test', 'fixtures', 'grounding');
const sharedDir = resolve(process.env.RAGOSS_SHARED_DIR ?? join(root, '..', 'shared'));
const home = mkdtempSync(join(tmpdir(), 'ragoss-bench-grounding-'));
const env = {
  PATH: process.env.PATH,
  HOME: process.env.HOME,
  RAGOSS_HOME: home,
  RAGOSS_MODEL_DIR: process.env.RAGOSS_MODEL_DIR ?? join(homedir(), '.cache', 'ragoss-ci', 'models'),
  RAGOSS_OFFLINE: '1',
  RAGOSS_DAEMON: '0',
  RAGOSS_COLLECTION: 'docs',
  ...(process.env.RAGOSS_MILVUS_LITE === undefined ? {} : { RAGOSS_MILVUS_LITE: process.env.RAGOSS_MILVUS_LITE }),
};

function ragoss(args) {
  const result = spawnSync(process.execPath, [join(root, 'bin', 'ragoss.js'), ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`ragoss ${args.join(' ')} exited ${result.status}`);
  return result.stdout;
}

/** The named fixture files as one eval file. */
function evalFile(name, files) {
  const path = join(home, `${name}.jsonl`);
  writeFileSync(path, files.map((file) => readFileSync(join(fixtures, file), 'utf8').trim()).join('\n'));
  return path;
}

const snapshot = process.env.BENCH_GROUNDING_SNAPSHOT;
const started = performance.now();
const built = snapshot !== undefined && existsSync(snapshot)
  ? JSON.parse(ragoss(['ingest', '--source', resolve(snapshot), '--json']))
  : JSON.parse(ragoss(['ingest', '--source', join(sharedDir, 'data', 'milvus_docs_2.4.x_en_full.zip'), '--glob', 'en/**/*.md', '--chunker', 'markdown', '--json']));
// Always drawn afresh: a snapshot carries the line of the ragoss that exported it.
const { grounding } = JSON.parse(ragoss(['calibrate', '--json']));
const sets = {
  'held-out 2026-12-06 c': evalFile('c', ['docs-heldout4.jsonl', 'faq-heldout4.jsonl', 'offtopic-heldout4.jsonl']),
  'held-out 2026-12-06 b': evalFile('b', ['docs-heldout3.jsonl', 'faq-heldout3.jsonl', 'offtopic-heldout3.jsonl']),
  'held-out 2026-12-06 a': evalFile('a', ['docs-heldout.jsonl', 'faq-heldout.jsonl', 'offtopic-heldout.jsonl']),
  'held-out 2026-11-30': evalFile('old', ['docs-real.jsonl', 'faq-real.jsonl', 'off-topic.jsonl']),
};
const rows = [];
for (const [set, file] of Object.entries(sets)) {
  for (const line of [[], ['--min-score', '0.49']]) {
    const { runs } = JSON.parse(ragoss(['eval', file, '--mode', 'dense,hybrid', '--json', '-q', ...line]));
    for (const run of runs) {
      const kinds = Object.fromEntries(run.grounding.byKind.map((kind) => [kind.kind, `${kind.flagged}/${kind.questions}`]));
      rows.push({ set, mode: run.mode, line: run.threshold, source: run.thresholdSource, ...kinds, byNearestProbe: run.grounding.refusedByProbe.length });
    }
  }
}
const seconds = Math.round((performance.now() - started) / 1000);
writeFileSync(join(root, 'bench', 'grounding-results.json'), `${JSON.stringify({ date: new Date().toISOString(), chunks: built.chunks, grounding, seconds, rows }, null, 2)}\n`);
console.log(`whole docs: ${built.chunks} chunks, line ${grounding.threshold} (${grounding.method}), ${seconds}s`);
console.log('flagged per kind (real: refused; the others: caught)');
for (const row of rows) console.log(JSON.stringify(row));
rmSync(home, { recursive: true, force: true });
