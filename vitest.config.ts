import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: files that each run models and Milvus calls are faster one or two at a time.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
