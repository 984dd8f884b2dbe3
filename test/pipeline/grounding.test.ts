import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CALIBRATION_RULE, calibrateThreshold, closerToProbe, defaultThreshold, drawnByCurrentRule, groundingLine, innerProduct, judge, NullDistribution, PROBE_MARGIN, quantile } from '../../src/pipeline/grounding.js';
import { GENERAL_PROBES, GROUNDING_PROBES, PROGRAMMING_PROBES, TERSE_GENERAL_PROBES, TERSE_PROGRAMMING_PROBES } from '../../src/pipeline/grounding-probes.js';

function unit(...values: number[]): Float32Array {
  const norm = Math.hypot(...values);
  return Float32Array.from(values.map((value) => value / norm));
}

describe('quantile', () => {
  it('interpolates between order statistics, whatever the input order', () => {
    expect(quantile([3, 1, 2, 4], 0)).toBe(1);
    expect(quantile([3, 1, 2, 4], 1)).toBe(4);
    expect(quantile([3, 1, 2, 4], 0.5)).toBe(2.5);
    expect(quantile([10], 0.975)).toBe(10);
    expect(quantile([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.95)).toBeCloseTo(9.5, 10);
  });
});

describe('calibrateThreshold', () => {
  it('puts the line at the rule\'s quantile of the null distribution plus its margin, rounded to three decimals', () => {
    const nullSimilarities = Array.from({ length: 101 }, (_, index) => index / 100);
    const calibration = calibrateThreshold(nullSimilarities, { quantile: 0.9, margin: 0.02 });
    expect(calibration).toEqual({
      threshold: 0.92,
      method: "90th percentile of 101 off-topic probes' best similarity on this collection, + 0.02",
      probes: 101,
      nullMax: 1,
      nullQuantile: 0.9,
      quantile: 0.9,
      margin: 0.02,
    });
  });

  it('moves with the collection: the same rule draws a higher line where off-topic questions come closer', () => {
    const faqLike = [0.1, 0.15, 0.2, 0.22, 0.25];
    const docsLike = faqLike.map((value) => value + 0.1);
    expect(calibrateThreshold(docsLike).threshold).toBeCloseTo(calibrateThreshold(faqLike).threshold + 0.1, 3);
  });

  it('uses the shipped rule by default, and knows a line drawn by another rule or probe set', () => {
    const current = calibrateThreshold([0.2, 0.3]);
    expect(current).toMatchObject({ quantile: CALIBRATION_RULE.quantile, margin: CALIBRATION_RULE.margin });
    expect(drawnByCurrentRule(current, 2)).toBe(true);
    expect(drawnByCurrentRule(current, 3)).toBe(false);
    expect(drawnByCurrentRule(calibrateThreshold([0.2, 0.3], { quantile: 0.975, margin: 0.02 }), 2)).toBe(false);
    expect(drawnByCurrentRule(calibrateThreshold([0.2, 0.3], { quantile: 0.975, margin: CALIBRATION_RULE.margin }), 2)).toBe(false);
    expect(drawnByCurrentRule(calibrateThreshold([0.2, 0.3], { quantile: CALIBRATION_RULE.quantile, margin: 0.02 }), 2)).toBe(false);
    expect(current.method).toBe(`${CALIBRATION_RULE.quantile * 100}th percentile of 2 off-topic probes' best similarity on this collection`);
  });

  it('knows the fixed line of a model by its own name, whoever publishes it', () => {
    for (const name of ['Xenova/all-mpnet-base-v2', 'all-mpnet-base-v2', 'hub/sentence-transformers/all-mpnet-base-v2']) expect(defaultThreshold(name, 'seed')).toBe(0.49);
    expect(defaultThreshold('Xenova/all-mpnet-base-v2', 'markdown')).toBe(0.49);
    expect(defaultThreshold('nomic-ai/nomic-embed-text-v1.5', 'seed')).toBeUndefined();
  });

  it('has no quantile of nothing', () => {
    expect(() => quantile([], 0.5)).toThrow('quantile of no values');
  });
});

describe('NullDistribution', () => {
  it('keeps each probe\'s best inner product over every batch of chunk vectors', () => {
    const distribution = new NullDistribution([unit(1, 0), unit(0, 1)]);
    expect(distribution.similarities()).toEqual([]);
    distribution.observe([unit(1, 1)]);
    distribution.observe([unit(1, 0), unit(-1, 0)]);
    const [first, second] = distribution.similarities();
    expect(first).toBeCloseTo(1, 6);
    expect(second).toBeCloseTo(Math.SQRT1_2, 6);
  });
});

describe('groundingLine', () => {
  const calibrated = { embeddingModel: 'Xenova/all-mpnet-base-v2', chunker: 'seed', grounding: calibrateThreshold([0.1, 0.2, 0.3]) };
  const uncalibrated = { embeddingModel: 'Xenova/all-mpnet-base-v2', chunker: 'seed' };

  it('takes --min-score first, then the collection\'s calibration, then the model\'s default, else none', () => {
    expect(groundingLine(0.7, calibrated)).toEqual({ threshold: 0.7, source: 'min-score' });
    expect(groundingLine(undefined, calibrated)).toEqual({ threshold: calibrated.grounding.threshold, source: 'collection' });
    expect(groundingLine(undefined, uncalibrated)).toEqual({ threshold: 0.49, source: 'model default' });
    expect(groundingLine(undefined, { embeddingModel: 'other/model', chunker: 'seed' })).toEqual({ threshold: undefined, source: 'none' });
  });

  it('judges against the line and says where it came from', () => {
    expect(judge(0.5, { threshold: 0.4, source: 'collection' })).toEqual({ grounded: true, similarity: 0.5, threshold: 0.4, thresholdSource: 'collection', nearestProbe: null, refusedBy: null });
    expect(judge(0.3, { threshold: 0.4, source: 'collection' })).toMatchObject({ grounded: false, refusedBy: 'similarity' });
    expect(judge(0.4, { threshold: 0.4, source: 'collection' })).toMatchObject({ grounded: true, refusedBy: null });
    expect(judge(0.3, { threshold: undefined, source: 'none' })).toEqual({ grounded: true, similarity: 0.3, threshold: null, thresholdSource: 'none', nearestProbe: null, refusedBy: null });
    expect(judge(undefined, { threshold: undefined, source: 'none' })).toMatchObject({ grounded: false, similarity: null, refusedBy: 'similarity' });
  });

  it('refuses a question that clears the line but sits nearer an off-topic probe than any passage, by more than the margin', () => {
    const line = { threshold: 0.3, source: 'collection' as const };
    const probe = (similarity: number) => ({ question: 'how do I bake bread', similarity });
    expect(PROBE_MARGIN).toBe(0.2);
    expect(judge(0.4, line, probe(0.61))).toEqual({ grounded: false, similarity: 0.4, threshold: 0.3, thresholdSource: 'collection', nearestProbe: probe(0.61), refusedBy: 'nearest probe' });
    // At the margin, or nearer the passages: the probe does not decide, but --json still shows it.
    expect(judge(0.4, line, probe(0.6))).toMatchObject({ grounded: true, refusedBy: null, nearestProbe: probe(0.6) });
    expect(judge(0.4, line, probe(0.35))).toMatchObject({ grounded: true, refusedBy: null });
    // Below the line the similarity decides, whatever the probe.
    expect(judge(0.2, line, probe(0.9))).toMatchObject({ grounded: false, refusedBy: 'similarity' });
    expect(closerToProbe(0.2, probe(0.9))).toBe(true);
    expect(closerToProbe(0.2, probe(0.4))).toBe(false);
    expect(closerToProbe(null, probe(0.9))).toBe(false);
    expect(closerToProbe(0.2, null)).toBe(false);
  });

  it('measures similarity as the inner product', () => {
    expect(innerProduct(unit(1, 0), unit(1, 1))).toBeCloseTo(Math.SQRT1_2, 6);
    expect(innerProduct(unit(1, 0), unit(0, 1))).toBe(0);
  });
});

describe('the shipped probe set', () => {
  it('holds general and programming questions, none twice', () => {
    expect(GENERAL_PROBES.length).toBeGreaterThan(80);
    expect(PROGRAMMING_PROBES.length).toBeGreaterThan(80);
    expect(new Set(GROUNDING_PROBES).size).toBe(GROUNDING_PROBES.length);
    expect(GROUNDING_PROBES).toEqual([...GENERAL_PROBES, ...PROGRAMMING_PROBES, ...TERSE_GENERAL_PROBES, ...TERSE_PROGRAMMING_PROBES]);
    expect(TERSE_PROGRAMMING_PROBES.length + TERSE_GENERAL_PROBES.length).toBe(88);
  });

  it('shares no question with the sets that measure it', () => {
    const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'grounding');
    const measured = new Set(
      readdirSync(dir)
        .filter((file) => file.endsWith('.jsonl'))
        .flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter((line) => line.trim() !== ''))
        .map((line) => (JSON.parse(line) as { question: string }).question.toLowerCase()),
    );
    expect(measured.size).toBeGreaterThan(600);
    expect(GROUNDING_PROBES.filter((probe) => measured.has(probe.toLowerCase()))).toEqual([]);
  });
});
