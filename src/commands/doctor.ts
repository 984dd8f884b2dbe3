import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenAIChatEndpoint, endpointNeedsKey } from '../answerer/chat.js';
import { describeLocation, resolveChatConfig, resolveCommonConfig, type ChatFlags, type CommonConfig, type CommonFlags } from '../config.js';
import { modelIsLocal } from '../embedder/transformers.js';
import { ExitCode, RagossError, errorMessage } from '../errors.js';
import { silentProgress } from '../progress.js';
import { findMilvusLite } from '../store/embedded.js';
import type { CollectionInfo } from '../store/store.js';
import type { Runtime } from '../cli/runtime.js';
import { connectStore, ingestModelName } from '../cli/session.js';

type CheckStatus = 'ok' | 'warn' | 'fail';

interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

interface MilvusReport {
  mode: 'embedded' | 'server';
  address: string;
  reachable: boolean;
  serverVersion?: string;
  collections: CollectionInfo[];
}

async function checkMilvus(config: CommonConfig, signal: AbortSignal): Promise<{ report: MilvusReport; checks: Check[] }> {
  const report: MilvusReport = { mode: config.location.kind, address: describeLocation(config.location), reachable: false, collections: [] };
  const checks: Check[] = [];
  if (config.location.kind === 'embedded' && findMilvusLite(config.home, config.milvusLiteExecutable) === undefined) {
    checks.push({ name: 'milvus', status: 'warn', detail: `embedded Milvus Lite at ${report.address} is not installed yet`, fix: 'the first ingest installs it (needs Python 3), or set MILVUS_URI to a server' });
    return { report, checks };
  }
  try {
    const store = await connectStore(config, silentProgress, signal);
    try {
      report.reachable = true;
      report.serverVersion = await store.serverVersion();
      report.collections = await store.listCollections();
    } finally {
      await store.close();
    }
    checks.push({ name: 'milvus', status: 'ok', detail: `${config.location.kind} ${report.address}, version ${report.serverVersion}` });
  } catch (error) {
    const reason = error instanceof RagossError ? error.message : errorMessage(error);
    checks.push({ name: 'milvus', status: 'fail', detail: reason, fix: error instanceof RagossError ? error.hint : undefined });
    return { report, checks };
  }
  const collection = report.collections.find((info) => info.name === config.collection);
  checks.push(
    collection === undefined
      ? { name: 'collection', status: 'fail', detail: `${config.collection} not found`, fix: 'run `ragoss ingest`' }
      : { name: 'collection', status: 'ok', detail: `${collection.name}: ${collection.rowCount} rows, ${collection.embeddingModel} (${collection.dimension} dims)` },
  );
  return { report, checks };
}

function modelDimension(root: string, modelName: string): number | undefined {
  const configPath = join(root, modelName, 'config.json');
  if (!existsSync(configPath)) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(configPath, 'utf8')) as { hidden_size?: unknown };
    return typeof parsed.hidden_size === 'number' ? parsed.hidden_size : undefined;
  } catch {
    return undefined;
  }
}

function checkEmbedding(config: CommonConfig, collection: CollectionInfo | undefined): { report: Record<string, unknown>; check: Check } {
  const modelName = config.embedding.explicitModel ?? collection?.embeddingModel ?? ingestModelName(config);
  const { modelDir, cacheDir, offline } = config.embedding;
  const cached = modelIsLocal({ modelName, modelDir, cacheDir });
  const dimension = modelDimension(modelDir ?? cacheDir, modelName);
  const report = { model: modelName, dimension: dimension ?? null, local: cached, location: join(modelDir ?? cacheDir, modelName) };
  if (cached) return { report, check: { name: 'embedding', status: 'ok', detail: `${modelName} (${dimension ?? '?'} dims) at ${report.location}` } };
  const mustBeLocal = offline || modelDir !== undefined;
  return {
    report,
    check: mustBeLocal
      ? { name: 'embedding', status: 'fail', detail: `${modelName} not found at ${report.location}`, fix: 'put the model there, or drop --offline/--model-dir to download it' }
      : { name: 'embedding', status: 'warn', detail: `${modelName} not downloaded yet`, fix: 'the first ingest or search downloads it into the ragoss home' },
  };
}

async function checkChat(flags: ChatFlags, config: CommonConfig, signal: AbortSignal): Promise<{ report: Record<string, unknown>; check: Check }> {
  const chat = resolveChatConfig(flags, process.env);
  const report: Record<string, unknown> = { baseUrl: chat.baseUrl, model: chat.model, keySet: chat.apiKey !== undefined, answers: false };
  if (chat.apiKey === undefined && endpointNeedsKey(chat.baseUrl)) {
    return { report, check: { name: 'chat', status: 'fail', detail: `${chat.baseUrl} needs an API key and none is set`, fix: 'export OPENROUTER_API_KEY=... or use a local --base-url' } };
  }
  const endpoint = new OpenAIChatEndpoint({ baseUrl: chat.baseUrl, apiKey: chat.apiKey, timeoutMs: Math.min(chat.timeoutMs, 10_000), maxRetries: 0 });
  try {
    const models = await endpoint.listModels(signal);
    report['answers'] = true;
    const listed = models.length === 0 || models.includes(chat.model);
    return {
      report,
      check: listed
        ? { name: 'chat', status: 'ok', detail: `${chat.baseUrl} answers; model ${chat.model}; key ${chat.apiKey ? 'set' : 'not set'}` }
        : { name: 'chat', status: 'warn', detail: `${chat.baseUrl} answers but does not list ${chat.model}`, fix: 'check --model' },
    };
  } catch (error) {
    const reason = error instanceof RagossError ? error.message : errorMessage(error);
    return { report, check: { name: 'chat', status: 'fail', detail: reason, fix: error instanceof RagossError ? error.hint : undefined } };
  }
}

const MARK: Record<CheckStatus, string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

export function registerDoctor(program: Command, run: (flags: CommonFlags, body: (runtime: Runtime) => Promise<void>) => Promise<void>): void {
  program
    .command('doctor')
    .description('check Milvus, the embedding model and the chat endpoint; exit 1 if something needed is missing')
    .option('--model <name>', 'chat model to check (env RAGOSS_MODEL)')
    .option('--base-url <url>', 'chat endpoint to check (env RAGOSS_BASE_URL)')
    .action(async (flags: CommonFlags & ChatFlags) => {
      await run(flags, async ({ env, signal, stdout }) => {
        const config = resolveCommonConfig(flags, env);
        const milvus = await checkMilvus(config, signal);
        const embedding = checkEmbedding(config, milvus.report.collections.find((info) => info.name === config.collection));
        const chat = await checkChat(flags, config, signal);
        const checks = [...milvus.checks, embedding.check, chat.check];
        const healthy = checks.every((check) => check.status !== 'fail');
        if (config.json) {
          stdout.write(`${JSON.stringify({ ok: healthy, milvus: milvus.report, embedding: embedding.report, chat: chat.report, checks })}\n`);
        } else {
          for (const check of checks) {
            stdout.write(`${MARK[check.status]}  ${check.name.padEnd(10)} ${check.detail}${check.fix ? `\n      ${''.padEnd(10)} fix: ${check.fix}` : ''}\n`);
          }
        }
        if (!healthy) throw new RagossError('doctor found problems (see above)', undefined, ExitCode.failure);
      });
    });
}
