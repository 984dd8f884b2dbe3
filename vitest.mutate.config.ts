import { defineConfig } from 'vitest/config';

/**
 * `npm run mutate` (StrykerJS) runs these: the unit tests of the pure modules it mutates. No global
 * setup: nothing here needs Milvus, a model or a network.
 */
export default defineConfig({
  test: {
    include: ['test/docs/readme.test.ts', 'test/corpus/chunk.test.ts', 'test/corpus/glob.test.ts', 'test/config-settings.test.ts', 'test/answerer/prompt.test.ts', 'test/pipeline/evaluate.test.ts', 'test/embedder/batching.test.ts', 'test/pipeline/answer.test.ts', 'test/engine/hit-json.test.ts', 'test/service/requests.test.ts', 'test/pipeline/grounding.test.ts', 'test/pipeline/probe-vectors.test.ts'],
    testTimeout: 30_000,
  },
});
