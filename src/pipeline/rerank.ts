import { errorMessage } from '../errors.js';
import type { Reranker } from '../rerank/reranker.js';
import type { RankedHit } from './retrieve.js';

export interface Reranked {
  /** The top K: in the reranker's order, or the fused order when it could not answer in time. */
  hits: RankedHit[];
  /** Why the fused order was kept (timed out, server error); undefined when reranked. */
  fallback?: string;
}

/**
 * Reorders retrieved candidates by a reranker's scores (ties keep the retrieval order) and keeps
 * the top K. Past `budgetMs`, or on any failure of the reranker, the retrieval order stands: a
 * second stage may improve an answer but never costs one.
 */
export async function rerankHits(question: string, candidates: readonly RankedHit[], reranker: Reranker, options: { topK: number; budgetMs: number; signal: AbortSignal }): Promise<Reranked> {
  const fused = (fallback?: string): Reranked => ({ hits: candidates.slice(0, options.topK), ...(fallback === undefined ? {} : { fallback }) });
  options.signal.throwIfAborted();
  if (candidates.length === 0) return fused();
  const budget = AbortSignal.timeout(options.budgetMs);
  let scores: number[];
  try {
    scores = await withBudget(reranker.score(question, candidates.map((hit) => hit.text), AbortSignal.any([options.signal, budget])), budget);
  } catch (error) {
    options.signal.throwIfAborted();
    return fused(budget.aborted ? `${reranker.name} did not answer within ${options.budgetMs / 1000}s` : errorMessage(error));
  }
  options.signal.throwIfAborted();
  const order = candidates.map((hit, index) => ({ hit, score: scores[index] as number, index }));
  order.sort((a, b) => b.score - a.score || a.index - b.index);
  const hits = order.slice(0, options.topK).map(({ hit, score }, index) => ({ ...hit, rank: index + 1, ...(Number.isFinite(score) ? { rerankScore: score } : {}) }));
  return { hits };
}

/** The work's result, or a rejection as soon as the budget runs out (a model call cannot be interrupted). */
function withBudget<T>(work: Promise<T>, budget: AbortSignal): Promise<T> {
  work.catch(() => undefined);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('over budget'));
    if (budget.aborted) onAbort();
    budget.addEventListener('abort', onAbort, { once: true });
    work.then(resolve, reject).finally(() => budget.removeEventListener('abort', onAbort));
  });
}
