import type { AskResult, Engine, IngestResult, SearchResult } from '../../src/engine/engine.js';
import type { RankedHit } from '../../src/pipeline/retrieve.js';

/**
 * An `Engine` with canned results and no Milvus, model or chat server behind it, handed to the CLI
 * through `main`'s io (`runWithEngine`): for what is about options, formatting, exit codes and
 * `--json` shapes. What only the real parts show stays with the tests that run them.
 */
export class FakeEngine implements Engine {
  /** Every request, in order, by the method it came to. */
  readonly calls: Array<{ method: keyof Engine; request: unknown }> = [];
  closed = false;

  /** `answers`: what a method returns (or throws) in place of its canned result. */
  constructor(private readonly answers: Partial<{ [M in keyof Engine]: Engine[M] }> = {}) {}

  search: Engine['search'] = (request, context) => this.answer('search', request, () => this.answers.search?.(request, context) ?? cannedSearch(request.question));
  ask: Engine['ask'] = (request, context) => this.answer('ask', request, () => this.answers.ask?.(request, context) ?? cannedAsk(request.question));
  ingest: Engine['ingest'] = (request, context) => this.answer('ingest', request, () => this.answers.ingest?.(request, context) ?? cannedIngest(request.collection));
  get: Engine['get'] = (request, context) => this.answer('get', request, () => this.answers.get?.(request, context) ?? notCanned('get'));
  exportSnapshot: Engine['exportSnapshot'] = (request, context) => this.answer('exportSnapshot', request, () => this.answers.exportSnapshot?.(request, context) ?? notCanned('exportSnapshot'));
  evaluate: Engine['evaluate'] = (request, context) => this.answer('evaluate', request, () => this.answers.evaluate?.(request, context) ?? notCanned('evaluate'));
  calibrate: Engine['calibrate'] = (request, context) => this.answer('calibrate', request, () => this.answers.calibrate?.(request, context) ?? notCanned('calibrate'));
  doctor: Engine['doctor'] = (request, context) => this.answer('doctor', request, () => this.answers.doctor?.(request, context) ?? notCanned('doctor'));
  collections: Engine['collections'] = (context) => this.answer('collections', undefined, () => this.answers.collections?.(context) ?? Promise.resolve([]));

  async close(): Promise<void> {
    this.closed = true;
  }

  /** The requests that came to `method`. */
  requests<M extends keyof Engine>(method: M): unknown[] {
    return this.calls.filter((call) => call.method === method).map((call) => call.request);
  }

  private async answer<T>(method: keyof Engine, request: unknown, result: () => Promise<T>): Promise<T> {
    this.calls.push({ method, request });
    return result();
  }
}

function notCanned(method: string): Promise<never> {
  return Promise.reject(new Error(`FakeEngine has no canned ${method} result: pass one to its constructor`));
}

export const FAKE_HITS: readonly RankedHit[] = [
  { rank: 1, score: 0.8123456, text: 'Milvus is a vector database.', source: 'faq/overview.md', chunkIndex: 0, heading: '# Overview', line: 1 },
  { rank: 2, score: 0.7012345, text: 'Use an index to search faster.', source: 'faq/index.md', chunkIndex: 3, heading: '## Indexes', line: 12 },
];

export function cannedSearch(question: string, grounded = true): Promise<SearchResult> {
  return Promise.resolve({
    question,
    embeddingModel: 'fake-model',
    mode: 'dense',
    grounded,
    similarity: grounded ? 0.8123456 : 0.2,
    threshold: 0.5,
    thresholdSource: 'collection',
    nearestProbe: { question: 'how do I bake bread', similarity: 0.1 },
    refusedBy: grounded ? null : 'similarity',
    hits: [...FAKE_HITS],
  });
}

export function cannedAsk(question: string): Promise<AskResult> {
  return Promise.resolve({
    question,
    answer: 'Milvus is a vector database [1].',
    reasoning: 'The first passage says so.',
    model: 'fake-chat',
    answered: true,
    grounded: true,
    similarity: 0.8123456,
    threshold: 0.5,
    thresholdSource: 'collection',
    nearestProbe: { question: 'how do I bake bread', similarity: 0.1 },
    refusedBy: null,
    hits: [...FAKE_HITS],
  });
}

export function cannedIngest(collection: string): Promise<IngestResult> {
  return Promise.resolve({
    dryRun: false,
    source: 'docs/',
    files: 2,
    chunks: 5,
    collection,
    milvus: 'fake milvus',
    embeddingModel: 'fake-model',
    dimension: 4,
    chunker: 'markdown',
    fullText: true,
    embeddedChunks: 5,
    reusedChunks: 0,
    seconds: 1.5,
    embedSeconds: 1,
    insertSeconds: 0.5,
  });
}
