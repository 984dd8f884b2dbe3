import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A model server on 127.0.0.1 speaking OpenAI's /embeddings and /models and both /rerank dialects,
 * for injecting the faults a real server shows rarely (429 with Retry-After, 503, a slow answer, a
 * wrong width, dying mid-ingest). Its vectors are hashed bags of words: deterministic, and texts
 * sharing words land close, so search over them behaves like search. Agreement with real models
 * is tested against a real server (test/servers/infinity.test.ts).
 */
export interface Fault {
  /** Answer this status (with these headers) instead of the route's answer. */
  status?: number;
  headers?: Record<string, string>;
  /** Hold the answer this long. */
  delayMs?: number;
  /** Drop the connection without an answer. */
  drop?: boolean;
}

export interface ModelServerOptions {
  dimension?: number;
  models?: string[];
  /** Requests that need `Authorization: Bearer <key>`. */
  apiKey?: string;
}

export interface ModelServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Every request's route and parsed body, in arrival order. */
  readonly requests: Array<{ route: string; body: Record<string, unknown>; authorization: string | undefined }>;
  /** The next requests to `route` (one per fault) get these faults instead of their answers. */
  failNext(route: string, ...faults: Fault[]): void;
  /** Every later request to `route` gets this fault, until cleared with undefined. */
  failAlways(route: string, fault: Fault | undefined): void;
  /** The width of later /embeddings answers. */
  setDimension(dimension: number): void;
  /** Answers `count` more /embeddings requests, then stops listening and drops every connection: a server that dies. */
  stopAfter(count: number): void;
  /** The most /embeddings requests seen in flight at once. */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

/** Words hashed into `dimension` buckets, normalised: the stand-in for a model. */
export function bagOfWordsVector(text: string, dimension: number): number[] {
  const vector = new Array<number>(dimension).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    const bucket = createHash('sha256').update(word).digest().readUInt32BE(0) % dimension;
    vector[bucket] = (vector[bucket] as number) + 1;
  }
  const norm = Math.hypot(...vector) || 1;
  return vector.map((value) => value / norm);
}

/** The share of the question's words a passage holds: a reranker that reads both. */
export function overlapScore(question: string, passage: string): number {
  const words = new Set(question.toLowerCase().match(/[a-z0-9]+/g) ?? []);
  const held = new Set(passage.toLowerCase().match(/[a-z0-9]+/g) ?? []);
  return words.size === 0 ? 0 : [...words].filter((word) => held.has(word)).length / words.size;
}

async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
}

export async function startModelServer(options: ModelServerOptions = {}): Promise<ModelServer> {
  let dimension = options.dimension ?? 768;
  const models = options.models ?? ['fake-embedder'];
  const requests: ModelServer['requests'] = [];
  const queued = new Map<string, Fault[]>();
  const always = new Map<string, Fault>();
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let answersLeft = Number.POSITIVE_INFINITY;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    server.close();
    for (const socket of sockets) socket.destroy();
  };
  let maxInFlight = 0;

  const send = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };

  const answer = (route: string, body: Record<string, unknown>): { status: number; body: unknown } => {
    switch (route) {
      case '/models':
        // A reranker listed beside the embedders, as Infinity lists what it serves (with capabilities).
        return { status: 200, body: { object: 'list', data: [...models.map((id) => ({ id, object: 'model', capabilities: ['embed'] })), { id: 'fake-reranker', object: 'model', capabilities: ['rerank'] }] } };
      case '/embeddings': {
        const input = body['input'];
        const texts = typeof input === 'string' ? [input] : (input as string[]);
        const data = texts.map((text, index) => ({ object: 'embedding', index, embedding: bagOfWordsVector(text, dimension) }));
        // Out of order on purpose: the OpenAI format says only `index` ties a vector to its text.
        return { status: 200, body: { object: 'list', model: body['model'], data: data.reverse(), usage: { prompt_tokens: 0, total_tokens: 0 } } };
      }
      case '/rerank': {
        const query = String(body['query'] ?? '');
        const scored = (list: unknown) => (list as string[]).map((text, index) => ({ index, score: overlapScore(query, text) })).sort((a, b) => b.score - a.score);
        if (Array.isArray(body['documents'])) {
          return { status: 200, body: { object: 'rerank', results: scored(body['documents']).map(({ index, score }) => ({ index, relevance_score: score })) } };
        }
        if (Array.isArray(body['texts'])) return { status: 200, body: scored(body['texts']) };
        return { status: 422, body: { detail: 'documents or texts required' } };
      }
      default:
        return { status: 404, body: { error: { message: `no route ${route}` } } };
    }
  };

  const server = createServer((request, response) => {
    void (async () => {
      const route = new URL(request.url ?? '/', 'http://127.0.0.1').pathname.replace(/^\/v1(?=\/)/, '');
      const body = await readBody(request);
      requests.push({ route, body, authorization: request.headers.authorization });
      const counted = route === '/embeddings';
      if (counted) maxInFlight = Math.max(maxInFlight, ++inFlight);
      try {
        const fault = queued.get(route)?.shift() ?? always.get(route);
        if (fault?.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        if (fault?.drop) {
          request.socket.destroy();
          return;
        }
        if (fault?.status !== undefined) return send(response, fault.status, { error: { message: `injected ${fault.status}` } }, fault.headers);
        if (options.apiKey !== undefined && request.headers.authorization !== `Bearer ${options.apiKey}`) {
          return send(response, 401, { error: { message: `bad key: ${request.headers.authorization ?? 'none'}` } });
        }
        if (counted && answersLeft <= 0) {
          stop();
          return;
        }
        if (counted) answersLeft--;
        const { status, body: answered } = answer(route, body);
        send(response, status, answered);
      } finally {
        if (counted) inFlight--;
      }
    })();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    failNext: (route, ...faults) => queued.set(route, [...(queued.get(route) ?? []), ...faults]),
    failAlways: (route, fault) => (fault === undefined ? always.delete(route) : always.set(route, fault)),
    setDimension: (width) => {
      dimension = width;
    },
    stopAfter: (count) => {
      answersLeft = count;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        if (stopped) resolve();
        else server.close(() => resolve());
      }),
  };
}
