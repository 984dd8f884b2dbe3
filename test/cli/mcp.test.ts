import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseEnv, runCli, tempHome } from '../helpers/cli.js';
import { DEFAULT_REPLY, chatRequests, messagesOf, startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { binPath, faqDir, faqZip, projectRoot, tinyModel } from '../helpers/paths.js';

const QUESTION = 'How is data stored in milvus?';

interface Hit {
  rank: number;
  score: number;
  source: string;
  chunkIndex: number;
  text: string;
}

describe('ragoss mcp, driven by the MCP SDK’s own client over stdio', () => {
  const milvusUri = inject('milvusUri');
  const collection = `mcp_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6)}`;
  let chat: ChatServer;
  let env: Record<string, string>;
  let client: Client;
  let stderr = '';

  beforeAll(async () => {
    chat = await startChatServer();
    env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: milvusUri, RAGOSS_COLLECTION: collection, RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_BASE_URL: chat.baseUrl });
    const ingest = await runCli(['ingest', '--source', faqZip], env);
    expect(ingest.code, ingest.stderr).toBe(0);
    const transport = new StdioClientTransport({ command: process.execPath, args: [binPath, 'mcp'], env, cwd: projectRoot, stderr: 'pipe' });
    transport.stderr?.on('data', (data: Buffer) => (stderr += data.toString()));
    client = new Client({ name: 'ragoss-test', version: '1.0.0' });
    // Anything but protocol on stdout would break this handshake and every call after it.
    await client.connect(transport);
  });
  afterAll(async () => {
    await client?.close();
    await chat.close();
  });

  it('lists the search, ask and get tools with their input schemas', async () => {
    const { tools } = await client.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    expect([...byName.keys()].sort()).toEqual(['ask', 'get', 'search']);
    for (const name of ['ask', 'search']) expect(byName.get(name)?.inputSchema.required).toEqual(['question']);
    expect(Object.keys(byName.get('search')?.inputSchema.properties ?? {}).sort()).toEqual(['mode', 'question', 'top_k']);
    expect(Object.keys(byName.get('ask')?.inputSchema.properties ?? {}).sort()).toEqual(['cite', 'force', 'mode', 'question', 'top_k']);
    expect(byName.get('get')?.inputSchema.required).toEqual(['source']);
    expect(Object.keys(byName.get('get')?.inputSchema.properties ?? {}).sort()).toEqual(['chunk', 'heading', 'source']);
  });

  it('search carries links and grounding; get reads the page or section around a hit, exactly as the file has it', async () => {
    const result = await client.callTool({ name: 'search', arguments: { question: QUESTION } });
    const structured = result.structuredContent as { grounded: boolean; threshold: number | null; similarity: number; hits: Array<Hit & { url: string; heading: string }> };
    // The suite's RAGOSS_MIN_SCORE=-1 (see baseEnv): the synthetic model's own line would flag at random.
    expect(structured).toMatchObject({ grounded: true, threshold: -1 });
    const [top] = structured.hits;
    expect(top?.url).toMatch(/^https:\/\/milvus\.io\/docs\/v2\.4\.x\/[\w-]+\.md/);
    const page = await client.callTool({ name: 'get', arguments: { source: top?.source } });
    expect(page.isError).toBeFalsy();
    expect((page.structuredContent as { text: string }).text).toBe(readFileSync(join(faqDir, top?.source ?? ''), 'utf8'));
    const section = await client.callTool({ name: 'get', arguments: { source: top?.url } });
    expect(section.structuredContent).toMatchObject({ source: top?.source, scope: 'section', heading: top?.heading });
    const missing = await client.callTool({ name: 'get', arguments: { source: 'nope.md' } });
    expect(missing.isError).toBe(true);
    expect((missing.content as Array<{ text: string }>)[0]?.text).toMatch(/^no page "nope\.md" in the collection — /);
  });

  it('ask returns "not covered" as a normal result, without calling the model, when the question is below the threshold', async () => {
    const strictTransport = new StdioClientTransport({ command: process.execPath, args: [binPath, 'mcp', '-q'], env: { ...env, RAGOSS_MIN_SCORE: '1' }, cwd: projectRoot, stderr: 'pipe' });
    const strict = new Client({ name: 'ragoss-test-strict', version: '1.0.0' });
    await strict.connect(strictTransport);
    try {
      chat.requests.length = 0;
      const result = await strict.callTool({ name: 'ask', arguments: { question: QUESTION } });
      expect(result.isError).toBeFalsy();
      expect(result.structuredContent).toMatchObject({ answered: false, answer: '', grounded: false, threshold: 1 });
      expect((result.content as Array<{ text: string }>)[0]?.text).toMatch(/^The Milvus docs do not seem to cover this question \(best similarity 0\.\d{3} < 1\.000\)\. Nearest passages:\n\[1\] https:/);
      expect(chatRequests(chat)).toHaveLength(0);
      const forced = await strict.callTool({ name: 'ask', arguments: { question: QUESTION, force: true } });
      expect(forced.structuredContent).toMatchObject({ answered: true, grounded: false });
      expect(chatRequests(chat)).toHaveLength(1);
    } finally {
      await strict.close();
    }
  });

  it('search returns the hits `ragoss search --json` returns, in the same order', async () => {
    const result = await client.callTool({ name: 'search', arguments: { question: QUESTION } });
    expect(result.isError).toBeFalsy();
    const { mode, hits } = result.structuredContent as { mode: string; hits: Hit[] };
    expect(mode).toBe('dense');
    expect(hits).toHaveLength(3);
    const cli = await runCli(['search', QUESTION, '--json'], env);
    const expected = (JSON.parse(cli.stdout) as { hits: Array<{ source: string; chunkIndex: number; text: string; score: number }> }).hits;
    expect(hits.map((hit) => [hit.source, hit.chunkIndex, hit.text])).toEqual(expected.map((hit) => [hit.source, hit.chunkIndex, hit.text]));
    expect(hits.map((hit) => hit.score)).toEqual(expected.map((hit) => hit.score));
    // A chosen mode reaches the engine: bm25 ranks by terms, with BM25 scores, not cosines.
    const bm25 = await client.callTool({ name: 'search', arguments: { question: QUESTION, mode: 'bm25' } });
    expect((bm25.structuredContent as { mode: string }).mode).toBe('bm25');
    const text = (result.content as Array<{ type: string; text: string }>)[0]?.text ?? '';
    expect(text).toContain(`(${hits[0]?.source} #${hits[0]?.chunkIndex}, score `);
    const fewer = await client.callTool({ name: 'search', arguments: { question: QUESTION, top_k: 1 } });
    expect((fewer.structuredContent as { hits: Hit[] }).hits).toHaveLength(1);
  });

  it('ask answers from the chat endpoint with the retrieved chunks as context, and lists the sources', async () => {
    chat.requests.length = 0;
    const result = await client.callTool({ name: 'ask', arguments: { question: QUESTION } });
    expect(result.isError).toBeFalsy();
    const structured = result.structuredContent as { answer: string; model: string; sources: Array<{ source: string; chunkIndex: number }> };
    expect(structured.answer).toBe(DEFAULT_REPLY.answer);
    expect(structured.sources).toHaveLength(3);
    const [request] = chatRequests(chat);
    const user = messagesOf(request!).find((message) => message.role === 'user')?.content ?? '';
    const search = await client.callTool({ name: 'search', arguments: { question: QUESTION } });
    for (const hit of (search.structuredContent as { hits: Hit[] }).hits) expect(user).toContain(hit.text);
    expect((result.content as Array<{ text: string }>)[0]?.text).toMatch(new RegExp(`^${DEFAULT_REPLY.answer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n\\nSources:\\n  \\[1\\] `));
  });

  it('reports the collections as a resource', async () => {
    const { resources } = await client.listResources();
    expect(resources.map((resource) => resource.uri)).toContain('ragoss://collections');
    const read = await client.readResource({ uri: 'ragoss://collections' });
    const listing = JSON.parse((read.contents[0] as { text: string }).text) as Array<{ name: string; rowCount: number; embeddingModel: string }>;
    expect(listing.find((entry) => entry.name === collection)).toEqual({ name: collection, rowCount: 72, embeddingModel: tinyModel, dimension: 768 });
  });

  it('a failing tool comes back as a one-line tool error, and the server keeps answering', async () => {
    chat.setScenario({ kind: 'status', status: 500, message: 'upstream exploded' });
    const failed = await client.callTool({ name: 'ask', arguments: { question: QUESTION } });
    expect(failed.isError).toBe(true);
    const text = (failed.content as Array<{ text: string }>)[0]?.text ?? '';
    expect(text.split('\n')).toHaveLength(1);
    expect(text).toMatch(/500/);
    chat.setScenario({ kind: 'ok' });
    const again = await client.callTool({ name: 'search', arguments: { question: QUESTION } });
    expect(again.isError).toBeFalsy();
    expect(stderr).not.toMatch(/^\s+at /m);
  });
});
