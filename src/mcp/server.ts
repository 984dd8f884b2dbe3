import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { RETRIEVAL_MODES, type RetrievalMode } from '../store/store.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ChatConfig } from '../config.js';
import type { Engine, OperationContext } from '../engine/engine.js';
import { RagossError, errorMessage, redact } from '../errors.js';
import { silentProgress } from '../progress.js';

export interface McpDefaults {
  collection: string;
  embeddingModel: string | undefined;
  topK: number;
  mode: RetrievalMode | undefined;
  chat: ChatConfig;
  /** Never shown to the client (keys, tokens). */
  secrets: readonly string[];
}

const modeSchema = z.enum(RETRIEVAL_MODES).optional().describe('retrieval: dense (embeddings), bm25 (exact terms) or hybrid (both); default: hybrid for whole-docs (markdown) collections, else dense');
const topKSchema = z.number().int().min(1).max(50).optional().describe('how many chunks to retrieve (default 3)');
const hitSchema = z.object({ rank: z.number(), score: z.number(), source: z.string(), chunk_index: z.number(), text: z.string() });
const sourceSchema = z.object({ rank: z.number(), score: z.number(), source: z.string(), chunk_index: z.number() });

/** A tool failure the agent can read and act on: one line, message then fix; never a crash of the server. */
function toolError(error: unknown, secrets: readonly string[]): CallToolResult {
  const text = error instanceof RagossError ? `${error.message}${error.hint ? ` — ${error.hint}` : ''}` : `unexpected error: ${errorMessage(error).split('\n')[0]}`;
  return { isError: true, content: [{ type: 'text', text: redact(text, secrets) }] };
}

function context(signal: AbortSignal): OperationContext {
  return { progress: silentProgress, signal };
}

/**
 * The docs for MCP clients (Claude Desktop, Cursor, agents): tools `search` and `ask`, and the
 * collections as a resource, all answered by the same engine every ragoss entry point uses.
 */
export function createMcpServer(engine: Engine, defaults: McpDefaults, version: string): McpServer {
  const server = new McpServer({ name: 'ragoss', version });
  const target = { collection: defaults.collection, embeddingModel: defaults.embeddingModel };

  server.registerTool(
    'search',
    {
      title: 'Search the Milvus docs',
      description: 'Retrieve the passages of the Milvus documentation closest to a question (no LLM). Returns ranked chunks with their source file, chunk index, score and text.',
      inputSchema: { question: z.string().min(1).describe('the question, in plain words'), top_k: topKSchema, mode: modeSchema },
      outputSchema: { question: z.string(), mode: z.enum(RETRIEVAL_MODES), hits: z.array(hitSchema) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ question, top_k, mode }, extra) => {
      try {
        const result = await engine.search({ ...target, question: question.trim(), topK: top_k ?? defaults.topK, mode: mode ?? defaults.mode }, context(extra.signal));
        const hits = result.hits.map((hit) => ({ rank: hit.rank, score: Number(hit.score.toFixed(6)), source: hit.source, chunk_index: hit.chunkIndex, text: hit.text }));
        const text = hits.map((hit) => `[${hit.rank}] ${hit.source} #${hit.chunk_index} (score ${hit.score.toFixed(4)})\n${hit.text.trim()}`).join('\n\n');
        return { content: [{ type: 'text', text: text || 'no results' }], structuredContent: { question: result.question, mode: result.mode, hits } };
      } catch (error) {
        return toolError(error, defaults.secrets);
      }
    },
  );

  server.registerTool(
    'ask',
    {
      title: 'Ask the Milvus docs',
      description: 'Answer a question from the Milvus documentation: retrieves the closest passages and has gpt-oss answer from them. Returns the answer and its sources.',
      inputSchema: { question: z.string().min(1).describe('the question, in plain words'), top_k: topKSchema, mode: modeSchema },
      outputSchema: { answer: z.string(), model: z.string(), sources: z.array(sourceSchema) },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async ({ question, top_k, mode }, extra) => {
      try {
        const result = await engine.ask({ ...target, question: question.trim(), topK: top_k ?? defaults.topK, mode: mode ?? defaults.mode, chat: defaults.chat }, context(extra.signal));
        const sources = result.hits.map((hit) => ({ rank: hit.rank, score: Number(hit.score.toFixed(6)), source: hit.source, chunk_index: hit.chunkIndex }));
        const listing = sources.map((source) => `  [${source.rank}] ${source.source} #${source.chunk_index} (score ${source.score.toFixed(4)})`).join('\n');
        return { content: [{ type: 'text', text: `${result.answer.trim()}\n\nSources:\n${listing}` }], structuredContent: { answer: result.answer, model: result.model, sources } };
      } catch (error) {
        return toolError(error, defaults.secrets);
      }
    },
  );

  server.registerResource(
    'collections',
    'ragoss://collections',
    { title: 'ragoss collections', description: 'The ingested collections: name, rows, embedding model and dimension', mimeType: 'application/json' },
    async (uri, extra) => {
      const collections = await engine.collections(context(extra.signal));
      const listing = collections.map(({ name, rowCount, embeddingModel, dimension }) => ({ name, rowCount, embeddingModel, dimension }));
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(listing) }] };
    },
  );
  return server;
}
