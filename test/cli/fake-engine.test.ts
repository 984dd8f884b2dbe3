import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ExitCode, RagossError } from '../../src/errors.js';
import { notIngestedError } from '../../src/store/store.js';
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { cannedSearch, FakeEngine, FAKE_HITS } from '../helpers/fake-engine.js';

// Options, output and exit codes against a FakeEngine: no Milvus, model or chat server runs here.
const env = baseEnv({ RAGOSS_HOME: tempHome() });

describe('the CLI over a FakeEngine', () => {
  it('search hands the engine its options and prints the hits, closing the engine after', async () => {
    const engine = new FakeEngine();
    const result = await runInProcess(['search', 'what is milvus', '--top-k', '2', '--mode', 'bm25', '--min-score', '0.4', '--collection', 'docs'], env, engine);
    expect(result.code).toBe(ExitCode.ok);
    expect(engine.requests('search')).toEqual([expect.objectContaining({ question: 'what is milvus', topK: 2, mode: 'bm25', minScore: 0.4, collection: 'docs' })]);
    for (const hit of FAKE_HITS) expect(result.stdout).toContain(hit.source);
    expect(engine.closed).toBe(true);
  });

  it('search --json is one JSON line with the question, the mode, the grounding and every hit', async () => {
    const result = await runInProcess(['search', 'what is milvus', '--json'], env, new FakeEngine());
    expect(result.code).toBe(ExitCode.ok);
    expect(result.stdout.trim().split('\n')).toHaveLength(1);
    const json = JSON.parse(result.stdout) as Record<string, unknown> & { hits: Array<Record<string, unknown>> };
    expect(json).toMatchObject({ question: 'what is milvus', mode: 'dense', grounded: true, threshold: 0.5, thresholdSource: 'collection' });
    expect(json.hits.map((hit) => hit['source'])).toEqual(FAKE_HITS.map((hit) => hit.source));
    expect(result.stderr).toBe('');
  });

  it('search off the docs still prints the hits, and notes it on stderr with exit 0', async () => {
    const engine = new FakeEngine({ search: (request) => cannedSearch(request.question, false) });
    const result = await runInProcess(['search', 'best pizza in town'], env, engine);
    expect(result.code).toBe(ExitCode.ok);
    expect(result.stdout).toContain(FAKE_HITS[0]?.source);
    expect(result.stderr).toMatch(/^note: the docs do not seem to cover this question/m);
  });

  it('an uningested collection exits 3 with its one-line error and hint', async () => {
    const engine = new FakeEngine({ search: () => Promise.reject(notIngestedError('docs', 'fake milvus')) });
    const result = await runInProcess(['search', 'q', '--collection', 'docs'], env, engine);
    expect(result.code).toBe(ExitCode.notIngested);
    expect(result.stderr).toMatch(/^ragoss: error: collection docs not found at fake milvus/);
    expect(result.stdout).toBe('');
  });

  it('an engine error keeps its exit code; an unexpected one exits 1 and points at --verbose', async () => {
    const refused = new FakeEngine({ ingest: () => Promise.reject(new RagossError('refused', 'do it otherwise', ExitCode.usage)) });
    expect((await runInProcess(['ingest', '--source', 'docs/'], env, refused)).code).toBe(ExitCode.usage);
    const broken = new FakeEngine({ search: () => Promise.reject(new Error('boom')) });
    const result = await runInProcess(['search', 'q'], env, broken);
    expect(result.code).toBe(ExitCode.failure);
    expect(result.stderr).toContain('ragoss: unexpected error: boom (run with --verbose for details)');
  });

  it('a usage error exits 2 before any engine work', async () => {
    const engine = new FakeEngine();
    const result = await runInProcess(['search', 'q', '--top-k', 'many'], env, engine);
    expect(result.code).toBe(ExitCode.usage);
    expect(engine.calls).toEqual([]);
  });

  it('ask --json carries the answer and the grounding; the engine gets the chat settings', async () => {
    const engine = new FakeEngine();
    const result = await runInProcess(['ask', 'what is milvus', '--json', '--base-url', 'http://127.0.0.1:9/v1'], env, engine);
    expect(result.code).toBe(ExitCode.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({ question: 'what is milvus', answer: 'Milvus is a vector database [1].', grounded: true });
    expect(engine.requests('ask')).toEqual([expect.objectContaining({ chat: expect.objectContaining({ baseUrl: 'http://127.0.0.1:9/v1' }) })]);
  });

  it('ingest --json reports the engine result as it is', async () => {
    const engine = new FakeEngine();
    const result = await runInProcess(['ingest', '--source', 'docs/', '--collection', 'docs', '--json'], env, engine);
    expect(result.code).toBe(ExitCode.ok);
    expect(JSON.parse(result.stdout)).toMatchObject({ collection: 'docs', chunks: 5, embeddedChunks: 5 });
    expect(engine.requests('ingest')).toEqual([expect.objectContaining({ source: resolve('docs'), collection: 'docs', dryRun: false })]);
  });
});
