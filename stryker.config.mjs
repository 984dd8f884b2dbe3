// `npm run mutate`: StrykerJS mutation testing of the pure modules (not part of CI: minutes of CPU).
// The score says how many deliberate bugs in these files the unit tests catch.
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// The tests find ../shared from the checkout; from Stryker's sandbox copy that path is elsewhere.
process.env.RAGOSS_SHARED_DIR ??= resolve(dirname(fileURLToPath(import.meta.url)), '..', 'shared');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutate.config.ts' },
  mutate: ['src/corpus/chunk.ts', 'src/corpus/glob.ts', 'src/config.ts', 'src/store/location.ts', 'src/answerer/prompt.ts', 'src/pipeline/evaluate.ts', 'src/embedder/batching.ts', 'src/engine/hit-json.ts', 'src/service/requests.ts', 'src/pipeline/grounding.ts', 'src/pipeline/probe-vectors.ts'],
  coverageAnalysis: 'perTest',
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  concurrency: 2,
  thresholds: { high: 90, low: 80, break: null },
  tempDirName: '.stryker-tmp',
  // The sandbox needs the sources and tests, not the venvs, the bench's data or the build.
  ignorePatterns: ['.venv*', 'bench', 'dist', 'reports', '*.log'],
};
