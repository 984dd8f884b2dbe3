import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../src/system.js';
import { runCli, tempHome } from '../helpers/cli.js';
import { startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';
import { binPath, faqZip, projectRoot } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { health, serviceEnv, spawnCli, stopServices, type LiveCli } from '../helpers/service.js';

const QUESTION = 'How is data stored in milvus?';
const TOKEN = 'tok-hit-shape-123456';

type Json = Record<string, unknown>;

/** POSTs a JSON body to the service's TCP port and reads a JSON answer. */
function post(port: number, path: string, body: Json): Promise<{ status: number; body: Json }> {
  return new Promise((resolvePost, rejectPost) => {
    const call = request({ host: '127.0.0.1', port, method: 'POST', path, headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${TOKEN}` } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolvePost({ status: response.statusCode ?? 0, body: JSON.parse(text) as Json }));
    });
    call.on('error', rejectPost);
    call.end(JSON.stringify(body));
  });
}

/**
 * One hit shape (src/engine/hit-json.ts): the same question read through `search --json` (in-process
 * and through the service), the HTTP API and the MCP tool gives the same hits, key for key and value
 * for value. With a reranker, so `rerankScore` is among them, and links, so `url`, `heading`, `line`.
 */
describe('a hit has one shape on the CLI, the HTTP API and MCP', () => {
  let models: ModelServer;
  let chat: ChatServer;
  let home: string;
  let env: Record<string, string>;
  let inProcess: Record<string, string>;
  let port: number;
  let serve: LiveCli;
  let mcp: Client;

  beforeAll(async () => {
    [models, chat] = await Promise.all([startModelServer(), startChatServer()]);
    home = tempHome();
    env = serviceEnv(home, {
      MILVUS_URI: inject('milvusUri'),
      RAGOSS_COLLECTION: uniqueCollection('shape'),
      RAGOSS_RERANK: `${models.url}/rerank`,
      RAGOSS_RERANK_TIMEOUT: '60',
      RAGOSS_BASE_URL: chat.baseUrl,
      RAGOSS_SERVE_TOKEN: TOKEN,
    });
    inProcess = { ...env, RAGOSS_DAEMON: '0' };
    const ingest = await runCli(['ingest', '-q', '--source', faqZip], inProcess);
    expect(ingest.code, ingest.stderr).toBe(0);
    port = await freePort();
    serve = spawnCli(['serve', '--port', String(port)], env);
    const transport = new StdioClientTransport({ command: process.execPath, args: [binPath, 'mcp', '-q'], env: inProcess, cwd: projectRoot, stderr: 'ignore' });
    mcp = new Client({ name: 'ragoss-hit-shape', version: '1.0.0' });
    await Promise.all([serve.waitForStderr('serving on'), mcp.connect(transport)]);
  });
  afterAll(async () => {
    await mcp?.close();
    await stopServices(home, env);
    await Promise.all([models?.close(), chat?.close()]);
  });

  it('search: `search --json`, POST /v1/search and the MCP search tool give deep-equal hits', async () => {
    const before = (await health(home))?.requestsServed ?? 0;
    const [cli, served, http, tool] = await Promise.all([
      runCli(['search', QUESTION, '--json'], inProcess),
      // The CLI through the running service: the hits it reads off the wire, printed again.
      runCli(['search', QUESTION, '--json'], env),
      post(port, '/v1/search', { question: QUESTION }),
      mcp.callTool({ name: 'search', arguments: { question: QUESTION } }),
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(served.code, served.stderr).toBe(0);
    expect(http.status, JSON.stringify(http.body)).toBe(200);
    expect(tool.isError).toBeFalsy();
    expect((await health(home))?.requestsServed).toBe(before + 2);

    const hits = (JSON.parse(cli.stdout) as { hits: Json[] }).hits;
    expect(hits).toHaveLength(3);
    // Every field a hit can have is here: reranked, linked, placed in its file.
    for (const hit of hits) expect(Object.keys(hit)).toEqual(['rank', 'score', 'text', 'source', 'chunkIndex', 'heading', 'line', 'url', 'rerankScore']);
    expect(hits.map((hit) => hit['score'])).toEqual(hits.map((hit) => Number((hit['score'] as number).toFixed(6))));
    expect((JSON.parse(served.stdout) as { hits: Json[] }).hits).toEqual(hits);
    expect(http.body['hits']).toEqual(hits);
    expect((tool.structuredContent as { hits: Json[] }).hits).toEqual(hits);

    // The verdict beside them reads the same too.
    const verdict = (body: Json) => [body['grounded'], body['similarity'], body['threshold'], body['thresholdSource']];
    const expected = verdict(JSON.parse(cli.stdout) as Json);
    expect(verdict(http.body)).toEqual(expected);
    expect(verdict(tool.structuredContent as Json)).toEqual(expected);
  });

  it('ask: `ask --json` and POST /v1/ask give the same hits, and MCP ask lists them as its sources, without their text', async () => {
    const [cli, http, tool] = await Promise.all([
      runCli(['ask', QUESTION, '--json'], inProcess),
      post(port, '/v1/ask', { question: QUESTION }),
      mcp.callTool({ name: 'ask', arguments: { question: QUESTION } }),
    ]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(http.status, JSON.stringify(http.body)).toBe(200);
    expect(tool.isError).toBeFalsy();
    const hits = (JSON.parse(cli.stdout) as { hits: Json[] }).hits;
    expect(hits).toHaveLength(3);
    expect(http.body['hits']).toEqual(hits);
    // The FAQ's seed prompt sends the hits themselves: they are ask's sources.
    expect((tool.structuredContent as { sources: Json[] }).sources).toEqual(hits.map(({ text: _text, ...place }) => place));
  });
});
