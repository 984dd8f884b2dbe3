import type { Command } from 'commander';
import { DEFAULT_TOP_K, resolveCommonConfig, type CommonFlags } from '../config.js';
import { evaluate, readEvalQuestions } from '../pipeline/evaluate.js';
import { retrieve } from '../pipeline/retrieve.js';
import { progressFor } from '../progress.js';
import type { Runtime } from '../cli/runtime.js';
import { withQueryEmbedder } from '../cli/session.js';
import { resolveTopK } from './search.js';

export function registerEval(program: Command, run: (flags: CommonFlags, body: (runtime: Runtime) => Promise<void>) => Promise<void>): void {
  program
    .command('eval')
    .description('measure retrieval quality (recall@k, MRR) on a JSONL file of questions')
    .argument('<questions.jsonl>', 'one {"question": ..., "expected": [headings]} object a line')
    .option('--top-k <n>', `chunks retrieved per question (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K})`)
    .action(async (path: string, flags: CommonFlags & { topK?: string }) => {
      await run(flags, async ({ env, signal, stdout, stderr }) => {
        const config = resolveCommonConfig(flags, env);
        const topK = resolveTopK(flags.topK, env);
        const questions = await readEvalQuestions(path);
        const progress = progressFor(stderr, { quiet: config.quiet || config.json });
        const report = await withQueryEmbedder(config, progress, signal, async (store, info, embedder) => ({
          embeddingModel: info.embeddingModel,
          ...(await evaluate(questions, topK, (question) => {
            signal.throwIfAborted();
            return retrieve(question, embedder, store, config.collection, topK);
          })),
        }));
        if (config.json) {
          stdout.write(`${JSON.stringify(report)}\n`);
          return;
        }
        const lines = [
          `questions   ${report.questions}`,
          `model       ${report.embeddingModel}`,
          `recall@${topK}    ${report.recallAtK.toFixed(3)}`,
          `MRR         ${report.mrr.toFixed(3)}`,
          `misses      ${report.misses.length}`,
          ...report.misses.flatMap((miss) => [`  - ${miss.question}`, `    expected: ${miss.expected.join(' | ')}`, `    got:      ${miss.retrieved.join(' | ')}`]),
        ];
        stdout.write(`${lines.join('\n')}\n`);
      });
    });
}
