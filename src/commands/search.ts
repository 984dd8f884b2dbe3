import type { Command } from 'commander';
import { DEFAULT_MODE_HELP, DEFAULT_TOP_K, resolveCommonConfig, resolveMode, resolveTopK, validateQuestion, type CommonFlags } from '../config.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import { formatHits, hitJson } from '../cli/format.js';
import type { CommandRunner } from '../cli/runtime.js';

export function registerSearch(program: Command, run: CommandRunner): void {
  program
    .command('search')
    .description('retrieve the chunks closest to a question (no LLM)')
    .argument('<question>', 'the question, in quotes')
    .option('--top-k <n>', `how many chunks to return (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K})`)
    .option('--mode <mode>', `retrieval: dense, bm25 or hybrid (env RAGOSS_MODE; default ${DEFAULT_MODE_HELP})`)
    .action(async (question: string, flags: CommonFlags & { topK?: string; mode?: string }) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        const request = { question: validateQuestion(question), topK: resolveTopK(flags.topK, env), mode: resolveMode(flags.mode, env), collection: config.collection, embeddingModel: config.embedding.explicitModel };
        const progress = progressFor(stderr, { quiet: config.quiet || config.json });
        const { mode, hits } = await withEngine(config, runtime, progress, (engine) => engine.search(request, { progress, signal }));
        stdout.write(config.json ? `${JSON.stringify({ question: request.question, mode, hits: hits.map(hitJson) })}\n` : formatHits(hits));
      });
    });
}
