import type { ReasoningEffort } from '../answerer/chat.js';
import type { EmbeddingDtype } from '../embedder/embedder.js';
import type { EmbeddingEndpointConfig } from '../embedder/endpoint.js';
import type { RetrievalMode } from '../store/store.js';
import type { MilvusLocation } from '../store/location.js';

/** How the engine embeds: a local model (where it comes from, its weights) or a server. */
export interface EmbeddingSettings {
  modelDir: string | undefined;
  cacheDir: string;
  offline: boolean;
  dtype: EmbeddingDtype;
  batchSize: number;
  /** A Hugging Face hub mirror (HF_ENDPOINT, as the Python hub client reads it). */
  hubEndpoint: string | undefined;
  /** Embed through this OpenAI-compatible server instead of a local model (--embedding-url). */
  url: string | undefined;
  /** How to talk to an embedding server: this one, or the one a collection was built through. */
  server: ServerEmbeddingSettings;
}

export type ServerEmbeddingSettings = Omit<EmbeddingEndpointConfig, 'url'>;

/** What an engine owns for its whole life: where Milvus lives and how models load. */
export interface EngineSettings {
  home: string;
  location: MilvusLocation;
  embedding: EmbeddingSettings;
  milvusTimeoutMs: number;
  milvusLiteExecutable: string | undefined;
  lockTimeoutMs: number;
  startTimeoutMs: number;
}

/** A chat endpoint and how to ask it: resolved once at the edge, carried with each request. */
export interface ChatConfig {
  baseUrl: string;
  model: string;
  apiKey: string | undefined;
  maxTokens: number | undefined;
  reasoningEffort: ReasoningEffort | undefined;
  timeoutMs: number;
  maxRetries: number;
}

/**
 * The mode when none is chosen follows the collection, as measured on both dev sets (docs/grounding-and-quality.md,
 * "Retrieval quality"): the tutorial's seed chunks of the FAQ rank best dense (recall@3 and MRR
 * 1.000; hybrid 0.967 MRR), the markdown chunks of the whole docs best hybrid (recall@3 0.933
 * against 0.800 dense). Hybrid needs the collection's full-text index.
 */
export function defaultMode(collection: { chunker: string; fullText: boolean }): RetrievalMode {
  return collection.chunker === 'markdown' && collection.fullText ? 'hybrid' : 'dense';
}
