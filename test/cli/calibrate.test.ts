import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { GroundingCalibration } from '../../src/types.js';
import { GROUNDING_PROBES } from '../../src/pipeline/grounding-probes.js';
// In-process through the CLI's entry (see runInProcess).
import { baseEnv, runInProcess, tempHome, without } from '../helpers/cli.js';
import { testMilvusClient } from '../helpers/milvus-client.js';
import { devQuestions, faqZip, tinyModel } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';

const QUESTION = 'How is data stored in milvus?';

interface Grounded {
  grounded: boolean;
  similarity: number | null;
  threshold: number | null;
  thresholdSource: string;
}

/** Drops the recorded calibration, as a collection made before ragoss calibrated looks. */
async function forgetCalibration(uri: string, collection: string): Promise<void> {
  const client = testMilvusClient(uri);
  try {
    const described = await client.describeCollection({ collection_name: collection });
    // Emptied rather than deleted: Milvus 2.3 cannot delete a property; ragoss reads an empty one as none.
    await client.alterCollectionProperties({ collection_name: described.schema.name, properties: { 'ragoss.grounding': '' } });
  } finally {
    await client.closeConnection();
  }
}

describe(`the "not in the docs" line, calibrated per collection (${inject('milvusBackend')})`, () => {
  const milvusUri = inject('milvusUri');
  const collection = uniqueCollection('calibrated');
  let env: Record<string, string>;
  let calibration: GroundingCalibration;

  beforeAll(async () => {
    // Without the suite's RAGOSS_MIN_SCORE: the line under test is the collection's own.
    env = without(baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: milvusUri, RAGOSS_COLLECTION: collection, RAGOSS_EMBEDDING_MODEL: tinyModel }), 'RAGOSS_MIN_SCORE');
    const ingest = await runInProcess(['ingest', '--source', faqZip, '--json'], env);
    expect(ingest.code, ingest.stderr).toBe(0);
    ({ grounding: calibration } = JSON.parse(ingest.stdout) as { grounding: GroundingCalibration });
  });

  it('ingest draws the line from the off-topic probes on the new chunks and records it with the collection', () => {
    expect(calibration).toMatchObject({ probes: GROUNDING_PROBES.length, quantile: expect.any(Number), margin: expect.any(Number) });
    expect(calibration.threshold).toBeCloseTo(calibration.nullQuantile + calibration.margin, 3);
    expect(calibration.nullMax).toBeGreaterThanOrEqual(calibration.nullQuantile);
    expect(calibration.method).toMatch(/percentile of \d+ off-topic probes' best similarity on this collection/);
  });

  it('search and ask judge by it and say so in --json; --min-score still overrides', async () => {
    const search = JSON.parse((await runInProcess(['search', QUESTION, '--json'], env)).stdout) as Grounded;
    expect(search).toMatchObject({ threshold: calibration.threshold, thresholdSource: 'collection' });
    expect(search.grounded).toBe((search.similarity ?? -1) >= calibration.threshold);
    const strict = JSON.parse((await runInProcess(['search', QUESTION, '--json', '--min-score', '1'], env)).stdout) as Grounded;
    expect(strict).toMatchObject({ grounded: false, threshold: 1, thresholdSource: 'min-score' });
    const text = await runInProcess(['search', QUESTION, '--min-score', '1'], env);
    expect(text.stderr).toMatch(/^note: the docs do not seem to cover this question \(best similarity 0\.\d{3}, below 1\.000\)$/m);
  });

  it('doctor shows the line and how it was made', async () => {
    const result = await runInProcess(['doctor', '--json'], { ...env, RAGOSS_BASE_URL: 'http://127.0.0.1:9/v1' });
    const report = JSON.parse(result.stdout) as { milvus: { collections: Array<{ name: string; grounding?: GroundingCalibration }> }; checks: Array<{ name: string; status: string; detail: string }> };
    expect(report.milvus.collections.find((info) => info.name === collection)?.grounding).toEqual(calibration);
    expect(report.checks.find((check) => check.name === 'grounding')).toMatchObject({ status: 'ok', detail: expect.stringContaining(`line ${calibration.threshold.toFixed(3)}, calibrated for ${collection}`) });
  });

  it('eval reports per kind, the line it used, and with --curve how refused and caught move with it', async () => {
    const file = join(tempHome(), 'kinds.jsonl');
    const real = readFileSync(devQuestions, 'utf8').split('\n').filter((line) => line.trim() !== '').slice(0, 3);
    writeFileSync(file, [...real, JSON.stringify({ question: 'best sourdough hydration?', expected: [], topic: 'unrelated' }), JSON.stringify({ question: 'how do I rebase in git', expected: [], kind: 'programming' })].join('\n'));
    const result = await runInProcess(['eval', file, '--json', '--curve'], env);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as { threshold: number; thresholdSource: string; calibration: GroundingCalibration; grounding: { byKind: Array<{ kind: string; questions: number }>; curve: Array<{ threshold: number; flagged: Record<string, number> }> } };
    expect(report).toMatchObject({ threshold: calibration.threshold, thresholdSource: 'collection', calibration });
    expect(report.grounding.byKind.map((kind) => [kind.kind, kind.questions])).toEqual([['real', 3], ['unrelated', 1], ['programming', 1]]);
    expect(report.grounding.curve.length).toBeGreaterThan(0);
    expect(Object.keys(report.grounding.curve[0]?.flagged ?? {}).sort()).toEqual(['programming', 'real', 'unrelated']);
    const text = await runInProcess(['eval', file, '--curve'], env);
    expect(text.stdout).toMatch(/^threshold {3}\d\.\d{3} \(the collection's calibrated line\)$/m);
    expect(text.stdout).toMatch(/^off-topic {3}\d of 2 flagged \(unrelated \d\/1, programming \d\/1\)$/m);
    expect(text.stdout).toMatch(/^line +real refused +unrelated caught +programming caught$/m);
  });

  it('a collection without a calibration keeps working on the model default, and `ragoss calibrate` records one in place', async () => {
    await forgetCalibration(milvusUri, collection);
    // The engine trusts a description for a few seconds; each CLI run is a new engine.
    const before = JSON.parse((await runInProcess(['search', QUESTION, '--json'], env)).stdout) as Grounded;
    // The synthetic model has no default line: nothing is flagged.
    expect(before).toMatchObject({ grounded: true, threshold: null, thresholdSource: 'none' });
    const doctor = JSON.parse((await runInProcess(['doctor', '--json'], { ...env, RAGOSS_BASE_URL: 'http://127.0.0.1:9/v1' })).stdout) as { checks: Array<{ name: string; status: string; fix?: string }> };
    expect(doctor.checks.find((check) => check.name === 'grounding')).toMatchObject({ status: 'warn', fix: expect.stringContaining(`ragoss calibrate --collection ${collection}`) });

    const calibrated = await runInProcess(['calibrate', '--json'], env);
    expect(calibrated.code, calibrated.stderr).toBe(0);
    const result = JSON.parse(calibrated.stdout) as { collection: string; chunks: number; grounding: GroundingCalibration; previous?: GroundingCalibration };
    // The same stored vectors and probes draw the same line as the ingest did; nothing was re-embedded.
    expect(result).toMatchObject({ collection, chunks: 72, grounding: calibration });
    expect(result.previous).toBeUndefined();
    const after = JSON.parse((await runInProcess(['search', QUESTION, '--json'], env)).stdout) as Grounded;
    expect(after).toMatchObject({ threshold: calibration.threshold, thresholdSource: 'collection' });
    const text = await runInProcess(['calibrate'], env);
    expect(text.stdout).toMatch(new RegExp(`^calibrated ${collection}: "not in the docs" below ${calibration.threshold.toFixed(3)} \\(was ${calibration.threshold.toFixed(3)}\\)$`, 'm'));
  });

  it('a snapshot carries the line in its manifest, and the import records it without a model', async () => {
    const out = join(tempHome(), 'calibrated.parquet');
    const exported = await runInProcess(['export', '--out', out, '--json'], env);
    expect(exported.code, exported.stderr).toBe(0);
    const { SnapshotReader } = await import('../../src/snapshot/parquet.js');
    expect((await SnapshotReader.open(out)).manifest.grounding).toEqual(calibration);
    const copy = uniqueCollection('calibrated_copy');
    const imported = await runInProcess(['ingest', '--source', out, '--collection', copy, '--json'], env);
    expect(imported.code, imported.stderr).toBe(0);
    // Drawn the way this ragoss draws lines: nothing to warn of.
    expect(imported.stderr).not.toMatch(/warning/);
    expect(JSON.parse(imported.stdout)).toMatchObject({ grounding: calibration, embeddedChunks: 0 });
    const search = JSON.parse((await runInProcess(['search', QUESTION, '--json', '--collection', copy], env)).stdout) as Grounded;
    expect(search).toMatchObject({ threshold: calibration.threshold, thresholdSource: 'collection' });
  });
});
