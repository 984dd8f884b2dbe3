import type { Embedder } from '../embedder/embedder.js';
import type { RetrievalMode, SearchHit, VectorStore } from '../store/store.js';

export interface RankedHit extends SearchHit {
  rank: number;
}

export interface RetrieveOptions {
  collection: string;
  topK: number;
  mode: RetrievalMode;
}

export async function retrieve(question: string, embedder: Embedder, store: VectorStore, options: RetrieveOptions): Promise<RankedHit[]> {
  // BM25 alone matches the question's terms: no need to run the model.
  const vector = options.mode === 'bm25' ? undefined : await embedder.embedQuery(question);
  const hits = await store.search(options.collection, { text: question, vector }, options.topK, options.mode);
  return hits.map((hit, index) => ({ rank: index + 1, ...hit }));
}
