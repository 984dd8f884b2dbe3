/** Reads a question and each passage together and scores how well the passage answers it. */
export interface Reranker {
  /** What it is, for messages: the endpoint's URL or the model's name. */
  readonly name: string;
  /** One score per passage, in the passages' order; higher is more relevant. */
  score(question: string, passages: readonly string[], signal: AbortSignal): Promise<number[]>;
  close(): Promise<void>;
}

/**
 * Which request a /rerank endpoint takes. cohere: `{query, documents}` answered by
 * `{results: [{index, relevance_score}]}` (Cohere, Jina, Infinity, vLLM); tei: `{query, texts}`
 * answered by `[{index, score}]` (Text Embeddings Inference); auto: both fields at once, the
 * answer's shape tells which (servers ignore the field they do not know).
 */
export type RerankFormat = 'auto' | 'cohere' | 'tei';
export const RERANK_FORMATS: readonly RerankFormat[] = ['auto', 'cohere', 'tei'];
