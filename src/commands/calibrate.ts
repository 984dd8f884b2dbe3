import type { Command } from 'commander';
import { resolveCommonConfig, type CommonFlags } from '../config.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import { formatCalibrate } from '../cli/format.js';
import type { CommandRunner } from '../cli/runtime.js';

export function registerCalibrate(program: Command, run: CommandRunner): void {
  program
    .command('calibrate')
    .description('draw the collection\'s "not in the docs" line again from its stored vectors (ingest does it too; nothing is re-embedded)')
    .action(async (flags: CommonFlags) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        const request = { collection: config.collection, embeddingModel: config.embedding.explicitModel };
        const progress = progressFor(stderr, { quiet: config.quiet || config.json });
        const result = await withEngine(config, runtime, progress, (engine) => engine.calibrate(request, { progress, signal }));
        stdout.write(config.json ? `${JSON.stringify(result)}\n` : formatCalibrate(result));
      });
    });
}
