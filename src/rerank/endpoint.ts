import { RagossError } from '../errors.js';
import { displayEndpoint, joinRoute, postJson } from '../remote/http.js';
import type { Reranker, RerankFormat } from './reranker.js';

export interface RerankEndpointOptions {
  /** The route itself (…/rerank, …/v2/rerank) or the API base, to which /rerank is added. */
  url: string;
  apiKey: string | undefined;
  /** Sent as `model` (Cohere and Jina need one; Infinity and vLLM pick by it when serving several). */
  model: string | undefined;
  format: RerankFormat;
}

/** A reranker on a server: Cohere/Jina-style or TEI-style /rerank, told apart by the answer's shape. */
export class EndpointReranker implements Reranker {
  readonly name: string;
  private readonly route: string;

  constructor(private readonly options: RerankEndpointOptions) {
    this.route = /\/rerank\/?$/.test(new URL(options.url).pathname) ? options.url : joinRoute(options.url, 'rerank');
    this.name = displayEndpoint(this.route);
  }

  async score(question: string, passages: readonly string[], signal: AbortSignal): Promise<number[]> {
    const { format, model } = this.options;
    const body = {
      ...(model === undefined ? {} : { model }),
      query: question,
      ...(format === 'tei' ? {} : { documents: passages, top_n: passages.length, return_documents: false }),
      ...(format === 'cohere' ? {} : { texts: passages, return_text: false, raw_scores: false }),
    };
    // The caller's budget is the timeout; a retry could not fit in it.
    const answer = await postJson({ what: 'rerank endpoint', url: this.route, apiKey: this.options.apiKey, timeoutMs: 3_600_000, maxRetries: 0, keyEnv: 'RAGOSS_RERANK_API_KEY', signal }, body);
    return parseRerankScores(answer, passages.length, this.name);
  }

  async close(): Promise<void> {
    // Nothing held between requests.
  }
}

/**
 * Scores by passage from either answer: Cohere-style `{results: [{index, relevance_score}]}` or
 * TEI-style `[{index, score}]`. A passage the server left out scores -Infinity (it keeps its
 * place after the scored ones).
 */
export function parseRerankScores(answer: unknown, count: number, where: string): number[] {
  const bad = (why: string) =>
    new RagossError(`rerank endpoint ${where} answered in a shape ragoss does not know (${why})`, 'it must answer {results: [{index, relevance_score}]} (Cohere, Jina, Infinity, vLLM) or [{index, score}] (TEI)');
  const entries = Array.isArray(answer) ? answer : (answer as { results?: unknown } | null)?.results;
  if (!Array.isArray(entries)) throw bad('no results list');
  const scores = new Array<number>(count).fill(Number.NEGATIVE_INFINITY);
  const seen = new Set<number>();
  for (const entry of entries as unknown[]) {
    const { index, relevance_score: relevance, score } = (entry ?? {}) as { index?: unknown; relevance_score?: unknown; score?: unknown };
    const value = relevance ?? score;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= count || seen.has(index)) throw bad(`index ${String(index)}`);
    if (typeof value !== 'number' || Number.isNaN(value)) throw bad(`score ${String(value)} for index ${index}`);
    seen.add(index);
    scores[index] = value;
  }
  return scores;
}
