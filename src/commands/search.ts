import type { Command } from 'commander';
import { DEFAULT_MODE_HELP, DEFAULT_TOP_K, resolveCommonConfig, type CommonFlags } from '../config.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import { describeGrounding, formatHits, linkStyleFor } from '../cli/format.js';
import { groundingJson, hitJson } from '../engine/hit-json.js';
import type { CommandRunner } from '../cli/runtime.js';
import { addGroundingOptions, queryRequest, type QueryFlags } from '../cli/query-options.js';

export function registerSearch(program: Command, run: CommandRunner): void {
  const command = program
    .command('search')
    .description('retrieve the chunks closest to a question (no LLM)')
    .argument('<question>', 'the question, in quotes')
    .option('--top-k <n>', `how many chunks to return (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K})`)
    .option('--mode <mode>', `retrieval: dense, bm25 or hybrid (env RAGOSS_MODE; default ${DEFAULT_MODE_HELP})`);
  addGroundingOptions(command).action(async (question: string, flags: CommonFlags & QueryFlags) => {
    await run(flags, async (runtime) => {
      const { env, signal, stdout, stderr } = runtime;
      const config = resolveCommonConfig(flags, env);
      const request = queryRequest(question, flags, config, env);
      const progress = progressFor(stderr, { quiet: config.quiet || config.json });
      const result = await withEngine(config, runtime, progress, (engine) => engine.search(request, { progress, signal }));
      if (config.json) {
        stdout.write(`${JSON.stringify({ question: request.question, mode: result.mode, ...groundingJson(result), ...(result.rerank === undefined ? {} : { rerank: result.rerank }), hits: result.hits.map(hitJson) })}\n`);
        return;
      }
      stdout.write(formatHits(result.hits, linkStyleFor(stdout, env)));
      // Retrieval still shows what is nearest; the note says how far that is.
      if (!result.grounded && !config.quiet) stderr.write(`note: the docs do not seem to cover this question (${describeGrounding(result)})\n`);
    });
  });
}
