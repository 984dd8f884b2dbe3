import { BaseSequencer, type TestSpecification } from 'vitest/node';

const QUALITY = 'test/quality/real-model.test.ts';
// Mostly waits on pip and PyPI: early, so the wait overlaps the files that use the CPU. By size (a
// clean clone's order) it came last, and ran alone for most of a minute with a core idle.
const EARLY = ['test/cli/embedded-install.test.ts'];
// They need models CI builds after the default one (helpers/real-model.ts): last, so nothing waits on them.
const LAST = ['test/rerank/cross-encoder.test.ts', 'test/embedder/nomic.test.ts'];

/**
 * The order files start in, on two workers. The quality test first: it is the longest file by far
 * and all CPU (the real model embeds); in CI it may first wait for that model, whose build then
 * has the core. Beside it, the pip install's test (EARLY). Then the real server's files alternate
 * with the others: a server file mostly waits on Milvus 2.3 (seconds to load each collection), so
 * two of them side by side left both cores two-thirds idle for a minute; beside a Milvus Lite file
 * the wait costs nothing. Within each list, vitest's own order (longest first once it has timings,
 * largest file first on a fresh clone).
 */
export class QualityFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const is = (spec: TestSpecification, path: string) => spec.moduleId.endsWith(path);
    const first = [...sorted.filter((spec) => is(spec, QUALITY)), ...sorted.filter((spec) => EARLY.some((path) => is(spec, path)))];
    const last = sorted.filter((spec) => LAST.some((path) => is(spec, path)));
    const middle = sorted.filter((spec) => !first.includes(spec) && !last.includes(spec));
    const server = middle.filter((spec) => spec.project.name === 'server');
    const others = middle.filter((spec) => spec.project.name !== 'server');
    const alternated: TestSpecification[] = [];
    for (let index = 0; index < Math.max(server.length, others.length); index++) {
      const fromServer = server[index];
      const fromOthers = others[index];
      if (fromServer !== undefined) alternated.push(fromServer);
      if (fromOthers !== undefined) alternated.push(fromOthers);
    }
    return [...first, ...alternated, ...last];
  }
}
