import type { Embedder } from '../embedder/embedder.js';
import type { SearchHit, VectorStore } from '../store/store.js';

export interface RankedHit extends SearchHit {
  rank: number;
}

export async function retrieve(question: string, embedder: Embedder, store: VectorStore, collection: string, topK: number): Promise<RankedHit[]> {
  const vector = await embedder.embedQuery(question);
  const hits = await store.search(collection, vector, topK);
  return hits.map((hit, index) => ({ rank: index + 1, ...hit }));
}
