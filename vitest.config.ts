import { defineConfig } from 'vitest/config';
import { QualityFirstSequencer } from './test/sequencer.js';

/** The suites whose behaviour depends on the Milvus behind them: they run on both backends. */
const BOTH_BACKENDS = ['test/store/milvus.test.ts', 'test/pipeline/ingest.test.ts', 'test/cli/ingest-search.test.ts', 'test/cli/ask.test.ts', 'test/cli/doctor.test.ts', 'test/cli/snapshot.test.ts', 'test/cli/checkable.test.ts', 'test/cli/calibrate.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: files that each run models and Milvus calls are faster one or two at a time.
    maxWorkers: Number(process.env['RAGOSS_TEST_WORKERS'] ?? 2),
    reporters: ['default'],
    // One parse of the Milvus SDK's descriptors per worker, not one per client (see the file).
    setupFiles: ['test/helpers/shared-milvus-protos.ts'],
    sequence: { sequencer: QualityFirstSequencer },
    projects: [
      { extends: true, test: { name: 'lite', include: ['test/**/*.test.ts'], exclude: ['test/servers/**'], globalSetup: ['test/global-setup.ts'] } },
      // A real Milvus 2.3 standalone server (PyPI `milvus`), started by its own setup.
      { extends: true, test: { name: 'server', include: BOTH_BACKENDS, globalSetup: ['test/global-setup-server.ts'] } },
      // A real embedding and rerank server (PyPI infinity-emb), opt-in: its venv is minutes of pip.
      ...(process.env['RAGOSS_TEST_INFINITY'] === '1' ? [{ extends: true as const, test: { name: 'infinity', include: ['test/servers/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] } }] : []),
    ],
  },
});
