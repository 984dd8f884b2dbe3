import AdmZip from 'adm-zip';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/embedder/embedder.js';
import { PROBE_MARGIN } from '../../src/pipeline/grounding.js';
import { GROUNDING_PROBES } from '../../src/pipeline/grounding-probes.js';
import { baseEnv, runCli, tempHome } from '../helpers/cli.js';
import { devQuestions, faqZip, fullDocsQuestions, fullZip } from '../helpers/paths.js';
import { realModelAvailable, realModelRoot } from '../helpers/real-model.js';

/** The default model, real weights (see helpers/real-model.ts). */
const HYBRID_SUBSET_RECALL = 0.93;
const HYBRID_SUBSET_MRR = 0.75;
const HYBRID_SUBSET_FAQ_RECALL = 0.9;
/**
 * The grounding targets on the FAQ, for the line its collection calibrated at ingest and the
 * nearest-probe check (dev set and held-out sets, test/fixtures/grounding/README.md): real questions
 * refused at most 1% (issue 35's target, met: 1 of 175 measured), and off-topic ones caught at least
 * as measured less a margin, per kind: unrelated subjects 96 of 100, general programming 87 of 126
 * (the issue asks 95% of both together, not met: general programming shares the docs' words).
 */
const REAL_REFUSED = 0.01;
const CAUGHT_AT_LEAST: Readonly<Record<string, number>> = { unrelated: 0.9, programming: 0.62 };
const groundingDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'grounding');

function fixtureLines(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.trim() !== '');
}

/** Real questions and the off-topic ones the line is for (unrelated subjects, general programming) in one eval file. */
function groundingSet(...realFiles: string[]): string {
  const lines = realFiles.flatMap(fixtureLines);
  const offTopic = ['off-topic.jsonl', 'offtopic-heldout.jsonl', 'offtopic-heldout3.jsonl', 'offtopic-heldout4.jsonl']
    .flatMap((file) => fixtureLines(join(groundingDir, file)))
    .filter((line) => {
      const { topic, kind } = JSON.parse(line) as { topic?: string; kind?: string };
      return (topic ?? kind) !== 'adjacent';
    });
  const file = join(tempHome(), 'grounding.jsonl');
  writeFileSync(file, [...lines, ...offTopic].join('\n'));
  return file;
}

interface GroundingRun {
  mode: string;
  threshold: number;
  thresholdSource: string;
  grounding: { realQuestions: number; realFlagged: string[]; offTopicMissed: string[]; byKind: Array<{ kind: string; real: boolean; questions: number; flagged: number }> };
}

/** Runs eval over a grounding set in dense and hybrid modes and checks the targets in each, on the collection's own line. */
async function expectGroundingTargets(env: Record<string, string>, file: string, label: string): Promise<void> {
  const result = await runCli(['eval', file, '--mode', 'dense,hybrid', '--json'], env);
  expect(result.code, result.stderr).toBe(0);
  const { runs } = JSON.parse(result.stdout) as { runs: GroundingRun[] };
  for (const { mode, threshold, thresholdSource, grounding } of runs) {
    const kinds = grounding.byKind.map((kind) => `${kind.kind} ${kind.flagged}/${kind.questions}`).join(', ');
    console.log(`${label}, ${mode}, line ${threshold} (${thresholdSource}): flagged ${kinds}; real refused: ${grounding.realFlagged.join(' | ')}; let through: ${grounding.offTopicMissed.join(' | ')}`);
    expect(thresholdSource).toBe('collection');
    expect(grounding.realFlagged.length / grounding.realQuestions, `${mode}: real refused: ${grounding.realFlagged.join(' | ')}`).toBeLessThanOrEqual(REAL_REFUSED);
    for (const [kind, least] of Object.entries(CAUGHT_AT_LEAST)) {
      const count = grounding.byKind.find((item) => item.kind === kind);
      expect(count?.questions, kind).toBeGreaterThan(50);
      expect((count?.flagged ?? 0) / (count?.questions ?? 1), `${mode}: ${kind} caught`).toBeGreaterThanOrEqual(least);
    }
  }
}
const realModelDir = realModelRoot;
const available = await realModelAvailable(DEFAULT_EMBEDDING_MODEL);

/**
 * Where a machine keeps a collection's vectors between runs (RAGOSS_TEST_CACHE_DIR; CI sets it to
 * its cache), named by the weights they came from (size and modification time of the ONNX file,
 * which the model build writes once): other weights never reuse them. Without it, every run embeds.
 */
function vectorCache(name: string): string | undefined {
  const dir = process.env['RAGOSS_TEST_CACHE_DIR'];
  if (dir === undefined || dir === '' || realModelDir === undefined) return undefined;
  const weights = statSync(join(realModelDir, DEFAULT_EMBEDDING_MODEL, 'onnx', 'model.onnx'));
  const key = createHash('sha256').update(`${DEFAULT_EMBEDDING_MODEL} ${weights.size} ${weights.mtimeMs}`).digest('hex').slice(0, 16);
  return join(dir, `quality-${name}-${key}.parquet`);
}

/**
 * Ingests `args` as the README does, starting from the cached snapshot of an earlier run when there
 * is one: ragoss's own incremental ingest then embeds only chunks that differ (none, unless the
 * chunker changed). Writes a new snapshot when it embedded anything. Returns the ingest's report.
 */
async function ingestWithCache<Report extends { embeddedChunks: number }>(env: Record<string, string>, args: string[], cacheName: string): Promise<Report> {
  const cached = vectorCache(cacheName);
  const restoredFrom = cached !== undefined && existsSync(cached) ? cached : undefined;
  if (restoredFrom !== undefined) {
    const restored = await runCli(['ingest', '--source', restoredFrom, '--json', '--quiet'], env);
    // One an older ragoss wrote may be refused: then this run embeds everything and writes a new one.
    if (restored.code !== 0) {
      console.log(`the cached snapshot was refused, embedding all: ${restored.stderr.trim()}`);
      rmSync(restoredFrom, { force: true });
    }
  }
  const ingest = await runCli(['ingest', ...args, '--json'], env, { timeoutMs: 900_000 });
  expect(ingest.code, ingest.stderr).toBe(0);
  // No error anywhere in its output (the FAQ's check before this helper), and no warning of ragoss's.
  expect(ingest.stderr).not.toMatch(/error/i);
  expect(ingest.stderr).not.toMatch(/^ragoss: warning/m);
  const report = JSON.parse(ingest.stdout) as Report;
  if (cached !== undefined && report.embeddedChunks > 0) {
    mkdirSync(dirname(cached), { recursive: true });
    const exported = await runCli(['export', '--out', `${cached}.tmp.parquet`, '--json', '--quiet'], env);
    expect(exported.code, exported.stderr).toBe(0);
    renameSync(`${cached}.tmp.parquet`, cached);
    // Snapshots of other weights are never read again.
    for (const stale of readdirSync(dirname(cached)).filter((file) => file.startsWith(`quality-${cacheName}-`) && join(dirname(cached), file) !== cached)) {
      rmSync(join(dirname(cached), stale), { force: true });
    }
  }
  console.log(`${cacheName}: ${report.embeddedChunks} chunks embedded${restoredFrom !== undefined && existsSync(restoredFrom) ? ', the rest from the cached snapshot' : ''}`);
  return report;
}

describe.skipIf(!available)(`retrieval quality of the default model (${DEFAULT_EMBEDDING_MODEL})`, () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    env = baseEnv({
      RAGOSS_HOME: tempHome(),
      RAGOSS_MODEL_DIR: realModelDir,
      MILVUS_URI: inject('milvusUri'),
      RAGOSS_COLLECTION: `quality_${Date.now().toString(36)}`,
      // The collection's own line, not the suite's "no line" for the synthetic model.
      RAGOSS_MIN_SCORE: undefined,
    });
    // Ingested once (its vectors cached between runs, like the full-docs subset's below).
    const report = await ingestWithCache(env, ['--source', faqZip], 'faq');
    expect(report).toMatchObject({ chunks: 72, embeddingModel: DEFAULT_EMBEDDING_MODEL, dimension: 768 });
  }, 900_000);

  it('puts "Where does Milvus store data?" first for the seed question (dense, the default here, cosine > 0.5)', async () => {
    const dense = await runCli(['search', 'How is data stored in milvus?', '--json'], env);
    expect(dense.code).toBe(0);
    const { mode, hits } = JSON.parse(dense.stdout) as { mode: string; hits: Array<{ text: string; score: number }> };
    expect(mode).toBe('dense');
    expect(hits[0]?.text.trimStart().startsWith('Where does Milvus store data?')).toBe(true);
    expect(hits[0]?.score).toBeGreaterThan(0.5);
    // Hybrid (chosen) brings the same chunk into the top 3.
    const hybrid = await runCli(['search', 'How is data stored in milvus?', '--mode', 'hybrid', '--json'], env);
    const fused = JSON.parse(hybrid.stdout) as { mode: string; hits: Array<{ text: string }> };
    expect(fused.mode).toBe('hybrid');
    expect(fused.hits.some((hit) => hit.text.trimStart().startsWith('Where does Milvus store data?'))).toBe(true);
  });

  it('reaches recall@3 1.000 on the FAQ dev questions with the default settings', async () => {
    const result = await runCli(['eval', devQuestions, '--top-k', '3', '--json'], env);
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { questions: number; recallAtK: number; mrr: number; misses: unknown[] };
    console.log(`dev set: ${report.questions} questions, recall@3 ${report.recallAtK.toFixed(3)}, MRR ${report.mrr.toFixed(3)}`);
    expect(report.questions).toBeGreaterThan(10);
    expect(report.recallAtK).toBe(1);
    expect(report.mrr).toBe(1);
  });

  it('answers "How is data stored?" (issue 35: the model default refused it at 0.429)', async () => {
    const result = await runCli(['search', 'How is data stored?', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ grounded: true, thresholdSource: 'collection' });
  });

  it('refuses a general programming question nearer an off-topic probe than any passage, and says which signal decided', async () => {
    // The probe's own text: as near its probe as a question can be (1.0), and far from every FAQ passage.
    const probe = 'how to add an index to a postgres table';
    expect(GROUNDING_PROBES).toContain(probe);
    const result = await runCli(['search', probe, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { grounded: boolean; similarity: number; threshold: number; refusedBy: string; nearestProbe: { question: string; similarity: number } };
    expect(json).toMatchObject({ grounded: false, refusedBy: 'nearest probe', nearestProbe: { question: probe } });
    expect(json.similarity).toBeGreaterThanOrEqual(json.threshold);
    expect(json.nearestProbe.similarity - json.similarity).toBeGreaterThan(PROBE_MARGIN);
    const text = await runCli(['search', probe], env);
    expect(text.stderr).toContain(`closer to a question about something else, "${probe}"`);
    // A real question is let through by both signals, and --json says what the second one read.
    const real = JSON.parse((await runCli(['search', 'How is data stored?', '--json'], env)).stdout) as { grounded: boolean; refusedBy: null; nearestProbe: { similarity: number } };
    expect(real).toMatchObject({ grounded: true, refusedBy: null });
    expect(real.nearestProbe.similarity).toBeGreaterThan(0);
  });

  it('flags off-topic questions and lets real ones through, on the line calibrated at ingest, dense and hybrid', async () => {
    await expectGroundingTargets(env, groundingSet(devQuestions, join(groundingDir, 'faq-real.jsonl'), join(groundingDir, 'faq-heldout.jsonl'), join(groundingDir, 'faq-heldout3.jsonl'), join(groundingDir, 'faq-heldout4.jsonl')), 'FAQ (seed)');
  });
});


interface EvalRun {
  mode: string;
  chunker: string;
  questions: number;
  recallAtK: number;
  mrr: number;
  page?: { recallAtK: number; mrr: number };
}

function table(runs: readonly EvalRun[]): string {
  return runs
    .map((run) => `${run.chunker}/${run.mode}: recall@3 ${run.recallAtK.toFixed(3)}, MRR ${run.mrr.toFixed(3)}${run.page ? `, page recall@3 ${run.page.recallAtK.toFixed(3)}` : ''}`)
    .join('\n');
}

/**
 * The full-docs dev set, as the README ingests the docs (markdown chunker, hybrid search by
 * default), over a haystack CI can afford: the pages that answer the questions plus the FAQ.
 * The whole docs take ~15 minutes to embed on CI's 2 cores; their figures are in the README.
 */
describe.skipIf(!available)('retrieval quality on the full-docs dev set (answer pages + FAQ)', () => {
  let env: Record<string, string>;

  beforeAll(async () => {
    const pages = new Set(
      readFileSync(fullDocsQuestions, 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .flatMap((line) => (JSON.parse(line) as { gold: Array<{ source: string }> }).gold.map((gold) => gold.source)),
    );
    const source = tempHome();
    for (const entry of new AdmZip(fullZip).getEntries()) {
      if (!pages.has(entry.entryName) && !entry.entryName.startsWith('en/faq/')) continue;
      mkdirSync(dirname(join(source, entry.entryName)), { recursive: true });
      writeFileSync(join(source, entry.entryName), entry.getData());
    }
    env = baseEnv({
      RAGOSS_HOME: tempHome(),
      RAGOSS_MODEL_DIR: realModelDir,
      MILVUS_URI: inject('milvusUri'),
      RAGOSS_COLLECTION: `quality_full_${Date.now().toString(36)}`,
      RAGOSS_MIN_SCORE: undefined,
    });
    // Ingested once; every check below reuses it.
    const result = await ingestWithCache<{ embeddedChunks: number; chunks: number }>(env, ['--source', source, '--glob', 'en/**/*.md', '--chunker', 'markdown'], 'subset');
    expect(result).toMatchObject({ files: pages.size + 3, chunker: 'markdown', fullText: true });
    console.log(`full-docs subset: ${result.chunks} chunks`);
  }, 900_000);

  it('finds the answering section for every question, hybrid at least as well as dense', async () => {
    const result = await runCli(['eval', fullDocsQuestions, '--top-k', '3', '--mode', 'all', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const { runs } = JSON.parse(result.stdout) as { runs: EvalRun[] };
    console.log(`full-docs dev set, answer pages + FAQ:\n${table(runs)}`);
    const byMode = Object.fromEntries(runs.map((run) => [run.mode, run]));
    expect(byMode['hybrid']?.questions).toBe(15);
    expect(byMode['hybrid']?.recallAtK).toBeGreaterThanOrEqual(HYBRID_SUBSET_RECALL);
    expect(byMode['hybrid']?.mrr).toBeGreaterThanOrEqual(HYBRID_SUBSET_MRR);
    expect(byMode['hybrid']?.mrr).toBeGreaterThanOrEqual(byMode['dense']?.mrr ?? 1);
  });

  it('scores the FAQ dev set on the same collection, where the FAQ competes with other pages', async () => {
    const result = await runCli(['eval', devQuestions, '--top-k', '3', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as EvalRun;
    console.log(`FAQ dev set, answer pages + FAQ, markdown/hybrid: recall@3 ${report.recallAtK.toFixed(3)}, MRR ${report.mrr.toFixed(3)}`);
    expect(report).toMatchObject({ mode: 'hybrid', chunker: 'markdown' });
    expect(report.recallAtK).toBeGreaterThanOrEqual(HYBRID_SUBSET_FAQ_RECALL);
  });
});
