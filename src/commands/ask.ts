import type { Command } from 'commander';
import { OpenAIChatEndpoint, endpointNeedsKey } from '../answerer/chat.js';
import { DEFAULT_CHAT_BASE_URL, DEFAULT_CHAT_MODEL, DEFAULT_TOP_K, resolveChatConfig, resolveCommonConfig, type ChatFlags, type CommonFlags } from '../config.js';
import { UsageError } from '../errors.js';
import { displayUrl } from '../corpus/download.js';
import { answerQuestion } from '../pipeline/answer.js';
import { progressFor } from '../progress.js';
import type { Runtime } from '../cli/runtime.js';
import { hitJson, resolveTopK, retrieveFor, validateQuestion, type SearchFlags } from './search.js';

interface AskFlags extends SearchFlags, ChatFlags {
  showReasoning?: boolean;
}

export function registerAsk(program: Command, run: (flags: CommonFlags, body: (runtime: Runtime) => Promise<void>) => Promise<void>): void {
  program
    .command('ask')
    .description('answer a question from the docs with gpt-oss (retrieval + chat)')
    .argument('<question>', 'the question, in quotes')
    .option('--top-k <n>', `how many chunks to send as context (env RAGOSS_TOP_K; default ${DEFAULT_TOP_K})`)
    .option('--model <name>', `chat model (env RAGOSS_MODEL; default ${DEFAULT_CHAT_MODEL}, or openai/gpt-oss-120b)`)
    .option('--base-url <url>', `OpenAI-compatible endpoint (env RAGOSS_BASE_URL; default ${DEFAULT_CHAT_BASE_URL})`)
    .option('--max-tokens <n>', 'cap on generated tokens, reasoning included (env RAGOSS_MAX_TOKENS)')
    .option('--reasoning-effort <level>', 'low, medium or high (env RAGOSS_REASONING_EFFORT)')
    .option('--timeout <seconds>', 'give up on the chat endpoint after this long (env RAGOSS_TIMEOUT; default 120)')
    .option('--show-reasoning', "print the model's reasoning (to stderr) before the answer")
    .action(async (question: string, flags: AskFlags) => {
      await run(flags, (runtime) => askCommand(question, flags, runtime));
    });
}

async function askCommand(question: string, flags: AskFlags, { env, signal, stdout, stderr }: Runtime): Promise<void> {
  const config = resolveCommonConfig(flags, env);
  const chat = resolveChatConfig(flags, env);
  const topK = resolveTopK(flags.topK, env);
  const asked = validateQuestion(question);
  if (chat.apiKey === undefined && endpointNeedsKey(chat.baseUrl)) {
    throw new UsageError(`${chat.baseUrl} needs an API key and none is set`, 'export OPENROUTER_API_KEY=... (or OPENAI_API_KEY), or use a local endpoint with --base-url');
  }
  const progress = progressFor(stderr, { quiet: config.quiet || config.json });
  const { hits } = await retrieveFor(asked, topK, config, progress, signal);
  const endpoint = new OpenAIChatEndpoint({ baseUrl: chat.baseUrl, apiKey: chat.apiKey, timeoutMs: chat.timeoutMs, maxRetries: chat.maxRetries });
  progress.step(`asking ${chat.model} at ${displayUrl(chat.baseUrl)}`);
  let reasoningOpen = false;
  const result = await answerQuestion(asked, hits, endpoint, {
    model: chat.model,
    maxTokens: chat.maxTokens,
    reasoningEffort: chat.reasoningEffort,
    signal,
    onDelta: (delta) => {
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
    },
  });
  if (config.json) {
    stdout.write(`${JSON.stringify({ question: asked, answer: result.answer, reasoning: result.reasoning, model: result.model, hits: hits.map(hitJson) })}\n`);
    return;
  }
  const sources = hits.map((hit) => `  [${hit.rank}] ${hit.source} #${hit.chunkIndex} (score ${hit.score.toFixed(4)})`);
  stdout.write(`${result.answer.endsWith('\n') ? '' : '\n'}\nSources:\n${sources.join('\n')}\n`);
}
