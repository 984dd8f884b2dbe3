/** all-mpnet-base-v2 in its transformers.js ONNX export: 768 dims, the tutorial's model. */
export const DEFAULT_EMBEDDING_MODEL = 'Xenova/all-mpnet-base-v2';

/** Turns text into vectors; documents and queries may be embedded differently (prefixes). */
export interface Embedder {
  readonly modelName: string;
  /** Which weights of the model compute the vectors (fp32, q8, ...): vectors differ between them. Unknown for a server. */
  readonly dtype: string | undefined;
  /** The server that computes the vectors (its URL, no credentials); undefined: this process, locally. */
  readonly endpoint?: string;
  readonly dimension: number;
  /** `onEmbedded` hears the running count as model calls finish, for progress finer than the call. */
  embedDocuments(texts: readonly string[], onEmbedded?: (count: number) => void): Promise<Float32Array[]>;
  embedQuery(text: string): Promise<Float32Array>;
  /** Many questions at once, in batches: what an evaluation over a question set wants. */
  embedQueries(texts: readonly string[]): Promise<Float32Array[]>;
  /** Tokens the model would see for `text` before truncation, and how many it reads at most. */
  tokenBudget(text: string): { tokens: number; maxTokens: number };
  /** A local model's view with another batch size, sharing its weights (a server's batches are its own setting). */
  withBatchSize?(batchSize: number): Embedder;
  close(): Promise<void>;
}

/** The weights of a model transformers.js can run (its `dtype`): vectors differ between them. */
export type EmbeddingDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4';
export const EMBEDDING_DTYPES: readonly EmbeddingDtype[] = ['fp32', 'fp16', 'q8', 'int8', 'uint8', 'q4'];

/** The vector width a model's config.json promises (BERT-likes say hidden_size, others d_model or n_embd). */
export function configDimension(config: Record<string, unknown>): number | undefined {
  const dimension = config['hidden_size'] ?? config['d_model'] ?? config['n_embd'];
  return typeof dimension === 'number' && Number.isInteger(dimension) && dimension > 0 ? dimension : undefined;
}

export type Pooling = 'mean' | 'cls';

/** How a model family wants to be called; retrieval quality drops noticeably without its prefixes. */
export interface ModelProfile {
  pooling: Pooling;
  queryPrefix: string;
  documentPrefix: string;
}

const PROFILES: ReadonlyArray<{ match: RegExp; profile: ModelProfile }> = [
  { match: /bge-.*-en/i, profile: { pooling: 'cls', queryPrefix: 'Represent this sentence for searching relevant passages: ', documentPrefix: '' } },
  { match: /(^|\/)(multilingual-)?e5-/i, profile: { pooling: 'mean', queryPrefix: 'query: ', documentPrefix: 'passage: ' } },
  { match: /nomic-embed-text/i, profile: { pooling: 'mean', queryPrefix: 'search_query: ', documentPrefix: 'search_document: ' } },
];

const DEFAULT_PROFILE: ModelProfile = { pooling: 'mean', queryPrefix: '', documentPrefix: '' };

export function profileFor(modelName: string): ModelProfile {
  return PROFILES.find(({ match }) => match.test(modelName))?.profile ?? DEFAULT_PROFILE;
}
