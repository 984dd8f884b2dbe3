import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OpenAI-compatible chat server on 127.0.0.1 that streams exactly the way OpenRouter
 * does for gpt-oss: a `: OPENROUTER PROCESSING` comment, reasoning deltas, content deltas,
 * a finish chunk with usage, then `data: [DONE]`. Tests drive the real HTTP + SSE path with it.
 */

export const SERVED_MODELS = ['openai/gpt-oss-20b', 'openai/gpt-oss-120b'] as const;

/** vLLM and LM Studio name the reasoning field `reasoning_content`; OpenRouter uses `reasoning`. */
export type ReasoningField = 'reasoning' | 'reasoning_content';

export interface Reply {
  reasoning: string;
  answer: string;
  reasoningField: ReasoningField;
}

export type Scenario =
  | ({ kind: 'ok' } & Partial<Reply>)
  /**
   * Every request gets this status and an OpenRouter-style JSON error body. `echoAuthorization`
   * puts the received Authorization header in the message, as some providers quote the bad key.
   */
  | { kind: 'status'; status: number; message?: string; retryAfterSeconds?: number; echoAuthorization?: boolean }
  /** The first request of the scenario fails with `status`, later ones succeed. */
  | ({ kind: 'fail-once'; status: number; retryAfterSeconds?: number } & Partial<Reply>)
  /** Some content, then OpenRouter's in-stream error event. */
  | { kind: 'error-mid-stream'; message?: string }
  /** Reasoning only, then finish_reason 'length' with no content: the token budget ran out. */
  | { kind: 'length'; reasoning?: string }
  /** Some content, then the socket is destroyed without a finish chunk or [DONE]. */
  | { kind: 'drop' }
  /** Reads the request and never answers. */
  | { kind: 'hang' }
  /** Answers 200 and streams some content, then goes silent without closing. */
  | { kind: 'stall' };

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined for bodiless requests such as GET /v1/models. */
  body: Record<string, unknown> | undefined;
}

export interface ChatServer {
  /** e.g. http://127.0.0.1:PORT/v1, what --base-url takes. */
  baseUrl: string;
  requests: ReceivedRequest[];
  setScenario(scenario: Scenario): void;
  close(): Promise<void>;
}

export const DEFAULT_REPLY: Reply = {
  reasoning: 'The user asks how Milvus stores data. The context says inserted data is stored in object storage.',
  answer: 'Milvus stores inserted data, index files and logs in object storage such as MinIO or S3, and metadata in etcd.',
  reasoningField: 'reasoning',
};

interface ChatMessageLike {
  role: string;
  content: string;
}

/** The messages of a received chat request, checked for shape so tests can compare them. */
export function messagesOf(request: ReceivedRequest): ChatMessageLike[] {
  const messages = request.body?.['messages'];
  if (!Array.isArray(messages)) throw new Error(`request to ${request.path} has no messages array`);
  return messages.map((message: unknown) => {
    const { role, content } = (message ?? {}) as Record<string, unknown>;
    if (typeof role !== 'string' || typeof content !== 'string') throw new Error(`malformed message ${JSON.stringify(message)}`);
    return { role, content };
  });
}

export function chatRequests(server: Pick<ChatServer, 'requests'>): ReceivedRequest[] {
  return server.requests.filter((request) => request.path === '/v1/chat/completions');
}

/** Splits text into small pieces, keeping spaces, the way tokens arrive. */
function pieces(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

function replyOf(partial: Partial<Reply>): Reply {
  return {
    reasoning: partial.reasoning ?? DEFAULT_REPLY.reasoning,
    answer: partial.answer ?? DEFAULT_REPLY.answer,
    reasoningField: partial.reasoningField ?? DEFAULT_REPLY.reasoningField,
  };
}

class SseWriter {
  readonly id = `gen-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
  readonly created = Math.floor(Date.now() / 1000);

  constructor(
    private readonly response: ServerResponse,
    private readonly model: string,
  ) {}

  open(): void {
    this.response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    // OpenRouter sends this keep-alive comment first; SSE clients must skip it.
    this.response.write(': OPENROUTER PROCESSING\n\n');
  }

  data(payload: unknown): void {
    this.response.write(`data: ${JSON.stringify(payload)}\n\n`);
  }

  chunk(delta: Record<string, string>, finishReason: string | null = null, usage?: Record<string, number>): void {
    this.data({
      id: this.id,
      provider: 'TestProvider',
      model: this.model,
      object: 'chat.completion.chunk',
      created: this.created,
      choices: [{ index: 0, delta: { role: 'assistant', content: '', ...delta }, finish_reason: finishReason, native_finish_reason: finishReason, logprobs: null }],
      ...(usage ? { usage } : {}),
    });
  }

  reasoning(text: string, field: ReasoningField): void {
    for (const piece of pieces(text)) this.chunk({ [field]: piece });
  }

  content(text: string): void {
    for (const piece of pieces(text)) this.chunk({ content: piece });
  }

  finish(reason: string, completionTokens: number): void {
    this.chunk({}, reason, { prompt_tokens: 321, completion_tokens: completionTokens, total_tokens: 321 + completionTokens });
    this.response.end('data: [DONE]\n\n');
  }
}

function sendJson(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, status: number, message: string, retryAfterSeconds?: number): void {
  const headers: Record<string, string> = retryAfterSeconds === undefined ? {} : { 'retry-after': String(retryAfterSeconds) };
  sendJson(response, status, { error: { code: status, message } }, headers);
}

const STATUS_MESSAGES: Record<number, string> = {
  401: 'No auth credentials found',
  404: 'No endpoints found for this model',
  429: 'Rate limit exceeded: free-models-per-min',
  500: 'Internal Server Error',
  503: 'No instances available',
};

function streamOk(response: ServerResponse, model: string, reply: Reply): void {
  const sse = new SseWriter(response, model);
  sse.open();
  sse.reasoning(reply.reasoning, reply.reasoningField);
  sse.content(reply.answer);
  sse.finish('stop', pieces(reply.reasoning).length + pieces(reply.answer).length);
}

function jsonOk(response: ServerResponse, model: string, reply: Reply): void {
  sendJson(response, 200, {
    id: `gen-${Date.now()}`,
    provider: 'TestProvider',
    model,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    choices: [{ index: 0, message: { role: 'assistant', content: reply.answer, [reply.reasoningField]: reply.reasoning }, finish_reason: 'stop', logprobs: null }],
    usage: { prompt_tokens: 321, completion_tokens: 42, total_tokens: 363 },
  });
}

/**
 * Cuts the connection mid-body the way a crashed upstream does, but with a FIN after everything
 * written, not a reset: the client reads every byte sent so far, then finds the body unfinished.
 */
function dropAfterFlush(response: ServerResponse): void {
  response.write('', () => response.socket?.end());
}

function statusMessage(scenario: Extract<Scenario, { kind: 'status' }>, request: ReceivedRequest): string {
  const message = scenario.message ?? STATUS_MESSAGES[scenario.status] ?? 'error';
  return scenario.echoAuthorization ? `${message}: ${request.headers['authorization'] ?? '(none)'}` : message;
}

function serveChat(response: ServerResponse, request: ReceivedRequest, body: Record<string, unknown>, scenario: Scenario, attempt: number): void {
  const model = typeof body['model'] === 'string' ? body['model'] : 'openai/gpt-oss-20b';
  const ok = (reply: Reply) => (body['stream'] === true ? streamOk(response, model, reply) : jsonOk(response, model, reply));
  switch (scenario.kind) {
    case 'ok':
      return ok(replyOf(scenario));
    case 'status':
      return sendError(response, scenario.status, statusMessage(scenario, request), scenario.retryAfterSeconds);
    case 'fail-once':
      if (attempt === 1) return sendError(response, scenario.status, STATUS_MESSAGES[scenario.status] ?? 'error', scenario.retryAfterSeconds);
      return ok(replyOf(scenario));
    case 'error-mid-stream': {
      const sse = new SseWriter(response, model);
      sse.open();
      sse.reasoning('Looking at the context.', 'reasoning');
      sse.content('Milvus stores data');
      // OpenRouter reports provider failures after the 200 as a data event, then ends the stream.
      sse.data({ error: { code: 502, message: scenario.message ?? 'Provider returned error' } });
      response.end();
      return;
    }
    case 'length': {
      const sse = new SseWriter(response, model);
      sse.open();
      sse.reasoning(scenario.reasoning ?? DEFAULT_REPLY.reasoning, 'reasoning');
      sse.finish('length', 64);
      return;
    }
    case 'drop': {
      const sse = new SseWriter(response, model);
      sse.open();
      sse.content('Milvus stores');
      dropAfterFlush(response);
      return;
    }
    case 'stall': {
      const sse = new SseWriter(response, model);
      sse.open();
      sse.content('Milvus stores');
      return;
    }
    case 'hang':
      return;
  }
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolveBody, rejectBody) => {
    let text = '';
    request.setEncoding('utf8');
    request.on('data', (data: string) => (text += data));
    request.on('end', () => resolveBody(text));
    request.on('error', rejectBody);
  });
}

function parseBody(text: string): Record<string, unknown> | undefined {
  if (text === '') return undefined;
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
}

export async function startChatServer(initial: Scenario = { kind: 'ok' }): Promise<ChatServer> {
  let scenario = initial;
  // Counts chat requests since the scenario was set, for the "first request fails" scenarios.
  let attempts = 0;
  const requests: ReceivedRequest[] = [];

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    const body = parseBody(await readBody(request));
    const received: ReceivedRequest = { method: request.method ?? '', path, headers: request.headers, body };
    requests.push(received);
    if (request.method === 'GET' && path === '/v1/models') {
      // A failing endpoint fails for every route, as a refused key or an outage does on OpenRouter.
      if (scenario.kind === 'status') return sendError(response, scenario.status, statusMessage(scenario, received));
      return sendJson(response, 200, { object: 'list', data: SERVED_MODELS.map((id) => ({ id, object: 'model', created: 1754352000, owned_by: 'openai' })) });
    }
    if (request.method === 'POST' && path === '/v1/chat/completions' && body !== undefined) {
      attempts++;
      return serveChat(response, received, body, scenario, attempts);
    }
    sendError(response, 404, `no route for ${request.method} ${path}`);
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => sendError(response, 400, `bad request: ${String(error)}`));
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    setScenario(next) {
      scenario = next;
      attempts = 0;
    },
    close: () =>
      new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        // Hung and keep-alive connections would hold close() open forever.
        server.closeAllConnections();
      }),
  };
}
