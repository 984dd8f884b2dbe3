import type { Embedder } from './embedder.js';

/**
 * Question vectors kept for an engine's life, so an evaluation embeds each question once, in
 * batches, however many retrieval modes it compares. Bounded: the oldest go first.
 */
export class QueryVectors {
  private readonly vectors = new Map<string, Float32Array>();

  constructor(private readonly capacity = 10_000) {}

  async embed(embedder: Embedder, questions: readonly string[]): Promise<Float32Array[]> {
    const keyOf = (question: string) => `${embedder.modelName}\u0000${embedder.dtype}\u0000${question}`;
    const missing = [...new Set(questions.filter((question) => !this.vectors.has(keyOf(question))))];
    const computed = new Map<string, Float32Array>();
    if (missing.length > 0) {
      const vectors = await embedder.embedQueries(missing);
      missing.forEach((question, index) => computed.set(question, vectors[index] as Float32Array));
    }
    const result = questions.map((question) => computed.get(question) ?? (this.vectors.get(keyOf(question)) as Float32Array));
    for (const [question, vector] of computed) this.remember(keyOf(question), vector);
    return result;
  }

  private remember(key: string, vector: Float32Array): void {
    this.vectors.delete(key);
    this.vectors.set(key, vector);
    while (this.vectors.size > this.capacity) {
      const oldest = this.vectors.keys().next().value as string;
      this.vectors.delete(oldest);
    }
  }
}
