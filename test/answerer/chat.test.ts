import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIChatEndpoint, type ChatDelta, type ChatResult, type OpenAIChatOptions } from '../../src/answerer/chat.js';
import { RagossError } from '../../src/errors.js';
import { DEFAULT_REPLY, SERVED_MODELS, chatRequests, startChatServer, type ChatServer, type Scenario } from '../helpers/chat-server.js';
import { ragossRejection } from '../helpers/errors.js';

const MODEL = 'openai/gpt-oss-20b';
const MESSAGES = [
  { role: 'system' as const, content: 'You answer from the context.' },
  { role: 'user' as const, content: 'How is data stored in milvus?' },
];

interface Collected {
  reasoning: string;
  answer: string;
  result: ChatResult;
}

describe('OpenAIChatEndpoint against a local OpenRouter-style SSE server', () => {
  let server: ChatServer;

  beforeAll(async () => {
    server = await startChatServer();
  });
  afterAll(async () => {
    await server.close();
  });

  function use(scenario: Scenario): void {
    server.setScenario(scenario);
    server.requests.length = 0;
  }

  function endpoint(options: Partial<OpenAIChatOptions> = {}): OpenAIChatEndpoint {
    return new OpenAIChatEndpoint({ baseUrl: server.baseUrl, apiKey: 'sk-test-key', timeoutMs: 10_000, maxRetries: 2, ...options });
  }

  async function collect(chat: OpenAIChatEndpoint, deltas: ChatDelta[] = []): Promise<Collected> {
    const result = await chat.stream({ model: MODEL, messages: MESSAGES }, (delta) => deltas.push(delta));
    const text = (kind: ChatDelta['kind']) => deltas.filter((delta) => delta.kind === kind).map((delta) => delta.text).join('');
    return { reasoning: text('reasoning'), answer: text('answer'), result };
  }

  /** The RagossError a failing stream rejects with (anything else fails the test). */
  function failure(chat: OpenAIChatEndpoint, deltas: ChatDelta[] = []): Promise<RagossError> {
    return ragossRejection(collect(chat, deltas));
  }

  it('splits OpenRouter `reasoning` deltas from the answer and reports finish and model', async () => {
    use({ kind: 'ok', reasoning: 'Think about storage first.', answer: 'In object storage.' });
    const deltas: ChatDelta[] = [];
    const got = await collect(endpoint(), deltas);
    expect(got).toEqual({ reasoning: 'Think about storage first.', answer: 'In object storage.', result: { finishReason: 'stop', model: MODEL } });
    // Streamed piece by piece, reasoning strictly before the answer.
    expect(deltas.length).toBeGreaterThan(4);
    const firstAnswer = deltas.findIndex((delta) => delta.kind === 'answer');
    expect(deltas.slice(firstAnswer).every((delta) => delta.kind === 'answer')).toBe(true);
    const [request] = chatRequests(server);
    expect(request?.body).toMatchObject({ model: MODEL, stream: true, messages: MESSAGES });
    expect(request?.headers['authorization']).toBe('Bearer sk-test-key');
  });

  it('also reads `reasoning_content` as vLLM and LM Studio send it', async () => {
    use({ kind: 'ok', reasoningField: 'reasoning_content' });
    const got = await collect(endpoint());
    expect(got.reasoning).toBe(DEFAULT_REPLY.reasoning);
    expect(got.answer).toBe(DEFAULT_REPLY.answer);
  });

  it('sends max_tokens and reasoning_effort only when set', async () => {
    use({ kind: 'ok' });
    const chat = endpoint();
    await chat.stream({ model: MODEL, messages: MESSAGES, maxTokens: 512, reasoningEffort: 'low' }, () => undefined);
    await chat.stream({ model: MODEL, messages: MESSAGES }, () => undefined);
    const [withLimits, without] = chatRequests(server);
    expect(withLimits?.body).toMatchObject({ max_tokens: 512, reasoning_effort: 'low' });
    expect(without?.body).not.toHaveProperty('max_tokens');
    expect(without?.body).not.toHaveProperty('reasoning_effort');
  });

  it('names the API key on 401, without retrying', async () => {
    use({ kind: 'status', status: 401 });
    const error = await failure(endpoint());
    expect(error.message).toMatch(/refused the API key \(HTTP 401\)/);
    expect(error.hint).toMatch(/OPENROUTER_API_KEY/);
    // Kept for --verbose.
    expect(error.cause).toBeInstanceOf(Error);
    expect(chatRequests(server)).toHaveLength(1);
  });

  it('names the model on 404', async () => {
    use({ kind: 'status', status: 404 });
    const error = await failure(endpoint());
    expect(error.message).toContain(`has no model ${MODEL} (HTTP 404)`);
    expect(error.hint).toMatch(/--model/);
  });

  it('waits out a 429 with Retry-After and succeeds on the retry', async () => {
    use({ kind: 'fail-once', status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const got = await collect(endpoint({ maxRetries: 1 }));
    expect(got.answer).toBe(DEFAULT_REPLY.answer);
    expect(chatRequests(server)).toHaveLength(2);
    // Retry-After: 1 was honoured rather than retrying at once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
  });

  it('retries a 500 and succeeds', async () => {
    use({ kind: 'fail-once', status: 500 });
    const got = await collect(endpoint({ maxRetries: 1 }));
    expect(got.answer).toBe(DEFAULT_REPLY.answer);
    expect(chatRequests(server)).toHaveLength(2);
  });

  it('gives up on an endpoint that is always 503 after a bounded number of attempts', async () => {
    use({ kind: 'status', status: 503 });
    const error = await failure(endpoint({ maxRetries: 2 }));
    expect(error.message).toMatch(/failed \(HTTP 503\): No instances available/);
    expect(chatRequests(server)).toHaveLength(3);
  });

  it('turns an error event in the middle of the stream into a RagossError', async () => {
    use({ kind: 'error-mid-stream' });
    const deltas: ChatDelta[] = [];
    const error = await failure(endpoint(), deltas);
    expect(error.message).toMatch(/error mid-answer: Provider returned error/);
    // The content before the error did arrive, so this really was mid-stream.
    expect(deltas.some((delta) => delta.kind === 'answer')).toBe(true);
    expect(chatRequests(server)).toHaveLength(1);
  });

  it('turns a connection dropped mid-stream into a RagossError', async () => {
    use({ kind: 'drop' });
    const deltas: ChatDelta[] = [];
    const error = await failure(endpoint(), deltas);
    expect(error.message).toBe(`connection to chat endpoint ${server.baseUrl} dropped mid-answer`);
    expect(error.hint).toMatch(/try again/);
    expect(deltas.some((delta) => delta.kind === 'answer')).toBe(true);
  });

  it('times out on an endpoint that never answers', async () => {
    use({ kind: 'hang' });
    const started = Date.now();
    const error = await failure(endpoint({ timeoutMs: 1500, maxRetries: 0 }));
    const elapsed = Date.now() - started;
    expect(error.message).toMatch(/did not answer within 1\.5s/);
    expect(error.hint).toMatch(/--timeout/);
    expect(elapsed).toBeGreaterThanOrEqual(1400);
    expect(elapsed).toBeLessThan(5000);
    expect(chatRequests(server)).toHaveLength(1);
  });

  it('times out on a stream that goes silent after the first content', async () => {
    // The SDK's own timeout stops at the response headers; a stalled body must not hang ragoss.
    use({ kind: 'stall' });
    const started = Date.now();
    const deltas: ChatDelta[] = [];
    const error = await failure(endpoint({ timeoutMs: 1500, maxRetries: 0 }), deltas);
    expect(error.message).toMatch(/sent nothing for 1\.5s mid-answer/);
    expect(error.hint).toMatch(/--timeout/);
    expect(deltas.some((delta) => delta.kind === 'answer')).toBe(true);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('rejects with the abort reason when cancelled mid-stream, not with a truncated answer', async () => {
    use({ kind: 'stall' });
    const controller = new AbortController();
    const reason = new Error('cancelled by the test');
    const streaming = endpoint().stream({ model: MODEL, messages: MESSAGES, signal: controller.signal }, (delta) => {
      if (delta.kind === 'answer') controller.abort(reason);
    });
    await expect(streaming).rejects.toBe(reason);
  });

  it('lists the served models', async () => {
    use({ kind: 'ok' });
    expect(await endpoint().listModels()).toEqual([...SERVED_MODELS]);
    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /v1/models']);
  });

  it('explains an unreachable endpoint', async () => {
    const closed = await startChatServer();
    await closed.close();
    const error = await failure(new OpenAIChatEndpoint({ baseUrl: closed.baseUrl, apiKey: undefined, timeoutMs: 5000, maxRetries: 0 }));
    expect(error.message).toContain(`cannot reach chat endpoint ${closed.baseUrl}`);
  });
});
