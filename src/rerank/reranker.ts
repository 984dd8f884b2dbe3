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

/** The rerank stage: which reranker, over how many candidates, within how long. */
export interface RerankSettings {
  /** A /rerank endpoint's URL, or the name of a cross-encoder model run here (found like the embedding model). */
  target: string;
  /** The model name a /rerank endpoint is sent (Cohere and Jina need one). */
  model?: string;
  /** How the endpoint is spoken to (see RerankFormat). */
  format: RerankFormat;
  /** The endpoint's key; travels with the request like the chat key. */
  apiKey?: string;
  /** The retrieved top N the reranker reorders; the top K of its order are returned. */
  candidates: number;
  /** After this long the retrieval order stands (with one warning). */
  budgetMs: number;
}
