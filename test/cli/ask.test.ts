import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
// In-process through the CLI's entry (see runInProcess); what needs a process of its own spawns it.
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { cleanErrorLine } from '../helpers/errors.js';
import { DEFAULT_REPLY, chatRequests, messagesOf, startChatServer, type ChatServer, type Scenario } from '../helpers/chat-server.js';
import { binPath, faqZip, fullZip, projectRoot, tinyModel } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { backendIndependent } from '../helpers/backend.js';
import { DEFAULT_CONTEXT_HITS, DEFAULT_CONTEXT_TOKENS } from '../../src/pipeline/context.js';

const QUESTION = 'How is data stored in milvus?';
const MODEL = 'openai/gpt-oss-20b';
const SECRET = 'sk-test-SECRET123';
// The seed tutorial's prompts, written out so a drift in the CLI's wording fails here.
const SEED_SYSTEM =
  'Human: You are an AI assistant. You are able to find answers to the questions from the contextual passage snippets provided.';
const seedUser = (context: string, question: string) =>
  `Use the following pieces of information enclosed in <context> tags to provide an answer to the question enclosed in <question> tags.\n<context>\n${context}\n</context>\n<question>\n${question}\n</question>`;

interface JsonHit {
  url: string;
  rank: number;
  score: number;
  text: string;
  source: string;
  chunkIndex: number;
}


/** Exactly one JSON object on stdout, nothing else. */
function singleJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split('\n').filter((line) => line !== '');
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('ragoss ask end to end: real Milvus, local OpenRouter-style chat server', () => {
  const milvusUri = inject('milvusUri');
  const collection = uniqueCollection('ask_test');
  const store = ['--milvus-uri', milvusUri, '--collection', collection];
  let server: ChatServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startChatServer();
    env = baseEnv({ RAGOSS_HOME: tempHome() });
    const ingest = await runInProcess(['ingest', '--source', faqZip, ...store, '--embedding-model', tinyModel], env);
    expect(ingest.code, ingest.stderr).toBe(0);
  });
  afterAll(async () => {
    await server.close();
  });

  function use(scenario: Scenario): void {
    server.setScenario(scenario);
    server.requests.length = 0;
  }

  const ask = (extra: string[], runEnv = env) => runInProcess(['ask', QUESTION, '--base-url', server.baseUrl, '--model', MODEL, ...store, ...extra], runEnv);

  it('sends the seed prompt with the chunks search retrieves and prints the answer with sources', async () => {
    const search = await runInProcess(['search', QUESTION, ...store, '--json'], env);
    expect(search.code, search.stderr).toBe(0);
    const hits = singleJson(search.stdout)['hits'] as JsonHit[];
    expect(hits).toHaveLength(3);

    use({ kind: 'ok' });
    const result = await ask([]);
    expect(result.code, result.stderr).toBe(0);
    const requests = chatRequests(server);
    expect(requests).toHaveLength(1);
    const [system, user] = messagesOf(requests[0]!);
    expect(system).toEqual({ role: 'system', content: SEED_SYSTEM });
    expect(user?.role).toBe('user');
    for (const hit of hits) expect(user?.content).toContain(hit.text);
    expect(user?.content).toBe(seedUser(hits.map((hit) => hit.text).join('\n'), QUESTION));
    expect(requests[0]?.body).toMatchObject({ model: MODEL, stream: true });

    expect(result.stdout.startsWith(DEFAULT_REPLY.answer)).toBe(true);
    expect(result.stdout).toContain('\nSources:\n');
    // Each source: its link on milvus.io (the FAQ zip is the release asset), then file, chunk and score.
    for (const hit of hits) expect(result.stdout).toContain(`[${hit.rank}] ${hit.url} (${hit.source} #${hit.chunkIndex}, score `);
    expect(result.stdout).not.toContain(DEFAULT_REPLY.reasoning);
    expect(result.stderr).not.toContain(DEFAULT_REPLY.reasoning);
  });

  backendIndependent('--show-reasoning puts the reasoning on stderr, never on stdout', async () => {
    use({ kind: 'ok' });
    const result = await ask(['--show-reasoning']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain(`reasoning: ${DEFAULT_REPLY.reasoning}`);
    expect(result.stdout).not.toContain(DEFAULT_REPLY.reasoning);
    expect(result.stdout.startsWith(DEFAULT_REPLY.answer)).toBe(true);
  });

  backendIndependent('--json prints exactly one object with the answer, reasoning and hits', async () => {
    use({ kind: 'ok', reasoningField: 'reasoning_content' });
    const result = await ask(['--json']);
    expect(result.code, result.stderr).toBe(0);
    const output = singleJson(result.stdout);
    expect(Object.keys(output).sort()).toEqual(['answer', 'answered', 'grounded', 'hits', 'model', 'nearestProbe', 'question', 'reasoning', 'refusedBy', 'similarity', 'threshold', 'thresholdSource']);
    expect(output).toMatchObject({ question: QUESTION, answer: DEFAULT_REPLY.answer, reasoning: DEFAULT_REPLY.reasoning, model: MODEL });
    const hits = output['hits'] as JsonHit[];
    expect(hits.map((hit) => hit.rank)).toEqual([1, 2, 3]);
    for (const hit of hits) {
      expect(typeof hit.score).toBe('number');
      expect(hit.text).not.toBe('');
      expect(hit.source).toMatch(/^en\/faq\/.+\.md$/);
    }
  });

  backendIndependent('refuses the default OpenRouter endpoint without a key, before any work (exit 2)', async () => {
    use({ kind: 'ok' });
    // A collection that does not exist: were the key check skipped, retrieval would stop with
    // exit 3 before anything could be sent to openrouter.ai.
    const absent = ['ask', QUESTION, '--milvus-uri', milvusUri, '--collection', uniqueCollection('absent')];
    const line = cleanErrorLine(await runInProcess(absent, env), 2);
    expect(line).toContain('https://openrouter.ai/api/v1 needs an API key');
    expect(line).toContain('OPENROUTER_API_KEY');
    // With a key the same command goes on to retrieval and stops there: the exit 2 above came
    // from the key check, before Milvus was asked anything.
    const keyed = await runInProcess(absent, { ...env, OPENROUTER_API_KEY: 'sk-or-test-key' });
    expect(cleanErrorLine(keyed, 3)).toMatch(/collection absent_\w+ not found/);
  });

  backendIndependent('exits 1 with one error line on a 401', async () => {
    use({ kind: 'status', status: 401 });
    const line = cleanErrorLine(await ask([]), 1);
    expect(line).toContain('refused the API key (HTTP 401)');
    expect(chatRequests(server)).toHaveLength(1);
  });

  backendIndependent('exits 1 and points at --max-tokens when reasoning eats the token budget', async () => {
    use({ kind: 'length' });
    const line = cleanErrorLine(await ask(['--max-tokens', '64']), 1);
    expect(line).toContain('token budget');
    expect(line).toContain('--max-tokens');
    expect(chatRequests(server)[0]?.body).toMatchObject({ max_tokens: 64 });
  });

  backendIndependent('never prints the API key, even with --verbose and a 401 that quotes it', async () => {
    const keyed = { ...env, OPENAI_API_KEY: SECRET };
    use({ kind: 'status', status: 401, echoAuthorization: true });
    const refused = await ask(['--verbose'], keyed);
    expect(refused.code).toBe(1);
    // The key did go out and came back in the error body: the redaction is what keeps it hidden.
    expect(chatRequests(server)[0]?.headers['authorization']).toBe(`Bearer ${SECRET}`);
    expect(refused.stderr).toContain('Bearer ***');
    use({ kind: 'ok' });
    const answered = await ask(['--verbose', '--show-reasoning'], keyed);
    expect(answered.code, answered.stderr).toBe(0);
    for (const output of [refused.stdout, refused.stderr, answered.stdout, answered.stderr]) expect(output).not.toContain('SECRET123');
  });

  backendIndependent('rejects an empty question (exit 2) without calling the endpoint', async () => {
    use({ kind: 'ok' });
    const result = await runInProcess(['ask', '  ', '--base-url', server.baseUrl, ...store], env);
    expect(cleanErrorLine(result, 2)).toContain('the question is empty');
    expect(server.requests).toHaveLength(0);
  });

  backendIndependent('Ctrl-C while the answer streams exits 130 promptly, without printing sources', async () => {
    use({ kind: 'stall' });
    const child = spawn(process.execPath, [binPath, 'ask', QUESTION, '--base-url', server.baseUrl, '--model', MODEL, ...store], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let interruptedAt = 0;
    child.stdout.on('data', (data: Buffer) => {
      stdout += data.toString();
      if (interruptedAt === 0) {
        interruptedAt = Date.now();
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
    expect(code).toBe(130);
    expect(Date.now() - interruptedAt).toBeLessThan(5_000);
    expect(stdout).not.toContain('Sources:');
  });
});

interface JsonPassage {
  rank: number;
  source: string;
  heading: string;
  line: number;
  lineEnd: number;
  chunks: number[];
  tokens: number;
  url?: string;
}

interface JsonContext {
  budget: number;
  tokens: number;
  promptTokens: number;
  passages: JsonPassage[];
}

describe('ask on the whole docs: the context builder fills a token budget', () => {
  const milvusUri = inject('milvusUri');
  const docs = uniqueCollection('ask_context');
  const faq = uniqueCollection('ask_context_faq');
  let server: ChatServer;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startChatServer();
    env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: milvusUri, RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_BASE_URL: server.baseUrl });
    const [markdown, seed] = await Promise.all([
      runInProcess(['ingest', '--source', fullZip, '--glob', 'en/userGuide/manage-*.md', '--chunker', 'markdown', '--collection', docs], env),
      runInProcess(['ingest', '--source', faqZip, '--collection', faq], env),
    ]);
    expect(markdown.code, markdown.stderr).toBe(0);
    expect(seed.code, seed.stderr).toBe(0);
  });
  afterAll(async () => server.close());

  const askJson = async (args: string[]) => {
    server.requests.length = 0;
    const result = await runInProcess(['ask', QUESTION, '--json', '--force', ...args], env);
    expect(result.code, result.stderr).toBe(0);
    const answer = singleJson(result.stdout) as { hits: JsonHit[]; context?: JsonContext; cited?: number[] };
    const [, user] = messagesOf(chatRequests(server)[0]!);
    return { answer, prompt: user?.content ?? '' };
  };

  backendIndependent('sends sections, not the top 3 chunks, within the budget, and says what it sent', async () => {
    const { answer, prompt } = await askJson(['--collection', docs]);
    const context = answer.context as JsonContext;
    expect(context.budget).toBe(DEFAULT_CONTEXT_TOKENS);
    expect(context.passages.length).toBeGreaterThan(0);
    expect(context.tokens).toBeLessThanOrEqual(DEFAULT_CONTEXT_TOKENS);
    expect(context.promptTokens).toBeGreaterThan(context.tokens);
    // Up to twenty hits were read: more than the seed's three.
    expect(answer.hits.length).toBe(DEFAULT_CONTEXT_HITS);
    const sentChunks = context.passages.flatMap((passage) => passage.chunks.map((chunk) => `${passage.source}#${chunk}`));
    expect(new Set(sentChunks).size).toBe(sentChunks.length);
    for (const passage of context.passages) {
      expect(passage.lineEnd).toBeGreaterThanOrEqual(passage.line);
      expect(passage.chunks).toEqual([...passage.chunks].sort((a, b) => a - b));
      expect(passage.url).toMatch(/^https:\/\/milvus\.io\/docs\//);
      if (passage.heading !== '') expect(prompt).toContain(passage.heading);
    }
    // The seed prompt's words around the passages.
    expect(prompt.startsWith('Use the following pieces of information enclosed in <context> tags')).toBe(true);
    // The best hit's chunk is in the first passage.
    const best = answer.hits[0] as JsonHit;
    expect(context.passages[0]).toMatchObject({ source: best.source, rank: 1 });
    expect(context.passages[0]?.chunks).toContain(best.chunkIndex);
  });

  backendIndependent('--cite numbers the passages as they are sent, and the sources list maps [n] to them', async () => {
    server.setScenario({ kind: 'ok', answer: 'Set a TTL on the collection [2], as the guide shows [1][9].' });
    const { answer, prompt } = await askJson(['--collection', docs, '--cite']);
    const context = answer.context as JsonContext;
    const { cited } = answer;
    expect(context.passages.length).toBeGreaterThanOrEqual(2);
    context.passages.forEach((_passage, index) => expect(prompt).toContain(`[${index + 1}] `));
    expect(prompt).not.toContain(`[${context.passages.length + 1}] `);
    expect(cited).toEqual([2, 1, ...(context.passages.length >= 9 ? [9] : [])]);
    const text = await runInProcess(['ask', QUESTION, '--force', '--cite', '--collection', docs], env);
    expect(text.stdout).toContain('Sources (sent as context):\n  [1] https://milvus.io/docs/');
    expect(text.stdout.match(/^ {2}\[\d+\] /gm)).toHaveLength(context.passages.length);
    server.setScenario({ kind: 'ok' });
  });

  backendIndependent('eval reports the context recall at the budget beside recall@k; on the FAQ, of the top k', async () => {
    const questions = join(tempHome(), 'questions.jsonl');
    writeFileSync(questions, `${JSON.stringify({ question: 'how do I make entities expire after a week?', gold: [{ source: 'en/userGuide/manage-collections.md', heading: 'Set TTL' }] })}\n`);
    const evalDocs = await runInProcess(['eval', questions, '--collection', docs, '--json', '--context-tokens', '1200'], env);
    expect(evalDocs.code, evalDocs.stderr).toBe(0);
    const report = singleJson(evalDocs.stdout) as { recallAtK: number; context: { recall: number; medianPromptChars: number }; contextBudget: { tokens: number; maxHits: number } };
    expect(report.contextBudget).toEqual({ tokens: 1200, maxHits: DEFAULT_CONTEXT_HITS });
    expect(report.context.recall).toBeGreaterThanOrEqual(report.recallAtK);
    expect(report.context.medianPromptChars).toBeGreaterThan(0);
    const text = await runInProcess(['eval', questions, '--collection', docs], env);
    expect(text.stdout).toMatch(new RegExp(`\\ncontext +[01]\\.\\d{3} recall in what ask sends \\(${DEFAULT_CONTEXT_TOKENS} tokens from the top ${DEFAULT_CONTEXT_HITS}; median prompt \\d+ characters\\)\\n`));
    const faqQuestions = join(tempHome(), 'faq.jsonl');
    writeFileSync(faqQuestions, `${JSON.stringify({ question: QUESTION, expected: ['Where does Milvus store data?'] })}\n`);
    const evalFaq = singleJson((await runInProcess(['eval', faqQuestions, '--collection', faq, '--json'], env)).stdout) as { recallAtK: number; context: { recall: number }; contextBudget?: unknown };
    expect(evalFaq.contextBudget).toBeUndefined();
    expect(evalFaq.context.recall).toBe(evalFaq.recallAtK);
  });

  backendIndependent('MCP ask lists the passages the model was sent as its sources; top_k caps the hits', async () => {
    const transport = new StdioClientTransport({ command: process.execPath, args: [binPath, 'mcp'], env: { ...env, RAGOSS_COLLECTION: docs }, cwd: projectRoot, stderr: 'ignore' });
    const client = new Client({ name: 'ragoss-test', version: '1.0.0' });
    await client.connect(transport);
    try {
      const cli = (await askJson(['--collection', docs])).answer.context as JsonContext;
      const asked = await client.callTool({ name: 'ask', arguments: { question: QUESTION, force: true } });
      expect(asked.isError, JSON.stringify(asked.content)).toBeFalsy();
      const sources = (asked.structuredContent as { sources: Array<{ rank: number; source: string; line: number }> }).sources;
      expect(sources.map((source) => `${source.source}:${source.line}`)).toEqual(cli.passages.map((passage) => `${passage.source}:${passage.line}`));
      expect(sources.map((source) => source.rank)).toEqual(cli.passages.map((_passage, index) => index + 1));
      const capped = await client.callTool({ name: 'ask', arguments: { question: QUESTION, force: true, top_k: 1 } });
      const cappedSources = (capped.structuredContent as { sources: Array<{ source: string }> }).sources;
      expect(cappedSources.length).toBeGreaterThan(0);
      expect(new Set(cappedSources.map((source) => source.source)).size).toBe(1);
    } finally {
      await client.close();
    }
  });

  backendIndependent('--top-k caps the hits and --context-tokens the budget; the FAQ keeps its top 3 unless asked', async () => {
    const one = (await askJson(['--collection', docs, '--top-k', '1'])).answer.context as JsonContext;
    expect(new Set(one.passages.map((passage) => passage.rank))).toEqual(new Set([1]));
    const small = (await askJson(['--collection', docs, '--context-tokens', '150'])).answer.context as JsonContext;
    expect(small.budget).toBe(150);
    expect(small.tokens).toBeLessThanOrEqual(150);
    const seed = await askJson(['--collection', faq]);
    expect(seed.answer.context).toBeUndefined();
    expect(seed.answer.hits).toHaveLength(3);
    const asked = (await askJson(['--collection', faq, '--context-tokens', '400'])).answer.context as JsonContext;
    expect(asked.budget).toBe(400);
    expect(asked.passages.length).toBeGreaterThan(0);
  });
});
