import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Embedder } from '../embedder/embedder.js';
import { loadOnce } from '../load-once.js';
import { GROUNDING_PROBES } from './grounding-probes.js';
import { innerProduct, type NearestProbe } from './grounding.js';

/**
 * The off-topic probes embedded by one model: what calibration draws a collection's line from and
 * what every question is compared with (the nearest-probe check). Embedding the 192 probes costs
 * 3–5 s on 2 cores, too much for each cold command, so they are kept in memory for an engine's life
 * and on disk under the ragoss home, keyed by the model, its weights, its server and the probes' text.
 */
export class ProbeVectors {
  private readonly loaded = new Map<string, Promise<Float32Array[]>>();

  /** `dir`: where vectors are kept between processes; undefined keeps them in memory only. */
  constructor(
    private readonly dir: string | undefined,
    private readonly probes: readonly string[] = GROUNDING_PROBES,
  ) {}

  /** The probes' vectors as `embedder` embeds questions, in the probes' order. */
  of(embedder: Embedder): Promise<Float32Array[]> {
    const key = this.keyOf(embedder);
    return loadOnce(this.loaded, key, () => this.readOrEmbed(embedder, key));
  }

  /** The probe closest to a question's vector (embedded by `embedder`), with its similarity. */
  async nearest(embedder: Embedder, vector: Float32Array): Promise<NearestProbe | undefined> {
    const found = nearestProbe(vector, await this.of(embedder));
    return found === undefined ? undefined : { question: this.probes[found.index] ?? '', similarity: found.similarity };
  }

  private keyOf(embedder: Embedder): string {
    const identity = JSON.stringify([embedder.modelName, embedder.dtype ?? '', embedder.endpoint ?? '', embedder.dimension, this.probes]);
    return createHash('sha256').update(identity).digest('hex').slice(0, 32);
  }

  private async readOrEmbed(embedder: Embedder, key: string): Promise<Float32Array[]> {
    const kept = await this.read(key, embedder.dimension);
    if (kept !== undefined) return kept;
    const vectors = await embedder.embedQueries(this.probes);
    await this.write(key, vectors);
    return vectors;
  }

  /** The kept vectors, or undefined when there are none or the file is not whole (it is embedded again). */
  private async read(key: string, dimension: number): Promise<Float32Array[] | undefined> {
    if (this.dir === undefined) return undefined;
    let bytes: Buffer;
    try {
      bytes = await readFile(join(this.dir, `${key}.f32`));
    } catch {
      return undefined;
    }
    if (bytes.length !== this.probes.length * dimension * 4) return undefined;
    const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
    return this.probes.map((_, index) => floats.slice(index * dimension, (index + 1) * dimension));
  }

  /** Written whole or not at all (a temporary file renamed); a home that cannot be written only costs the next process an embedding. */
  private async write(key: string, vectors: readonly Float32Array[]): Promise<void> {
    if (this.dir === undefined) return;
    const floats = new Float32Array(vectors.reduce((sum, vector) => sum + vector.length, 0));
    let offset = 0;
    for (const vector of vectors) {
      floats.set(vector, offset);
      offset += vector.length;
    }
    const path = join(this.dir, `${key}.f32`);
    const temporary = `${path}.${process.pid}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true });
      await writeFile(temporary, Buffer.from(floats.buffer));
      await rename(temporary, path);
    } catch {
      // Kept only to save time: nothing is lost without it.
    }
  }
}

/** The probe closest to a question's vector, by inner product (vectors are normalized). */
export function nearestProbe(vector: Float32Array, probeVectors: readonly Float32Array[]): { index: number; similarity: number } | undefined {
  let best: { index: number; similarity: number } | undefined;
  probeVectors.forEach((probe, index) => {
    const similarity = innerProduct(probe, vector);
    if (best === undefined || similarity > best.similarity) best = { index, similarity };
  });
  return best;
}
