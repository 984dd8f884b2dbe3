import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The quality test starts first, beside the real-server files, and the rest follow in vitest's
 * order. In CI the quality test may first wait for the real model, whose build then has that core. The quality test is the longest file by far and all CPU (the real model embeds); the
 * real server's files mostly wait on Milvus. Paired, the two workers stay busy and finish together.
 * vitest's own order on a fresh clone (no timings cached) starts the largest files first, which ran
 * the quality test late and the server's files last, on an otherwise idle worker.
 */
function rank(spec: TestSpecification): number {
  if (spec.moduleId.endsWith('test/quality/real-model.test.ts')) return 0;
  // It needs a model CI may still be building (helpers/real-model.ts): last, so nothing waits on it.
  if (spec.moduleId.endsWith('test/rerank/cross-encoder.test.ts')) return 3;
  return spec.project.name === 'server' ? 1 : 2;
}

export class QualityFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return sorted
      .map((spec, position) => ({ spec, position }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.position - b.position)
      .map(({ spec }) => spec);
  }
}
