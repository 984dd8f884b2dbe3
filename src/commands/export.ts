import type { Command } from 'commander';
import { resolve } from 'node:path';
import { resolveCommonConfig, type CommonFlags } from '../config.js';
import { UsageError } from '../errors.js';
import { progressFor } from '../progress.js';
import { isSnapshotPath } from '../snapshot/path.js';
import { withEngine } from '../cli/engine-for.js';
import { formatExport } from '../cli/format.js';
import type { CommandRunner } from '../cli/runtime.js';

export function registerExport(program: Command, run: CommandRunner): void {
  program
    .command('export')
    .description('write a collection (chunks, vectors and what it was built with) to one Parquet snapshot; `ragoss ingest --source FILE` loads it anywhere')
    .requiredOption('--out <file.parquet>', 'the snapshot to write (replaced if it exists)')
    .action(async (flags: CommonFlags & { out: string }) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        if (!isSnapshotPath(flags.out)) throw new UsageError(`--out must name a .parquet file, got "${flags.out}"`, 'ingest recognises snapshots by that extension, e.g. --out docs.parquet');
        // The service does not share our working directory: the path travels absolute.
        const request = { collection: config.collection, out: resolve(flags.out) };
        const progress = progressFor(stderr, { quiet: config.quiet, heartbeat: true });
        const result = await withEngine(config, runtime, progress, (engine) => engine.exportSnapshot(request, { progress, signal }));
        stdout.write(config.json ? `${JSON.stringify(result)}\n` : formatExport(result));
      });
    });
}
