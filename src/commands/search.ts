import type { Command } from 'commander';
import { DEFAULT_TOP_K, parsePositiveInt, pick, resolveCommonConfig, type CommonConfig, type CommonFlags, type Env } from '../config.js';
import { UsageError } from '../errors.js';
import { retrieve, type RankedHit } from '../pipeline/retrieve.js';
import { progressFor, type Progress } from '../progress.js';
import type { Runtime } from '../cli/runtime.js';
import { withQueryEmbedder } from '../cli/session.js';

export interface SearchFlags extends CommonFlags {
  topK?: string;
}

export function validateQuestion(question: string): string {
  const trimmed = question.trim();
  if (trimmed === '') throw new UsageError('the question is empty', 'pass it as an argument, e.g. ragoss search "How is data stored in milvus?"');
  return trimmed;
}

export function resolveTopK(flag: string | undefined, env: Env): number {
  return parsePositiveInt(pick(flag, env, 'RAGOSS_TOP_K'), '--top-k', DEFAULT_TOP_K);
}

/** Shared by search and ask: store up, collection checked, question embedded with its model. */
export async function retrieveFor(question: string, topK: number, config: CommonConfig, progress: Progress, signal: AbortSignal): Promise<{ hits: RankedHit[]; embeddingModel: string }> {
  return withQueryEmbedder(config, progress, signal, async (store, info, embedder) => {
    const { tokens, maxTokens } = embedder.tokenBudget(question);
    if (tokens > maxTokens) {
      progress.warn(`the question is ${tokens} tokens; ${embedder.modelName} reads only the first ${maxTokens} for retrieval (the chat model gets all of it)`);
    }
    return { hits: await retrieve(question, embedder, store, config.collection, topK), embeddingModel: info.embeddingModel };
  });
}

export function hitJson(hit: RankedHit): Record<string, unknown> {
  return { rank: hit.rank, score: Number(hit.score.toFixed(6)), text: hit.text, source: hit.source, chunkIndex: hit.chunkIndex };
}

export function formatHit(hit: RankedHit): string {
  const preview = hit.text.trim().replace(/\s+/g, ' ');
  const shown = preview.length > 300 ? `${preview.slice(0, 297)}...` : preview;
  return `${hit.rank}. ${hit.score.toFixed(4)}  ${hit.source} #${hit.chunkIndex}\n   ${shown}\n`;
}

export function registerSearch(program: Command, run: (flags: CommonFlags, body: (runtime: Runtime) => Promise<void>) => Promise<void>): void {
  program
    .command('search')
    .description('retrieve the chunks closest to a question (no LLM)')
    .argument('<question>', 'the question, in quotes')
    .option('--top-k <n>', `how many chunks to return (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K})`)
    .action(async (question: string, flags: SearchFlags) => {
      await run(flags, async ({ env, signal, stdout, stderr }) => {
        const config = resolveCommonConfig(flags, env);
        const topK = resolveTopK(flags.topK, env);
        const asked = validateQuestion(question);
        const { hits } = await retrieveFor(asked, topK, config, progressFor(stderr, { quiet: config.quiet || config.json }), signal);
        if (config.json) {
          stdout.write(`${JSON.stringify({ question: asked, hits: hits.map(hitJson) })}\n`);
        } else {
          stdout.write(hits.length === 0 ? 'no results\n' : hits.map(formatHit).join(''));
        }
      });
    });
}
