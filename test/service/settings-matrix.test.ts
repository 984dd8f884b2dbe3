import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, tempHome, type CliResult } from '../helpers/cli.js';
import { chatRequests, startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';
import { binPath, faqZip, milvusLiteExecutable, modelsDir, projectRoot, tinyModel } from '../helpers/paths.js';
import { dataDirOf, health, recordedPid, serviceEnv, servicesFor, stopServices } from '../helpers/service.js';

/**
 * Every setting a user can pass, on the path users take: the embedded default with the service
 * that the first command starts (no RAGOSS_DAEMON, no CI). Each row runs search and ask twice with
 * the setting, then once with it changed: every command answers as documented, through the one
 * service (never a fall-back to in-process work that would wait on the service's data lock), with
 * no warning it does not need.
 */
const QUESTION = 'How is data stored in milvus?';
const KEY = 'sk-matrix-embedding-key';
const SERVER_COLLECTION = 'matrix_server';

interface Run {
  args?: string[];
  env?: Record<string, string>;
}

interface Row {
  name: string;
  /** The setting, for search and ask alike. */
  setting: Run;
  /** Flags only ask has (the chat endpoint's). */
  askArgs?: string[];
  /** Ingest with the setting first (settings that decide how a collection is built). */
  ingest?: boolean;
  /** What the setting must show in search --json (and in what the servers received). */
  check?: (search: SearchJson) => void;
  checkAsk?: (ask: AskJson) => void;
  /** The same command with the setting changed: its exit code, and what stderr or the answer says. */
  changed: Run & { command?: 'search' | 'ask'; code: number; stderr?: string | RegExp; check?: (search: SearchJson) => void };
}

interface SearchJson {
  mode: string;
  grounded: boolean;
  hits: Array<{ source: string; url?: string }>;
  rerank?: { by: string; candidates: number };
}

interface AskJson {
  answered: boolean;
  model: string;
}

let home: string;
let env: Record<string, string>;
let chat: ChatServer;
let otherChat: ChatServer;
let embeddings: ModelServer;
let otherEmbeddings: ModelServer;
let linkedModels: string;
let linkedMilvusLite: string;

/** The lines a command printed that are warnings (none is needed anywhere in this file). */
function warnings(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.includes('warning:'));
}

/** The question embedded by a server since `before` (not the probe that learns the model's width). */
function questionsSince(server: ModelServer, before: number): ModelServer['requests'] {
  return server.requests.slice(before).filter((request) => request.route === '/embeddings' && JSON.stringify(request.body['input']).includes(QUESTION));
}

const rows: Row[] = [
  {
    name: '--collection',
    setting: { args: ['--collection', 'matrix_other'] },
    ingest: true,
    changed: { args: ['--collection', 'never_ingested'], code: 3, stderr: 'collection never_ingested not found' },
  },
  {
    name: '--embedding-model (the collection\'s own, then another)',
    setting: { args: ['--embedding-model', tinyModel] },
    changed: { args: ['--embedding-model', 'Xenova/all-mpnet-base-v2'], code: 2, stderr: `was built with ${tinyModel}, not Xenova/all-mpnet-base-v2` },
  },
  {
    name: '--embedding-url with RAGOSS_EMBEDDING_API_KEY (questions go to the server, with the key)',
    setting: { args: ['--collection', SERVER_COLLECTION, '--embedding-url', ''], env: { RAGOSS_EMBEDDING_API_KEY: KEY } },
    ingest: true,
    changed: { args: ['--collection', SERVER_COLLECTION, '--embedding-url', 'OTHER_EMBEDDINGS'], env: { RAGOSS_EMBEDDING_API_KEY: KEY }, code: 0 },
  },
  {
    name: 'embedding server options (RAGOSS_EMBEDDING_DIMENSIONS, _BATCH, _CONCURRENCY, _TIMEOUT, _RETRIES, _MAX_TOKENS)',
    setting: {
      args: ['--collection', SERVER_COLLECTION],
      env: { RAGOSS_EMBEDDING_API_KEY: KEY, RAGOSS_EMBEDDING_DIMENSIONS: '768', RAGOSS_EMBEDDING_BATCH: '4', RAGOSS_EMBEDDING_CONCURRENCY: '1', RAGOSS_EMBEDDING_TIMEOUT: '30', RAGOSS_EMBEDDING_RETRIES: '0', RAGOSS_EMBEDDING_MAX_TOKENS: '256' },
    },
    changed: { args: ['--collection', SERVER_COLLECTION], env: { RAGOSS_EMBEDDING_API_KEY: 'sk-wrong' }, code: 1, stderr: 'refused the API key (HTTP 401)' },
  },
  {
    name: '--model-dir',
    setting: { args: ['--model-dir', ''] },
    changed: { args: ['--model-dir', '/nonexistent-models'], code: 1, stderr: 'is not in /nonexistent-models' },
  },
  {
    name: '--offline / RAGOSS_OFFLINE',
    setting: { args: ['--offline'] },
    changed: { env: { RAGOSS_OFFLINE: '0' }, code: 0 },
  },
  {
    name: 'RAGOSS_EMBEDDING_DTYPE',
    setting: { env: { RAGOSS_EMBEDDING_DTYPE: 'q8' } },
    changed: { env: { RAGOSS_EMBEDDING_DTYPE: 'fp16' }, code: 1, stderr: /model_fp16\.onnx/ },
  },
  {
    name: 'RAGOSS_EMBEDDING_BATCH and HF_ENDPOINT (local model)',
    setting: { env: { RAGOSS_EMBEDDING_BATCH: '4', HF_ENDPOINT: 'http://127.0.0.1:9' } },
    changed: { env: { RAGOSS_EMBEDDING_BATCH: '64' }, code: 0 },
  },
  {
    name: '--top-k / RAGOSS_TOP_K',
    setting: { args: ['--top-k', '2'] },
    check: (search) => expect(search.hits).toHaveLength(2),
    changed: { env: { RAGOSS_TOP_K: '1' }, code: 0, check: (search) => expect(search.hits).toHaveLength(1) },
  },
  {
    name: '--mode / RAGOSS_MODE',
    setting: { args: ['--mode', 'bm25'] },
    check: (search) => expect(search.mode).toBe('bm25'),
    changed: { env: { RAGOSS_MODE: 'hybrid' }, code: 0, check: (search) => expect(search.mode).toBe('hybrid') },
  },
  {
    name: '--min-score / RAGOSS_MIN_SCORE',
    setting: { args: ['--min-score', '-1'] },
    check: (search) => expect(search.grounded).toBe(true),
    changed: { command: 'ask', env: { RAGOSS_MIN_SCORE: '1' }, code: 4, stderr: 'the docs do not seem to cover this question' },
  },
  {
    name: '--link-template / RAGOSS_LINK_TEMPLATE',
    setting: { args: ['--link-template', 'https://docs.example.test/{name}'] },
    check: (search) => expect(search.hits[0]?.url).toMatch(/^https:\/\/docs\.example\.test\/\w+\.md/),
    changed: { env: { RAGOSS_LINK_TEMPLATE: 'none' }, code: 0, check: (search) => expect(search.hits[0]?.url).toBeUndefined() },
  },
  {
    name: '--rerank, --rerank-candidates, --rerank-timeout (and RAGOSS_RERANK_*)',
    setting: { args: ['--rerank', 'RERANK_URL', '--rerank-candidates', '5', '--rerank-timeout', '30'], env: { RAGOSS_RERANK_FORMAT: 'tei', RAGOSS_RERANK_API_KEY: KEY } },
    check: (search) => expect(search.rerank).toMatchObject({ candidates: 5 }),
    changed: { args: ['--rerank', 'none'], code: 0, check: (search) => expect(search.rerank).toBeUndefined() },
  },
  {
    name: 'ask: --model, --max-tokens, --reasoning-effort, --timeout',
    setting: {},
    askArgs: ['--model', 'openai/gpt-oss-120b', '--max-tokens', '900', '--reasoning-effort', 'low', '--timeout', '30'],
    checkAsk: (ask) => expect(ask.model).toBe('openai/gpt-oss-120b'),
    changed: { command: 'ask', env: { RAGOSS_REASONING_EFFORT: 'loud' }, code: 2, stderr: 'must be low, medium or high' },
  },
  {
    name: '--base-url / RAGOSS_BASE_URL',
    setting: {},
    askArgs: ['--base-url', 'OTHER_CHAT'],
    changed: { command: 'ask', args: ['--base-url', 'http://127.0.0.1:9/v1'], code: 1, stderr: 'cannot reach chat endpoint' },
  },
  {
    name: 'RAGOSS_LOCK_TIMEOUT and RAGOSS_START_TIMEOUT',
    setting: { env: { RAGOSS_LOCK_TIMEOUT: '30', RAGOSS_START_TIMEOUT: '90' } },
    changed: { env: { RAGOSS_LOCK_TIMEOUT: '0' }, code: 2, stderr: 'RAGOSS_LOCK_TIMEOUT must be a whole number of 1 or more' },
  },
  // Settings that are the process's: an idle auto-started service is restarted with them, in seconds.
  {
    name: 'RAGOSS_MILVUS_TIMEOUT (restarts the idle service)',
    setting: { env: { RAGOSS_MILVUS_TIMEOUT: '20' } },
    changed: { env: { RAGOSS_MILVUS_TIMEOUT: '10' }, code: 0 },
  },
  {
    name: 'RAGOSS_MILVUS_LITE (restarts the idle service)',
    setting: { env: { RAGOSS_MILVUS_LITE: 'LINKED_MILVUS_LITE' } },
    changed: { env: {}, code: 0 },
  },
  {
    name: '--milvus-uri (the default data named, then other data)',
    setting: { args: ['--milvus-uri', 'HOME_MILVUS'] },
    changed: { args: ['--milvus-uri', 'OTHER_MILVUS'], code: 3, stderr: 'not found' },
  },
];

/** A row's placeholders filled with this run's servers and paths. */
function fill(run: Run): { args: string[]; env: Record<string, string> } {
  const values: Record<string, string> = {
    RERANK_URL: `${embeddings.url}/rerank`,
    OTHER_EMBEDDINGS: otherEmbeddings.url,
    OTHER_CHAT: otherChat.baseUrl,
    LINKED_MILVUS_LITE: linkedMilvusLite,
    HOME_MILVUS: dataDirOf(home),
    OTHER_MILVUS: join(home, 'other-milvus'),
  };
  const args = [...(run.args ?? [])].map((arg, index, all) => {
    if (all[index - 1] === '--embedding-url' && arg === '') return embeddings.url;
    if (all[index - 1] === '--model-dir' && arg === '') return linkedModels;
    return values[arg] ?? arg;
  });
  const filled = Object.fromEntries(Object.entries(run.env ?? {}).map(([name, value]) => [name, values[value] ?? value]));
  return { args, env: { ...env, ...filled } };
}

describe('every setting through the auto-started service on the embedded default', () => {
  beforeAll(async () => {
    [chat, otherChat, embeddings, otherEmbeddings] = await Promise.all([startChatServer(), startChatServer(), startModelServer({ apiKey: KEY }), startModelServer({ apiKey: KEY })]);
    home = tempHome();
    // The same model and Milvus Lite reached by other paths: other settings, the same weights and program.
    linkedModels = join(home, 'linked-models');
    symlinkSync(modelsDir, linkedModels);
    mkdirSync(join(home, 'bin'));
    linkedMilvusLite = join(home, 'bin', 'milvus-lite');
    symlinkSync(milvusLiteExecutable(), linkedMilvusLite);
    env = serviceEnv(home, { RAGOSS_BASE_URL: chat.baseUrl });
    const ingest = await runCli(['ingest', '--source', faqZip], env);
    expect(ingest.code, ingest.stderr).toBe(0);
    expect(warnings(ingest)).toEqual([]);
    expect((await health(home))?.autoStarted).toBe(true);
  });

  afterAll(async () => {
    await stopServices(home, env);
    await Promise.all([chat, otherChat, embeddings, otherEmbeddings].map((server) => server?.close()));
  });

  it.each(rows)('$name', async (row) => {
    const { args, env: rowEnv } = fill(row.setting);
    const embeddedBefore = embeddings.requests.length;
    if (row.ingest === true) {
      const ingest = await runCli(['ingest', '--source', faqZip, ...args], rowEnv);
      expect(ingest.code, ingest.stderr).toBe(0);
      expect(warnings(ingest)).toEqual([]);
    }
    const askedBefore = chatRequests(chat).length + chatRequests(otherChat).length;
    for (let round = 0; round < 2; round++) {
      const search = await runCli(['search', QUESTION, '--json', ...args], rowEnv);
      expect(search.code, search.stderr).toBe(0);
      expect(warnings(search)).toEqual([]);
      row.check?.(JSON.parse(search.stdout) as SearchJson);
      const ask = await runCli(['ask', QUESTION, '--json', ...args, ...fill({ args: row.askArgs }).args], rowEnv);
      expect(ask.code, ask.stderr).toBe(0);
      expect(warnings(ask)).toEqual([]);
      const answer = JSON.parse(ask.stdout) as AskJson;
      expect(answer.answered).toBe(true);
      row.checkAsk?.(answer);
    }
    // Two asks reached a chat endpoint: the one the setting names, or the default.
    expect(chatRequests(chat).length + chatRequests(otherChat).length - askedBefore).toBe(2);
    // Every command went through the one service: none fell back in-process.
    const service = await health(home);
    expect(servicesFor(home)).toEqual([service?.pid]);
    if (row.name.startsWith('--embedding-url') || row.name.startsWith('embedding server options')) {
      // The questions went to the server, with the key (and the options it is sent).
      const questions = questionsSince(embeddings, embeddedBefore);
      expect(questions).toHaveLength(4);
      expect(questions.every((request) => request.authorization === `Bearer ${KEY}`)).toBe(true);
      if (row.name.startsWith('embedding server options')) expect(questions.every((request) => request.body['dimensions'] === 768)).toBe(true);
    }
    const otherBefore = otherEmbeddings.requests.length;

    const changed = fill(row.changed);
    const changedRun = await runCli([row.changed.command ?? 'search', QUESTION, '--json', ...changed.args], changed.env);
    expect(changedRun.code, changedRun.stderr).toBe(row.changed.code);
    expect(warnings(changedRun)).toEqual([]);
    if (row.changed.stderr !== undefined) expect(changedRun.stderr).toMatch(row.changed.stderr);
    if (row.changed.code !== 0) expect(changedRun.stderr.trim().split('\n')).toHaveLength(1);
    if (row.changed.check !== undefined) row.changed.check(JSON.parse(changedRun.stdout) as SearchJson);
    expect(servicesFor(home)).toHaveLength(1);
    // The changed server was the one asked.
    if (row.name.startsWith('--embedding-url')) expect(questionsSince(otherEmbeddings, otherBefore)).toHaveLength(1);
  });

  it('the service honours a request\'s embedding server even when another command started it with none', async () => {
    await stopServices(home, env);
    expect((await runCli(['search', QUESTION], env)).code).toBe(0);
    const before = otherEmbeddings.requests.length;
    const search = await runCli(['search', QUESTION, '--json', '--collection', SERVER_COLLECTION, '--embedding-url', otherEmbeddings.url], { ...env, RAGOSS_EMBEDDING_API_KEY: KEY });
    expect(search.code, search.stderr).toBe(0);
    expect(warnings(search)).toEqual([]);
    expect(questionsSince(otherEmbeddings, before)).toHaveLength(1);
  });

  it('doctor answers through the service in seconds, whatever its flags, and names a differing setting in a warn line', async () => {
    expect((await runCli(['search', QUESTION], env)).code).toBe(0);
    const pid = recordedPid(home);
    const plain = await runCli(['doctor', '--json'], env);
    const report = JSON.parse(plain.stdout) as { checks: Array<{ name: string; status: string; detail: string }>; embedding: { location: string } };
    expect(report.checks.find((check) => check.name === 'service')).toMatchObject({ status: 'ok' });
    expect(report.checks.find((check) => check.name === 'milvus')).toMatchObject({ status: 'ok' });
    // Per-request settings reach the checks made in the service: the model dir doctor was given.
    const flagged = await runCli(['doctor', '--json', '--model-dir', linkedModels], env);
    const flaggedReport = JSON.parse(flagged.stdout) as typeof report;
    expect(flaggedReport.embedding.location).toBe(join(linkedModels, tinyModel));
    // A per-process setting that differs: a warning line, not a failure after a wait.
    const started = Date.now();
    const differing = await runCli(['doctor'], { ...env, RAGOSS_MILVUS_TIMEOUT: '30', RAGOSS_LOCK_TIMEOUT: '120' });
    // The failure guarded against is a wait of RAGOSS_LOCK_TIMEOUT (120 s) on the data lock.
    expect(Date.now() - started).toBeLessThan(60_000);
    expect(differing.stdout).toMatch(new RegExp(`warn +service +pid ${pid} .*runs with other settings \\(milvusTimeoutMs\\): Milvus was checked through it`));
    expect(differing.stdout).toMatch(/ok +milvus +embedded /);
    expect(differing.stdout).not.toContain('FAIL');
    expect(recordedPid(home)).toBe(pid);
  });

  it('ragoss mcp with the settings in its environment answers through the same service', async () => {
    const pid = recordedPid(home);
    const before = embeddings.requests.length;
    const mcpEnv = { ...env, RAGOSS_COLLECTION: SERVER_COLLECTION, RAGOSS_EMBEDDING_URL: embeddings.url, RAGOSS_EMBEDDING_API_KEY: KEY, RAGOSS_TOP_K: '2', RAGOSS_LINK_TEMPLATE: 'https://docs.example.test/{name}' };
    const transport = new StdioClientTransport({ command: process.execPath, args: [binPath, 'mcp'], env: mcpEnv, cwd: projectRoot, stderr: 'pipe' });
    let stderr = '';
    transport.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    const client = new Client({ name: 'ragoss-matrix', version: '1.0.0' });
    await client.connect(transport);
    try {
      for (let round = 0; round < 2; round++) {
        const result = await client.callTool({ name: 'search', arguments: { question: QUESTION } });
        expect(result.isError, JSON.stringify(result.content)).toBeFalsy();
        const hits = (result.structuredContent as { hits: Array<{ url?: string }> }).hits;
        expect(hits).toHaveLength(2);
        expect(hits[0]?.url).toMatch(/^https:\/\/docs\.example\.test\//);
      }
      expect(questionsSince(embeddings, before)).toHaveLength(2);
      expect(recordedPid(home)).toBe(pid);
      expect(servicesFor(home)).toEqual([pid]);
    } finally {
      await client.close();
    }
    expect(stderr).not.toContain('warning:');
  });
});
