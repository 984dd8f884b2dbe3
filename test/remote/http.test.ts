import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postJson, retryAfterMs, type ServerCall } from '../../src/remote/http.js';
import { RagossError } from '../../src/errors.js';
import { freePort } from '../../src/system.js';
import { startModelServer, type ModelServer } from '../helpers/model-server.js';

let server: ModelServer;
beforeAll(async () => {
  server = await startModelServer({ dimension: 4 });
});
afterAll(() => server.close());

/** A call whose waits are recorded instead of slept, so backoff is checked without timing anything. */
function call(url: string, overrides: Partial<ServerCall> = {}): ServerCall & { waits: number[]; retries: string[] } {
  const waits: number[] = [];
  const retries: string[] = [];
  return {
    what: 'embedding endpoint',
    url,
    apiKey: undefined,
    timeoutMs: 5000,
    maxRetries: 3,
    keyEnv: 'RAGOSS_EMBEDDING_API_KEY',
    sleep: async (ms) => {
      waits.push(ms);
    },
    onRetry: (message) => retries.push(message),
    waits,
    retries,
    ...overrides,
  };
}

async function failure(promise: Promise<unknown>): Promise<RagossError> {
  const error = await promise.then(() => undefined, (caught: unknown) => caught);
  expect(error).toBeInstanceOf(RagossError);
  return error as RagossError;
}

const BODY = { model: 'm', input: ['a b'] };

describe('postJson', () => {
  it("waits what Retry-After says on 429, in seconds or as a date, then succeeds", async () => {
    const date = new Date(Date.now() + 3000).toUTCString();
    server.failNext('/embeddings', { status: 429, headers: { 'retry-after': '2' } }, { status: 429, headers: { 'retry-after': date } });
    const attempt = call(`${server.url}/embeddings`);
    const answer = (await postJson(attempt, BODY)) as { data: unknown[] };
    expect(answer.data).toHaveLength(1);
    expect(attempt.waits[0]).toBe(2000);
    // An HTTP date is to the second: between 1 and 3 seconds from now when it was parsed.
    expect(attempt.waits[1]).toBeGreaterThan(1000);
    expect(attempt.waits[1]).toBeLessThanOrEqual(3000);
    expect(attempt.retries[0]).toMatch(/answered HTTP 429; retrying in 2\.0s/);
  });

  it('backs off exponentially on 503 and 502 without Retry-After', async () => {
    server.failNext('/embeddings', { status: 503 }, { status: 502 }, { status: 503 });
    const attempt = call(`${server.url}/embeddings`);
    await postJson(attempt, BODY);
    expect(attempt.waits).toEqual([500, 1000, 2000]);
  });

  it('gives up after maxRetries with one line naming the status and the retries', async () => {
    server.failNext('/embeddings', ...Array.from({ length: 4 }, () => ({ status: 503 })));
    const error = await failure(postJson(call(`${server.url}/embeddings`), BODY));
    expect(error.message).toBe(`embedding endpoint ${server.url}/embeddings failed (HTTP 503) (after 3 retries): injected 503`);
  });

  it('caps a huge Retry-After at a minute', async () => {
    server.failNext('/embeddings', { status: 429, headers: { 'retry-after': '86400' } });
    const attempt = call(`${server.url}/embeddings`);
    await postJson(attempt, BODY);
    expect(attempt.waits).toEqual([60_000]);
  });

  it('does not retry what retrying cannot fix: a refused key, a missing route, a bad request', async () => {
    server.failNext('/embeddings', { status: 401 });
    const attempt = call(`${server.url}/embeddings`);
    const refused = await failure(postJson(attempt, BODY));
    expect(refused.message).toBe(`embedding endpoint ${server.url}/embeddings refused the API key (HTTP 401)`);
    expect(refused.hint).toBe('set a valid RAGOSS_EMBEDDING_API_KEY');
    expect(attempt.waits).toEqual([]);
    const missing = await failure(postJson(call(`${server.url}/nothing-here`), BODY));
    expect(missing.message).toMatch(/has no such route or model \(HTTP 404\): no route \/nothing-here$/);
    server.failNext('/embeddings', { status: 400 });
    expect((await failure(postJson(call(`${server.url}/embeddings`), BODY))).message).toMatch(/failed \(HTTP 400\): injected 400$/);
  });

  it('retries a dropped connection, then reports it plainly', async () => {
    server.failNext('/embeddings', { drop: true });
    const attempt = call(`${server.url}/embeddings`);
    await postJson(attempt, BODY);
    expect(attempt.retries[0]).toMatch(/connection dropped; retrying/);
    server.failNext('/embeddings', { drop: true }, { drop: true });
    const error = await failure(postJson(call(`${server.url}/embeddings`, { maxRetries: 1 }), BODY));
    expect(error.message).toBe(`cannot reach embedding endpoint ${server.url}/embeddings: connection dropped (after 1 retry)`);
  });

  it('says when nothing listens', async () => {
    const port = await freePort();
    const error = await failure(postJson(call(`http://127.0.0.1:${port}/embeddings`, { maxRetries: 0 }), BODY));
    expect(error.message).toBe(`cannot reach embedding endpoint http://127.0.0.1:${port}/embeddings: connection refused`);
    expect(error.hint).toBe('check the URL and that the server is running');
  });

  it('stops waiting after the timeout, and does not retry it', async () => {
    server.failNext('/embeddings', { delayMs: 1500 });
    const attempt = call(`${server.url}/embeddings`, { timeoutMs: 300 });
    const error = await failure(postJson(attempt, BODY));
    expect(error.message).toBe(`embedding endpoint ${server.url}/embeddings did not answer within 0.3s`);
    expect(attempt.waits).toEqual([]);
  });

  it("never shows credentials in the URL; they go as Basic auth", async () => {
    server.failNext('/embeddings', { status: 500 });
    const withUser = server.url.replace('http://', 'http://user:hunter22@');
    const error = await failure(postJson(call(`${withUser}/embeddings`, { maxRetries: 0 }), BODY));
    expect(error.message).not.toContain('hunter22');
    expect(error.message).toContain(`${server.url}/embeddings`);
    expect(server.requests.at(-1)?.authorization).toBe(`Basic ${Buffer.from('user:hunter22').toString('base64')}`);
  });

  it('sends the key as a bearer token', async () => {
    await postJson(call(`${server.url}/embeddings`, { apiKey: 'sk-test-1234' }), BODY);
    expect(server.requests.at(-1)?.authorization).toBe('Bearer sk-test-1234');
  });
});

describe('retryAfterMs', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('Mon, 30 Nov 2026 07:00:00 GMT');
    expect(retryAfterMs('7', now)).toBe(7000);
    expect(retryAfterMs('0.5', now)).toBe(500);
    expect(retryAfterMs('Mon, 30 Nov 2026 07:00:09 GMT', now)).toBe(9000);
    expect(retryAfterMs('Mon, 30 Nov 2026 06:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs(null, now)).toBeUndefined();
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs('-3', now)).toBeUndefined();
  });
});
