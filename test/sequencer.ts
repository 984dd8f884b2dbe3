import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The files that take longest start first, so that the two workers finish together: vitest's own
 * order on a fresh clone (no timings cached yet) starts the largest files first, and left the
 * quality test, the longest by far, to run alone at the end.
 */
const LONGEST_FIRST = ['test/quality/real-model.test.ts', 'test/service/service.test.ts', 'test/service/detach.test.ts', 'test/cli/errors.test.ts', 'test/cli/embedded-install.test.ts'];

function rank(spec: TestSpecification): number {
  const index = LONGEST_FIRST.findIndex((path) => spec.moduleId.endsWith(path));
  return index === -1 ? LONGEST_FIRST.length : index;
}

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    return sorted
      .map((spec, position) => ({ spec, position }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.position - b.position)
      .map(({ spec }) => spec);
  }
}
