import type { Embedder } from '../embedder/embedder.js';
import type { Progress } from '../progress.js';
import type { CollectionInfo, VectorStore } from '../store/store.js';
import type { GroundingCalibration } from '../types.js';
import { calibrateThreshold, NullDistribution } from './grounding.js';
import type { ProbeVectors } from './probe-vectors.js';

/**
 * The probes embedded as questions are (the line is about questions): their best similarities,
 * tracked as chunk vectors pass by, are the collection's null distribution.
 */
export async function probeDistribution(embedder: Embedder, probes: ProbeVectors): Promise<NullDistribution> {
  return new NullDistribution(await probes.of(embedder));
}

/** The calibration from a distribution that saw every chunk; none for an empty collection. */
export function calibrationOf(distribution: NullDistribution): GroundingCalibration | undefined {
  const similarities = distribution.similarities();
  return similarities.length === 0 ? undefined : calibrateThreshold(similarities);
}

/**
 * The line drawn from a collection's stored vectors, read back a batch at a time (nothing is
 * re-embedded but the probes); undefined for an empty collection. Reads the physical collection, so
 * an ingest swapping the name meanwhile cannot mix two versions into one line.
 */
export async function calibrateStored(
  info: CollectionInfo,
  options: { store: VectorStore; embedder: Embedder; probes: ProbeVectors; progress: Progress; signal: AbortSignal; batchSize: number },
): Promise<GroundingCalibration | undefined> {
  const { store, progress, signal, batchSize } = options;
  progress.step(`the off-topic probes as ${options.embedder.modelName} embeds them (embedded once per model, then kept)`);
  const distribution = await probeDistribution(options.embedder, options.probes);
  const keys = await store.chunkKeys(info.physicalName);
  const task = progress.task('reading stored vectors', keys.length, 'chunks');
  for (let start = 0; start < keys.length; start += batchSize) {
    signal.throwIfAborted();
    const vectors = await store.vectorsByIds(info.physicalName, keys.slice(start, start + batchSize).map((key) => key.id));
    distribution.observe([...vectors.values()]);
    task.update(Math.min(keys.length, start + batchSize));
  }
  task.done();
  return calibrationOf(distribution);
}
