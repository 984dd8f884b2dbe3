import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { RETRIEVAL_MODES, type RetrievalMode } from '../store/store.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import type { ChatConfig, EmbeddingSettings } from '../engine/settings.js';
import type { Engine, OperationContext, RerankSettings } from '../engine/engine.js';
import { RagossError, firstLine, problemAndFix, redact } from '../errors.js';
import { silentProgress } from '../progress.js';
import { linkLabel } from '../corpus/links.js';
import { groundingJson, hitJson, hitJsonSchema, hitPlace, hitPlaceSchema, probeRefusalWords, shownScore } from '../engine/hit-json.js';
import { REFUSAL_SIGNALS, THRESHOLD_SOURCES, type Grounding } from '../pipeline/grounding.js';
import type { RankedHit } from '../pipeline/retrieve.js';
import type { ContextPassage } from '../pipeline/context.js';

export interface McpDefaults {
  collection: string;
  embeddingModel: string | undefined;
  /** How questions are embedded: the MCP server's own settings, carried with each request. */
  embedding: EmbeddingSettings;
  topK: number;
  mode: RetrievalMode | undefined;
  chat: ChatConfig;
  minScore: number | undefined;
  linkTemplate: string | undefined;
  /** The rerank stage the server was started with (RAGOSS_RERANK); agents do not choose one. */
  rerank: RerankSettings | undefined;
  /** Never shown to the client (keys, tokens). */
  secrets: readonly string[];
}

const modeSchema = z.enum(RETRIEVAL_MODES).optional().describe('retrieval: dense (embeddings), bm25 (exact terms) or hybrid (both); default: hybrid for whole-docs (markdown) collections, else dense');
const topKSchema = z.number().int().min(1).max(50).optional().describe('how many chunks to retrieve (default 3)');
const groundingSchema = {
  grounded: z.boolean().describe('false: no passage comes close to the question; the docs do not seem to cover it'),
  similarity: z.number().nullable().describe("the best passage's dense similarity to the question"),
  threshold: z.number().nullable().describe('what the similarity had to reach (null: no threshold for this model)'),
  thresholdSource: z.enum(THRESHOLD_SOURCES).describe("where the threshold came from: the server's min score, the collection's calibrated line, the model's default, or none"),
  nearestProbe: z
    .object({ question: z.string(), similarity: z.number() })
    .nullable()
    .describe("the closest of ragoss's questions about other subjects, and its similarity (read beside a collection's calibrated line; else null)"),
  refusedBy: z.enum(REFUSAL_SIGNALS).nullable().describe('which signal refused the question: similarity (below the line) or nearest probe (nearer a question about something else than any passage); null: not refused'),
};

/** A passage the context builder sent, as a source: numbered as the prompt numbers it, scored as its best hit. */
function passageHit(passage: ContextPassage, index: number, hits: readonly RankedHit[]): RankedHit {
  const best = hits[passage.rank - 1];
  return {
    rank: index + 1,
    score: best?.score ?? 0,
    ...(best?.rerankScore === undefined ? {} : { rerankScore: best.rerankScore }),
    source: passage.source,
    chunkIndex: passage.chunks[0] ?? 0,
    text: passage.text,
    heading: passage.heading,
    line: passage.line,
    ...(passage.url === undefined ? {} : { url: passage.url }),
  };
}

function placeLine(hit: RankedHit): string {
  return `[${hit.rank}] ${hit.url === undefined ? '' : `${linkLabel(hit.url, hit.line)} `}(${hit.source} #${hit.chunkIndex}, score ${shownScore(hit.score, 4)})`;
}

function notCoveredText(result: Grounding & { hits: RankedHit[] }): string {
  const similarity =
    result.similarity === null
      ? 'no passage at all'
      : (probeRefusalWords(result) ?? `best similarity ${shownScore(result.similarity, 3)}${result.threshold === null ? '' : ` < ${result.threshold.toFixed(3)}`}`);
  return `The Milvus docs do not seem to cover this question (${similarity}). Nearest passages:\n${result.hits.map(placeLine).join('\n')}`;
}

/** A tool failure the agent can read and act on: one line, message then fix; never a crash of the server. */
function toolError(error: unknown, secrets: readonly string[]): CallToolResult {
  const text = error instanceof RagossError ? problemAndFix(error) : `unexpected error: ${firstLine(error)}`;
  return { isError: true, content: [{ type: 'text', text: redact(text, secrets) }] };
}

function context(signal: AbortSignal): OperationContext {
  return { progress: silentProgress, signal };
}

/**
 * The docs for MCP clients (Claude Desktop, Cursor, agents): tools `search`, `ask` and `get`, and the
 * collections as a resource, all answered by the same engine every ragoss entry point uses.
 */
export function createMcpServer(engine: Engine, defaults: McpDefaults, version: string): McpServer {
  const server = new McpServer({ name: 'ragoss', version });
  const target = { collection: defaults.collection, embeddingModel: defaults.embeddingModel, embedding: defaults.embedding };
  const answerDefaults = { ...(defaults.minScore === undefined ? {} : { minScore: defaults.minScore }), ...(defaults.linkTemplate === undefined ? {} : { linkTemplate: defaults.linkTemplate }), ...(defaults.rerank === undefined ? {} : { rerank: defaults.rerank }) };

  server.registerTool(
    'search',
    {
      title: 'Search the Milvus docs',
      description:
        'Retrieve the passages of the Milvus documentation closest to a question (no LLM). Returns ranked chunks with their source file, chunk index, heading, link, score and text, and whether the docs seem to cover the question at all (grounded). Read more around a hit with the get tool.',
      inputSchema: { question: z.string().min(1).describe('the question, in plain words'), top_k: topKSchema, mode: modeSchema },
      outputSchema: { question: z.string(), mode: z.enum(RETRIEVAL_MODES), ...groundingSchema, hits: z.array(hitJsonSchema) },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ question, top_k, mode }, extra) => {
      try {
        const result = await engine.search({ ...target, question: question.trim(), topK: top_k ?? defaults.topK, mode: mode ?? defaults.mode, ...answerDefaults }, context(extra.signal));
        const listing = result.hits.map((hit) => `${placeLine(hit)}\n${hit.text.trim()}`).join('\n\n');
        const text = result.grounded ? listing || 'no results' : `${notCoveredText(result)}\n\n${listing}`;
        return { content: [{ type: 'text', text }], structuredContent: { question: result.question, mode: result.mode, ...groundingJson(result), hits: result.hits.map(hitJson) } };
      } catch (error) {
        return toolError(error, defaults.secrets);
      }
    },
  );

  server.registerTool(
    'ask',
    {
      title: 'Ask the Milvus docs',
      description:
        'Answer a question from the Milvus documentation: retrieves the closest passages and has gpt-oss answer from them. Returns the answer and its sources with links. When the docs do not seem to cover the question (grounded: false), the model is not asked unless force is true.',
      inputSchema: {
        question: z.string().min(1).describe('the question, in plain words'),
        top_k: topKSchema,
        mode: modeSchema,
        cite: z.boolean().optional().describe('number the passages and have the answer cite them as [n]'),
        force: z.boolean().optional().describe('ask the model even when the docs do not seem to cover the question'),
      },
      outputSchema: { answer: z.string(), model: z.string(), answered: z.boolean(), ...groundingSchema, sources: z.array(hitPlaceSchema), cited: z.array(z.number()).optional() },
      annotations: { readOnlyHint: true, openWorldHint: true },
    },
    async ({ question, top_k, mode, cite, force }, extra) => {
      try {
        // top_k also caps the hits the context builder reads on a whole-docs collection, as --top-k does.
        const contextCap = top_k === undefined ? {} : { context: { maxHits: top_k } };
        const request = { ...target, question: question.trim(), topK: top_k ?? defaults.topK, mode: mode ?? defaults.mode, chat: defaults.chat, ...answerDefaults, ...contextCap, cite: cite === true, force: force === true };
        const result = await engine.ask(request, context(extra.signal));
        // The sources are what the model was sent: the context builder's passages, or the hits.
        const sent = result.context === undefined ? result.hits : result.context.passages.map((passage, index) => passageHit(passage, index, result.hits));
        const sources = sent.map(hitPlace);
        const structuredContent = { answer: result.answer, model: result.model, answered: result.answered, ...groundingJson(result), sources, ...(result.cited === undefined ? {} : { cited: result.cited }) };
        const listing = sent.map((hit) => `  ${placeLine(hit)}`).join('\n');
        const text = result.answered ? `${result.answer.trim()}\n\nSources:\n${listing}` : `${notCoveredText(result)}\n(pass force: true to ask the model anyway)`;
        return { content: [{ type: 'text', text }], structuredContent };
      } catch (error) {
        return toolError(error, defaults.secrets);
      }
    },
  );

  server.registerTool(
    'get',
    {
      title: 'Read a page of the Milvus docs',
      description:
        'Read a page of the Milvus documentation, one section of it, or one chunk, exactly as the docs have it: pass a source (and chunk index) from search or ask, or a link they returned, optionally a heading for just that section.',
      inputSchema: {
        source: z.string().min(1).describe('a source as search returns it (en/faq/product_faq.md), its file name, or a link search returned'),
        heading: z.string().optional().describe("only this section (a heading's text or anchor), subsections included"),
        chunk: z.number().int().min(0).optional().describe("only this chunk of the page (a hit's chunkIndex from search)"),
      },
      outputSchema: { source: z.string(), scope: z.enum(['page', 'section', 'chunk']), heading: z.string().optional(), chunk: z.number().optional(), line: z.number(), url: z.string().optional(), text: z.string() },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    async ({ source, heading, chunk }, extra) => {
      try {
        if (heading !== undefined && chunk !== undefined) throw new RagossError('pass heading or chunk, not both');
        const request = { collection: defaults.collection, source: source.trim(), ...(heading === undefined ? {} : { heading }), ...(chunk === undefined ? {} : { chunk }), ...(defaults.linkTemplate === undefined ? {} : { linkTemplate: defaults.linkTemplate }) };
        const { collection: _collection, ...result } = await engine.get(request, context(extra.signal));
        return { content: [{ type: 'text', text: result.text }], structuredContent: result };
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
