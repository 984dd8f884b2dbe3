import type { Command } from 'commander';
import { DEFAULT_TOP_K, resolveCommonConfig, resolveTopK, type CommonFlags } from '../config.js';
import { readEvalQuestions } from '../pipeline/evaluate.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import { formatEval } from '../cli/format.js';
import type { CommandRunner } from '../cli/runtime.js';

export function registerEval(program: Command, run: CommandRunner): void {
  program
    .command('eval')
    .description('measure retrieval quality (recall@k, MRR) on a JSONL file of questions')
    .argument('<questions.jsonl>', 'one {"question": ..., "expected": [headings]} object a line')
    .option('--top-k <n>', `chunks retrieved per question (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K})`)
    .action(async (path: string, flags: CommonFlags & { topK?: string }) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        const request = { questions: await readEvalQuestions(path), topK: resolveTopK(flags.topK, env), collection: config.collection, embeddingModel: config.embedding.explicitModel };
        const progress = progressFor(stderr, { quiet: config.quiet || config.json });
        const report = await withEngine(config, runtime, progress, (engine) => engine.evaluate(request, { progress, signal }));
        stdout.write(config.json ? `${JSON.stringify(report)}\n` : formatEval(report));
      });
    });
}
