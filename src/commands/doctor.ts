import type { Command } from 'commander';
import { resolveChatConfig, resolveCommonConfig, type ChatFlags, type CommonFlags } from '../config.js';
import { ExitCode, RagossError } from '../errors.js';
import { silentProgress } from '../progress.js';
import { currentService } from '../service/discover.js';
import { withEngine } from '../cli/engine-for.js';
import { doctorChecks, doctorJson, formatChecks, serviceCheck } from '../cli/format.js';
import type { CommandRunner } from '../cli/runtime.js';

export function registerDoctor(program: Command, run: CommandRunner): void {
  program
    .command('doctor')
    .description('check the service, Milvus, the embedding model and the chat endpoint; exit 1 if something needed is missing')
    .option('--model <name>', 'chat model to check (env RAGOSS_MODEL)')
    .option('--base-url <url>', 'chat endpoint to check (env RAGOSS_BASE_URL)')
    .action(async (flags: CommonFlags & ChatFlags) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout } = runtime;
        const config = resolveCommonConfig(flags, env);
        const request = { collection: config.collection, embeddingModel: config.embedding.explicitModel, chat: resolveChatConfig(flags, env) };
        const health = config.daemon === 'off' ? undefined : await currentService(config.home);
        const service = serviceCheck(health, config.daemon === 'use-or-start');
        // A check starts nothing: with no service up, doctor looks for itself.
        const report = await withEngine({ ...config, daemon: health === undefined ? 'off' : 'use' }, runtime, silentProgress, (engine) => engine.doctor(request, { progress: silentProgress, signal }));
        stdout.write(config.json ? `${JSON.stringify(doctorJson(report, health, service))}\n` : formatChecks(doctorChecks(report, health, service)));
        if (!report.ok) throw new RagossError('doctor found problems (see above)', undefined, ExitCode.failure);
      });
    });
}
