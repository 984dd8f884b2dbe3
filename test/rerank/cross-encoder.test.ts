import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CrossEncoderReranker } from '../../src/rerank/cross-encoder.js';
import { silentProgress } from '../../src/progress.js';
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { faqZip, tinyCrossEncoder, tinyModel } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { realModelAvailable, realModelRoot } from '../helpers/real-model.js';

/**
 * A cross-encoder run here through transformers.js: the tiny one .ci/run builds beside the real
 * model (scripts/build-tiny-cross-encoder.sh), with torch's logits for fixed pairs to agree with.
 */
const CROSS_ENCODER = tinyCrossEncoder;
const realModelDir = realModelRoot;
const available = await realModelAvailable(CROSS_ENCODER);

interface Reference {
  question: string;
  passages: string[];
  logits: number[];
}

describe.skipIf(!available)('a local cross-encoder (transformers.js)', () => {
  const modelDir = realModelDir as string;
  const reference = () => JSON.parse(readFileSync(join(modelDir, CROSS_ENCODER, 'reference.json'), 'utf8')) as Reference;
  let reranker: CrossEncoderReranker;
  beforeAll(async () => {
    reranker = await CrossEncoderReranker.load({ modelName: CROSS_ENCODER, modelDir, cacheDir: tempHome(), offline: true, hubEndpoint: undefined, dtype: 'fp32', progress: silentProgress });
  });
  afterAll(() => reranker.close());

  it("scores each pair as torch does on the same weights (question and passage read together)", async () => {
    const { question, passages, logits } = reference();
    // More pairs than one model call holds, so the batching is crossed too.
    const many = [...passages, ...passages];
    const scores = await reranker.score(question, many, new AbortController().signal);
    expect(scores).toHaveLength(many.length);
    scores.forEach((score, index) => expect(score).toBeCloseTo(logits[index % logits.length] as number, 3));
  });

  it('reorders search hits through --rerank MODEL, within the collection\'s own model dir', async () => {
    // The tiny embedding model and the cross-encoder live in two model dirs: ragoss reads one.
    const { mkdtempSync, symlinkSync, mkdirSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { modelsDir } = await import('../helpers/paths.js');
    const dir = mkdtempSync(join(tmpdir(), 'ragoss-models-'));
    mkdirSync(join(dir, 'testing'));
    symlinkSync(join(modelsDir, tinyModel), join(dir, tinyModel));
    symlinkSync(join(modelDir, CROSS_ENCODER), join(dir, CROSS_ENCODER));
    const env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: inject('milvusUri'), RAGOSS_MODEL_DIR: dir, RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_COLLECTION: uniqueCollection('ce') });
    expect((await runInProcess(['ingest', '-q', '--source', faqZip], env)).code).toBe(0);
    const result = await runInProcess(['search', 'Where does Milvus store data?', '--json', '--rerank', CROSS_ENCODER, '--rerank-candidates', '12', '--top-k', '5'], env);
    expect(result.code, result.stderr).toBe(0);
    const { hits, rerank } = JSON.parse(result.stdout) as { hits: Array<{ text: string; rerankScore: number }>; rerank: unknown };
    expect(rerank).toEqual({ by: CROSS_ENCODER, candidates: 12 });
    // The scores are the model's on each (question, passage) pair, best first.
    const direct = await reranker.score('Where does Milvus store data?', hits.map((hit) => hit.text), new AbortController().signal);
    hits.forEach((hit, index) => expect(hit.rerankScore).toBeCloseTo(direct[index] as number, 4));
    expect([...direct].sort((a, b) => b - a)).toEqual(direct);
  });
});
