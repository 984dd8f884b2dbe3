import type { Embedder } from '../embedder/embedder.js';
import type { RetrievalMode, SearchHit, VectorStore } from '../store/store.js';

export interface RankedHit extends SearchHit {
  rank: number;
  /** Where a reader can check the chunk (see corpus/links.ts); absent where ragoss cannot tell. */
  url?: string;
  /** The reranker's score, when a reranker ordered the hits (`score` stays the retrieval's). */
  rerankScore?: number;
}

export interface RetrieveOptions {
  collection: string;
  topK: number;
  mode: RetrievalMode;
}

export interface Retrieval {
  hits: RankedHit[];
  /** The best dense similarity to any chunk, whatever the mode: what the grounding check reads. */
  similarity: number | undefined;
}

export async function retrieve(question: string, embedder: Embedder, store: VectorStore, options: RetrieveOptions): Promise<Retrieval> {
  // Even BM25 alone embeds the question: the grounding check needs its dense similarity.
  return retrieveByVector(question, await embedder.embedQuery(question), store, options);
}

/** `retrieve` for a question already embedded (an evaluation embeds its questions in batches). */
export async function retrieveByVector(question: string, vector: Float32Array, store: VectorStore, options: RetrieveOptions): Promise<Retrieval> {
  const query = { text: question, vector };
  // Dense hits come best first; other modes rank by other scores, so one dense probe tells. It runs
  // beside the search, not after it.
  const [hits, probe] = await Promise.all([
    store.search(options.collection, query, options.topK, options.mode),
    options.mode === 'dense' ? undefined : store.search(options.collection, query, 1, 'dense'),
  ]);
  return { hits: hits.map((hit, index) => ({ rank: index + 1, ...hit })), similarity: (probe ?? hits)[0]?.score };
}
