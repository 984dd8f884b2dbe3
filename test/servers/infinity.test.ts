import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DEFAULT_EMBEDDING_MODEL } from '../../src/embedder/embedder.js';
import { loadCorpus } from '../../src/corpus/source.js';
import { EndpointEmbedder } from '../../src/embedder/endpoint.js';
import { TransformersEmbedder } from '../../src/embedder/transformers.js';
import { chunkDocuments } from '../../src/pipeline/ingest.js';
import { silentProgress } from '../../src/progress.js';
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { startInfinity, mpnetSource, type InfinityServer } from '../helpers/infinity-server.js';
import { devQuestions, faqZip, tinyCrossEncoder } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';

/**
 * ragoss against a real embedding and rerank server: Infinity (PyPI infinity-emb) serving the same
 * all-mpnet-base-v2 weights ragoss runs locally, and the tiny cross-encoder. Opt-in (the server's
 * venv is torch plus a web stack, minutes to install): RAGOSS_TEST_INFINITY=1 npm run test:infinity.
 */
const realModelDir = process.env['RAGOSS_REAL_MODEL_DIR'];
if (realModelDir === undefined) throw new Error('RAGOSS_REAL_MODEL_DIR must hold the real model and the tiny cross-encoder (see .ci/run)');
const modelDir = realModelDir;
const SERVED = 'all-mpnet-base-v2';
const RERANKER = 'tiny-ce';

let infinity: InfinityServer;
beforeAll(async () => {
  infinity = await startInfinity({ [SERVED]: mpnetSource, [RERANKER]: join(modelDir, tinyCrossEncoder) });
}, 900_000);
afterAll(() => infinity?.stop());

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let index = 0; index < a.length; index++) dot += (a[index] as number) * (b[index] as number);
  return dot;
}

interface Hit {
  source: string;
  chunkIndex: number;
  text: string;
  rerankScore?: number;
}

describe('Infinity serving all-mpnet-base-v2', () => {
  it("its vectors agree with ragoss's local ONNX ones on every FAQ chunk (cosine >= 0.999)", async () => {
    const chunks = chunkDocuments(await loadCorpus({ source: faqZip, glob: 'en/faq/*.md', home: tempHome(), progress: silentProgress, refresh: false }), 'seed');
    const local = await TransformersEmbedder.load({ modelName: DEFAULT_EMBEDDING_MODEL, modelDir, cacheDir: tempHome(), offline: true, dtype: 'fp32', batchSize: 16, progress: silentProgress });
    const remote = await EndpointEmbedder.connect({ url: infinity.url, apiKey: undefined, dimensions: undefined, batchSize: 32, concurrency: 4, timeoutMs: 120_000, maxRetries: 2, maxTokens: 384, modelName: SERVED, progress: silentProgress });
    try {
      const texts = chunks.map((chunk) => chunk.text);
      const [mine, theirs] = [await local.embedDocuments(texts), await remote.embedDocuments(texts)];
      const cosines = mine.map((vector, index) => cosine(vector, theirs[index] as Float32Array));
      console.log(`${cosines.length} FAQ chunks: min cosine ${Math.min(...cosines).toFixed(6)}, mean ${(cosines.reduce((a, b) => a + b, 0) / cosines.length).toFixed(6)}`);
      expect(cosines).toHaveLength(72);
      for (const value of cosines) expect(value).toBeGreaterThanOrEqual(0.999);
    } finally {
      await local.close();
    }
  });

  it('every FAQ dev question gets the same top 3 through the server as locally', async () => {
    const common = { MILVUS_URI: inject('milvusUri'), RAGOSS_MODEL_DIR: modelDir };
    const localEnv = baseEnv({ ...common, RAGOSS_HOME: tempHome(), RAGOSS_COLLECTION: uniqueCollection('inf_local') });
    const serverEnv = baseEnv({ ...common, RAGOSS_HOME: tempHome(), RAGOSS_COLLECTION: uniqueCollection('inf_server'), RAGOSS_EMBEDDING_URL: infinity.url });
    for (const env of [localEnv, serverEnv]) {
      const ingest = await runInProcess(['ingest', '-q', '--source', faqZip, '--json'], env);
      expect(ingest.code, ingest.stderr).toBe(0);
    }
    const questions = readFileSync(devQuestions, 'utf8').trim().split('\n').map((line) => (JSON.parse(line) as { question: string }).question);
    for (const question of questions) {
      const [local, served] = await Promise.all(
        [localEnv, serverEnv].map(async (env) => (JSON.parse((await runInProcess(['search', question, '--json'], env)).stdout) as { hits: Hit[] }).hits.map((hit) => `${hit.source}#${hit.chunkIndex}`)),
      );
      expect(served, question).toEqual(local);
    }
    // And the grounding threshold calibrated for the local model holds for the same weights served.
    const offTopic = await runInProcess(['search', 'What is the capital of France?', '--json'], serverEnv);
    expect((JSON.parse(offTopic.stdout) as { threshold: number | null }).threshold).toBe(0.49);
  });
});

describe("Infinity's /rerank with the tiny cross-encoder", () => {
  it("orders as ragoss's own run of the same weights does, with sigmoid(logit) as its score", async () => {
    const env = baseEnv({ MILVUS_URI: inject('milvusUri'), RAGOSS_MODEL_DIR: modelDir, RAGOSS_HOME: tempHome(), RAGOSS_COLLECTION: uniqueCollection('inf_rerank'), RAGOSS_EMBEDDING_URL: infinity.url });
    expect((await runInProcess(['ingest', '-q', '--source', faqZip], env)).code).toBe(0);
    const question = 'How is data stored in milvus?';
    const search = async (rerank: string, extra: Record<string, string> = {}) => {
      const result = await runInProcess(['search', question, '--json', '--top-k', '8', '--rerank', rerank, '--rerank-candidates', '8', '--rerank-timeout', '60'], { ...env, ...extra });
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { hits: Hit[]; rerank: { by: string; fallback?: string } };
    };
    const served = await search(`${infinity.url}/rerank`, { RAGOSS_RERANK_MODEL: RERANKER });
    const local = await search(tinyCrossEncoder);
    expect(served.rerank.fallback).toBeUndefined();
    expect(served.hits.map((hit) => hit.chunkIndex)).toEqual(local.hits.map((hit) => hit.chunkIndex));
    served.hits.forEach((hit, index) => expect(hit.rerankScore).toBeCloseTo(1 / (1 + Math.exp(-(local.hits[index]?.rerankScore as number))), 3));
  });
});
