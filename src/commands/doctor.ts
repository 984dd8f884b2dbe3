import type { Command } from 'commander';
import { embeddingTarget, engineSettings, resolveChatConfig, resolveCommonConfig, type ChatFlags, type CommonFlags } from '../config.js';
import { ExitCode, RagossError } from '../errors.js';
import { silentProgress } from '../progress.js';
import { currentService, differencesFrom, sameMilvus, serviceEngine } from '../service/discover.js';
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
        const request = { collection: config.collection, ...embeddingTarget(config), chat: resolveChatConfig(flags, env) };
        const health = config.daemon === 'off' ? undefined : await currentService(config.home);
        // A check starts nothing. With a service up, doctor checks through it whatever its settings
        // (it holds the embedded data: an in-process check would only wait for it) and says how they
        // differ; with none, doctor looks for itself.
        const settings = engineSettings(config);
        const differences = health === undefined ? [] : differencesFrom(health, settings);
        const viaService = health !== undefined && sameMilvus(health, settings);
        const service = serviceCheck(health, config.daemon === 'use-or-start', { differences, checkedThrough: viaService });
        const context = { progress: silentProgress, signal };
        const report = viaService
          ? await serviceEngine(config.home, health).doctor(request, context)
          : await withEngine({ ...config, daemon: 'off' }, runtime, silentProgress, (engine) => engine.doctor(request, context));
        stdout.write(config.json ? `${JSON.stringify(doctorJson(report, health, service))}\n` : formatChecks(doctorChecks(report, health, service)));
        if (!report.ok) throw new RagossError('doctor found problems (see above)', undefined, ExitCode.failure);
      });
    });
}
