import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Embedder } from '../../src/embedder/embedder.js';
import { nearestProbe, ProbeVectors } from '../../src/pipeline/probe-vectors.js';

const PROBES = ['how do I bake bread', 'who won the world cup', 'how do I reverse a list in python'];

/** An embedder that counts its calls: each text becomes a unit vector along its own axis (by its place in PROBES), or a mix for a question. */
function countingEmbedder(options: { modelName?: string; fail?: boolean } = {}): Embedder & { calls: number } {
  const embedder = {
    modelName: options.modelName ?? 'counting-model',
    dtype: 'fp32',
    dimension: 4,
    calls: 0,
    embedQueries(texts: readonly string[]): Promise<Float32Array[]> {
      embedder.calls++;
      if (options.fail === true) return Promise.reject(new Error('model gone'));
      return Promise.resolve(texts.map((text) => Float32Array.from([0, 1, 2, 3].map((axis) => (PROBES.indexOf(text) === axis ? 1 : 0)))));
    },
    embedQuery: () => Promise.reject(new Error('not used')),
    embedDocuments: () => Promise.reject(new Error('not used')),
    tokenBudget: () => ({ tokens: 1, maxTokens: 512 }),
    close: () => Promise.resolve(),
  };
  return embedder;
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ragoss-probes-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('ProbeVectors', () => {
  it('embeds the probes once per model, in memory and on disk, and names the nearest one to a question', async () => {
    const dir = join(tempDir(), 'probes');
    const embedder = countingEmbedder();
    const first = new ProbeVectors(dir, PROBES);
    const [a, b] = await Promise.all([first.of(embedder), first.of(embedder)]);
    expect(a).toBe(b);
    expect(embedder.calls).toBe(1);
    expect(readdirSync(dir).filter((file) => file.endsWith('.f32'))).toHaveLength(1);
    // Another process reads them back from disk, embedding nothing.
    const again = new ProbeVectors(dir, PROBES);
    expect(await again.of(embedder)).toEqual(a);
    expect(embedder.calls).toBe(1);
    const question = Float32Array.from([0.1, 0.2, 0.9, 0]);
    expect(await again.nearest(embedder, question)).toEqual({ question: 'how do I reverse a list in python', similarity: expect.closeTo(0.9, 6) as number });
  });

  it('keeps each model apart, and embeds again when the probes change or the kept file is not whole', async () => {
    const dir = tempDir();
    const embedder = countingEmbedder();
    await new ProbeVectors(dir, PROBES).of(embedder);
    await new ProbeVectors(dir, PROBES).of(countingEmbedder({ modelName: 'other-model' }));
    expect(readdirSync(dir).filter((file) => file.endsWith('.f32'))).toHaveLength(2);
    await new ProbeVectors(dir, PROBES.slice(0, 2)).of(embedder);
    expect(embedder.calls).toBe(2);
    // A torn file (a crash mid-write by an older build): read as missing, embedded and written whole again.
    const whole = readdirSync(dir).map((name) => join(dir, name)).filter((path) => statSync(path).size === PROBES.length * 4 * 4);
    expect(whole).toHaveLength(2);
    for (const file of whole) writeFileSync(file, Buffer.alloc(10));
    await new ProbeVectors(dir, PROBES).of(embedder);
    expect(embedder.calls).toBe(3);
    expect(whole.map((file) => statSync(file).size).sort()).toEqual([10, PROBES.length * 4 * 4]);
  });

  it('keeps the weights and the server apart too, in files named by a 32-digit key', async () => {
    const dir = tempDir();
    await new ProbeVectors(dir, PROBES).of(countingEmbedder());
    await new ProbeVectors(dir, PROBES).of({ ...countingEmbedder(), dtype: 'q8' });
    await new ProbeVectors(dir, PROBES).of({ ...countingEmbedder(), endpoint: 'http://127.0.0.1:9/v1' });
    const files = readdirSync(dir);
    expect(files).toHaveLength(3);
    for (const file of files) expect(file).toMatch(/^[0-9a-f]{32}\.f32$/);
  });

  it('forgets a failed embedding (the next call tries again) and works without a directory', async () => {
    const probes = new ProbeVectors(undefined, PROBES);
    const failing = countingEmbedder({ fail: true });
    await expect(probes.of(failing)).rejects.toThrow('model gone');
    await expect(probes.of(failing)).rejects.toThrow('model gone');
    expect(failing.calls).toBe(2);
    const working = countingEmbedder();
    expect(await probes.of(working)).toHaveLength(3);
  });

  it('still answers when the home cannot be written (the vectors only save time)', async () => {
    const file = join(tempDir(), 'not-a-dir');
    writeFileSync(file, 'x');
    const embedder = countingEmbedder();
    expect(await new ProbeVectors(join(file, 'probes'), PROBES).of(embedder)).toHaveLength(3);
  });
});

describe('nearestProbe', () => {
  it('is the probe of the highest inner product, the first of equals; none among no probes', () => {
    const probes = [Float32Array.from([1, 0]), Float32Array.from([0, 1])];
    expect(nearestProbe(Float32Array.from([0.6, 0.8]), probes)).toEqual({ index: 1, similarity: expect.closeTo(0.8, 6) as number });
    expect(nearestProbe(Float32Array.from([0.8, 0.6]), probes)).toEqual({ index: 0, similarity: expect.closeTo(0.8, 6) as number });
    expect(nearestProbe(Float32Array.from([Math.SQRT1_2, Math.SQRT1_2]), probes)?.index).toBe(0);
    expect(nearestProbe(Float32Array.from([0.6, 0.8]), [])).toBeUndefined();
  });

  it('names no probe when there are none', async () => {
    expect(await new ProbeVectors(undefined, []).nearest(countingEmbedder(), Float32Array.from([1, 0, 0, 0]))).toBeUndefined();
  });
});
