import { defaultThreshold, drawnByCurrentRule, PROBE_MARGIN } from '../pipeline/grounding.js';
import { GROUNDING_PROBES } from '../pipeline/grounding-probes.js';
import type { CollectionInfo } from '../store/store.js';
import type { Check } from './engine.js';

/** doctor's line about where the collection's "not in the docs" line is and how it was drawn. */
export function groundingCheck(collection: CollectionInfo): Check {
  const { grounding } = collection;
  if (grounding !== undefined) {
    const current = drawnByCurrentRule(grounding, GROUNDING_PROBES.length);
    return {
      name: 'grounding',
      status: current ? 'ok' : 'warn',
      ...(current ? {} : { fix: `ragoss calibrate --collection ${collection.name} (this ragoss draws the line another way; re-embeds nothing)` }),
      detail: `line ${grounding.threshold.toFixed(3)}, calibrated for ${collection.name}: ${grounding.method} (probes reach at most ${grounding.nullMax.toFixed(3)}); questions nearer an off-topic probe than any passage by more than ${PROBE_MARGIN} are refused too`,
    };
  }
  const fallback = defaultThreshold(collection.embeddingModel, collection.chunker);
  return {
    name: 'grounding',
    status: 'warn',
    detail: `${collection.name} has no calibrated line (made before ragoss calibrated collections): ${fallback === undefined ? `nothing is flagged as not in the docs (no default for ${collection.embeddingModel})` : `the model's default ${fallback.toFixed(3)} applies`}`,
    fix: `ragoss calibrate --collection ${collection.name} (reads the stored vectors, re-embeds nothing)`,
  };
}
