import type { Command } from 'commander';
import { requireChatKey, type ChatDelta } from '../answerer/chat.js';
import { DEFAULT_CHAT_BASE_URL, DEFAULT_CHAT_MODEL, DEFAULT_MODE_HELP, DEFAULT_TOP_K, resolveChatConfig, resolveCommonConfig, resolveContext, type ChatFlags, type CommonFlags } from '../config.js';
import { DEFAULT_CONTEXT_HITS, DEFAULT_CONTEXT_TOKENS } from '../pipeline/context.js';
import type { AskResult } from '../engine/engine.js';
import { NotCoveredError } from '../errors.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import { contextJson, describeGrounding, formatPassages, formatSources, linkStyleFor, nearestSources } from '../cli/format.js';
import { groundingJson, hitJson } from '../engine/hit-json.js';
import type { CommandRunner } from '../cli/runtime.js';
import { addGroundingOptions, queryRequest, type QueryFlags } from '../cli/query-options.js';

interface AskFlags extends CommonFlags, ChatFlags, QueryFlags {
  showReasoning?: boolean;
  force?: boolean;
  cite?: boolean;
  contextTokens?: string;
}

function askJson(result: AskResult): Record<string, unknown> {
  return {
    question: result.question,
    answer: result.answer,
    reasoning: result.reasoning,
    model: result.model,
    answered: result.answered,
    ...groundingJson(result),
    hits: result.hits.map(hitJson),
    ...(result.cited === undefined ? {} : { cited: result.cited }),
    ...(result.rerank === undefined ? {} : { rerank: result.rerank }),
    ...(result.context === undefined ? {} : { context: contextJson(result.context) }),
  };
}

export function registerAsk(program: Command, run: CommandRunner): void {
  const command = program
    .command('ask')
    .description('answer a question from the docs with gpt-oss (retrieval + chat)')
    .argument('<question>', 'the question, in quotes')
    .option('--top-k <n>', `how many chunks to send as context (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K}; on whole-docs collections, how many hits may fill the context budget, default ${DEFAULT_CONTEXT_HITS})`)
    .option('--context-tokens <n>', `fill this many tokens of context from the hits: their short sections whole, neighbouring chunks merged (env RAGOSS_CONTEXT_TOKENS; default ${DEFAULT_CONTEXT_TOKENS} on whole-docs (markdown) collections; the FAQ's seed chunks get the top k as they are)`)
    .option('--mode <mode>', `retrieval: dense, bm25 or hybrid (env RAGOSS_MODE; default ${DEFAULT_MODE_HELP})`)
    .option('--model <name>', `chat model (env RAGOSS_MODEL; default ${DEFAULT_CHAT_MODEL}, or openai/gpt-oss-120b)`)
    .option('--base-url <url>', `OpenAI-compatible endpoint (env RAGOSS_BASE_URL; default ${DEFAULT_CHAT_BASE_URL})`)
    .option('--max-tokens <n>', 'cap on generated tokens, reasoning included (env RAGOSS_MAX_TOKENS)')
    .option('--reasoning-effort <level>', 'low, medium or high (env RAGOSS_REASONING_EFFORT)')
    .option('--timeout <seconds>', 'give up on the chat endpoint after this long (env RAGOSS_TIMEOUT; default 120)')
    .option('--show-reasoning', "print the model's reasoning (to stderr) before the answer")
    .option('--cite', 'number the passages and have the model cite them as [n] (the seed prompt otherwise)')
    .option('--force', 'ask the model even when the docs do not seem to cover the question (exit 4 otherwise)');
  addGroundingOptions(command).action(async (question: string, flags: AskFlags) => {
    await run(flags, async (runtime) => {
      const { env, signal, stdout, stderr } = runtime;
      const config = resolveCommonConfig(flags, env);
      const chat = resolveChatConfig(flags, env);
      const request = {
        ...queryRequest(question, flags, config, env),
        chat,
        force: flags.force === true,
        cite: flags.cite === true,
        context: resolveContext(flags, env),
      };
      // Before any retrieval work: a missing key is the user's to fix, not a failure to wait for.
      requireChatKey(chat.baseUrl, chat.apiKey);
      const progress = progressFor(stderr, { quiet: config.quiet || config.json });
      let reasoningOpen = false;
      const onDelta = (delta: ChatDelta) => {
        if (config.json) return;
        if (delta.kind === 'reasoning') {
          if (!flags.showReasoning) return;
          if (!reasoningOpen) stderr.write('reasoning: ');
          reasoningOpen = true;
          stderr.write(delta.text);
          return;
        }
        if (reasoningOpen) {
          stderr.write('\n\n');
          reasoningOpen = false;
        }
        stdout.write(delta.text);
      };
      const result = await withEngine(config, runtime, progress, (engine) => engine.ask(request, { progress, signal, onDelta }));
      if (config.json) stdout.write(`${JSON.stringify(askJson(result))}\n`);
      else if (result.answered) {
        const style = linkStyleFor(stdout, env);
        stdout.write(`${result.answer.endsWith('\n') ? '' : '\n'}\n${result.context === undefined ? formatSources(result.hits, style) : formatPassages(result.context.passages, style)}`);
      }
      if (!result.answered) {
        throw new NotCoveredError(
          `the docs do not seem to cover this question (${describeGrounding(result)}); nearest: ${nearestSources(result.hits)}`,
          `rephrase it in the docs' terms, or pass --force to ask the model anyway (--min-score ${result.refusedBy === 'nearest probe' ? 'judges by the similarity line alone' : 'moves the line'})`,
        );
      }
    });
  });
}
