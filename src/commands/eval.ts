import type { Command } from 'commander';
import { DEFAULT_MODE_HELP, DEFAULT_TOP_K, embeddingTarget, resolveCommonConfig, resolveContext, resolveEvalModes, resolveMinScore, resolveRerank, resolveTopK, type CommonFlags, type RerankFlags } from '../config.js';
import { addRerankOptions } from '../cli/query-options.js';
import type { EvalResult } from '../engine/engine.js';
import { readEvalQuestions } from '../pipeline/evaluate.js';
import { DEFAULT_CONTEXT_TOKENS } from '../pipeline/context.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import { formatCurve, formatEval, formatEvalTable } from '../cli/format.js';
import type { CommandRunner } from '../cli/runtime.js';

export function registerEval(program: Command, run: CommandRunner): void {
  const command = program
    .command('eval')
    .description('measure retrieval quality (recall@k, MRR) on a JSONL file of questions')
    .argument('<questions.jsonl>', 'one {"question", "expected": [headings]} or {"question", "gold": [{"source", "heading"}]} object a line; "expected": [] marks a question the docs do not cover')
    .option('--top-k <n>', `chunks retrieved per question (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K})`)
    .option('--mode <modes>', `dense, bm25, hybrid, a comma-separated list of them, or all: several modes print a table (env RAGOSS_MODE; default ${DEFAULT_MODE_HELP})`)
    .option('--min-score <similarity>', "the grounding threshold to score off-topic questions against (env RAGOSS_MIN_SCORE; default: the collection's calibrated line)")
    .option('--curve', 'also print how many real questions are refused and off-topic ones caught, per kind, as the line moves')
    .option('--context-tokens <n>', `the context budget \`ask\` fills, for the context recall (env RAGOSS_CONTEXT_TOKENS; default ${DEFAULT_CONTEXT_TOKENS} on whole-docs collections; the FAQ's: the top k)`);
  // With a reranker, every mode runs twice, without and with it, side by side.
  addRerankOptions(command).action(async (path: string, flags: CommonFlags & RerankFlags & { topK?: string; mode?: string; minScore?: string; curve?: boolean; contextTokens?: string }) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        const modes = resolveEvalModes(flags.mode, env);
        const minScore = resolveMinScore(flags.minScore, env);
        const rerank = resolveRerank(flags, env);
        const request = {
          questions: await readEvalQuestions(path),
          topK: resolveTopK(flags.topK, env),
          collection: config.collection,
          ...embeddingTarget(config),
          ...(minScore === undefined ? {} : { minScore }),
          ...(flags.curve === true ? { curve: true } : {}),
          // The budget only: eval's --top-k is recall@k's k, not the cap on the context's hits.
          context: resolveContext({ contextTokens: flags.contextTokens }, { RAGOSS_CONTEXT_TOKENS: env['RAGOSS_CONTEXT_TOKENS'] }),
        };
        const progress = progressFor(stderr, { quiet: config.quiet || config.json });
        const reports = await withEngine(config, runtime, progress, async (engine) => {
          const results: EvalResult[] = [];
          for (const mode of modes) {
            results.push(await engine.evaluate({ ...request, mode }, { progress, signal }));
            if (rerank !== undefined) results.push(await engine.evaluate({ ...request, mode, rerank }, { progress, signal }));
          }
          return results;
        });
        if (reports.length === 1) {
          const [report] = reports as [EvalResult];
          stdout.write(config.json ? `${JSON.stringify(report)}\n` : formatEval(report));
          return;
        }
        stdout.write(config.json ? `${JSON.stringify({ runs: reports })}\n` : formatEvalTable(reports) + (flags.curve === true ? reports.map(formatCurve).join('') : ''));
      });
    });
}
