import { ExitCode, RagossError, errorMessage, networkProblem } from '../errors.js';

/** How ragoss talks to a model server (embeddings, rerank): what to call it in messages and how patient to be. */
export interface ServerCall {
  /** "embedding endpoint", "rerank endpoint": the subject of every message. */
  what: string;
  /** The URL POSTed to (shown without credentials). */
  url: string;
  apiKey: string | undefined;
  /** Per attempt: headers and body must arrive within it. */
  timeoutMs: number;
  /** Attempts after the first on 429, 502, 503, 504 and dropped connections. */
  maxRetries: number;
  /** The env var that holds the key, for the hint when the server refuses it. */
  keyEnv: string;
  /** What to do when an attempt runs out of time. */
  timeoutHint?: string;
  signal?: AbortSignal;
  /** Waits between attempts (tests shorten it). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Hears each retry before its wait, e.g. to say why the ingest paused. */
  onRetry?: (message: string) => void;
}

/** Statuses worth another attempt: the server is busy or restarting, not refusing this request. */
const RETRIED_STATUSES = new Set([408, 429, 502, 503, 504]);
/** Network failures worth another attempt: a server restarting refuses or drops for a moment. */
const RETRIED_PROBLEMS = new Set(['connection refused', 'connection dropped', 'connection timed out']);
/** Backoff doubles from here; a Retry-After the server sends wins, up to the cap. */
const FIRST_BACKOFF_MS = 500;
const MAX_WAIT_MS = 60_000;

/**
 * POSTs JSON and returns the parsed JSON answer, retrying what a busy server asks to be retried
 * (honouring Retry-After); every failure becomes one RagossError that says what and where.
 */
export async function postJson(call: ServerCall, body: unknown): Promise<unknown> {
  return requestJson(call, body);
}

/** GET and parse JSON, with the same retries and messages as `postJson`. */
export async function getJson(call: ServerCall): Promise<unknown> {
  return requestJson(call, undefined);
}

async function requestJson(call: ServerCall, body: unknown): Promise<unknown> {
  const sleep = call.sleep ?? delay;
  for (let attempt = 0; ; attempt++) {
    const outcome = await sendOnce(call, body);
    if (outcome.kind === 'ok') return outcome.json;
    // A timeout is not retried: the server had its whole allowance, and another would double the wait.
    const retriable =
      (outcome.kind === 'status' && RETRIED_STATUSES.has(outcome.status)) || (outcome.kind === 'network' && RETRIED_PROBLEMS.has(outcome.problem));
    if (!retriable || attempt >= call.maxRetries) throw failure(call, outcome, attempt);
    const backoff = FIRST_BACKOFF_MS * 2 ** attempt;
    const asked = outcome.kind === 'status' ? retryAfterMs(outcome.retryAfter) : undefined;
    const waitMs = Math.min(asked ?? backoff, MAX_WAIT_MS);
    const why = outcome.kind === 'status' ? `answered HTTP ${outcome.status}` : outcome.kind === 'network' ? outcome.problem : 'timed out';
    call.onRetry?.(`${call.what} ${displayEndpoint(call.url)} ${why}; retrying in ${(waitMs / 1000).toFixed(1)}s`);
    await sleep(waitMs, call.signal);
  }
}

type Outcome =
  | { kind: 'ok'; json: unknown }
  | { kind: 'status'; status: number; detail: string; retryAfter: string | null }
  | { kind: 'network'; problem: string; cause: unknown }
  | { kind: 'timeout' };

/** One request: POST with a JSON body, or GET without one. */
async function sendOnce(call: ServerCall, body: unknown): Promise<Outcome> {
  const timeout = AbortSignal.timeout(call.timeoutMs);
  const signal = call.signal === undefined ? timeout : AbortSignal.any([call.signal, timeout]);
  const { url, authorization } = credentialsApart(call.url, call.apiKey);
  try {
    const response = await fetch(url, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), accept: 'application/json', ...(authorization === undefined ? {} : { authorization }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal,
    });
    const text = await response.text();
    if (!response.ok) return { kind: 'status', status: response.status, detail: errorDetail(text), retryAfter: response.headers.get('retry-after') };
    try {
      return { kind: 'ok', json: JSON.parse(text) as unknown };
    } catch {
      throw new RagossError(`${call.what} ${displayEndpoint(call.url)} answered with something other than JSON: ${clip(text)}`, 'check the URL: it must be the server\'s API (e.g. http://localhost:7997 for Infinity, .../v1 for OpenAI)');
    }
  } catch (error) {
    if (error instanceof RagossError) throw error;
    call.signal?.throwIfAborted();
    if (timeout.aborted) return { kind: 'timeout' };
    return { kind: 'network', problem: networkProblem(error), cause: error };
  }
}

function failure(call: ServerCall, outcome: Exclude<Outcome, { kind: 'ok' }>, retries: number): RagossError {
  const where = `${call.what} ${displayEndpoint(call.url)}`;
  const after = retries > 0 ? ` (after ${retries} ${retries === 1 ? 'retry' : 'retries'})` : '';
  switch (outcome.kind) {
    case 'timeout':
      return new RagossError(`${where} did not answer within ${call.timeoutMs / 1000}s`, call.timeoutHint ?? 'check the server, or give it longer');
    case 'network':
      return new RagossError(`cannot reach ${where}: ${outcome.problem}${after}`, 'check the URL and that the server is running', ExitCode.failure, { cause: outcome.cause });
    case 'status':
      return statusFailure(call, outcome, after);
  }
}

function statusFailure(call: ServerCall, outcome: { status: number; detail: string }, after: string): RagossError {
  const where = `${call.what} ${displayEndpoint(call.url)}`;
  const detail = outcome.detail === '' ? '' : `: ${outcome.detail}`;
  switch (outcome.status) {
    case 401:
    case 403:
      return new RagossError(`${where} refused the API key (HTTP ${outcome.status})`, `set a valid ${call.keyEnv}`);
    case 404:
      return new RagossError(`${where} has no such route or model (HTTP 404)${detail}`, 'check the URL (OpenAI-style servers want the /v1 base) and the model name');
    case 429:
      return new RagossError(`${where} is rate limiting us (HTTP 429)${after}`, 'wait and try again, or lower the concurrency');
    default:
      return new RagossError(`${where} failed (HTTP ${outcome.status})${after}${detail}`, outcome.status >= 500 ? 'check the server\'s log; try again later' : 'check the model name and the server\'s API');
  }
}

/** The server's own words, from the usual JSON error shapes, else the text: one line, short. */
function errorDetail(text: string): string {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const error = parsed['error'];
    const message =
      (typeof error === 'object' && error !== null ? (error as Record<string, unknown>)['message'] : error) ?? parsed['message'] ?? parsed['detail'];
    if (typeof message === 'string') return clip(message);
    if (message !== undefined) return clip(JSON.stringify(message));
  } catch {
    // not JSON: the text itself
  }
  return clip(text);
}

function clip(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\s*[-+]?\d+(\.\d+)?\s*$/.test(header)) {
    const seconds = Number(header);
    return seconds >= 0 ? seconds * 1000 : undefined;
  }
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason instanceof Error ? signal.reason : new Error(errorMessage(signal.reason)));
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error(errorMessage(signal.reason)));
    }, { once: true });
  });
}

/**
 * fetch refuses URLs with user:password in them: they go in a Basic header instead (a proxy in
 * front of a model server), unless a key is set, which goes as a Bearer token.
 */
export function credentialsApart(url: string, apiKey: string | undefined): { url: string; authorization: string | undefined } {
  const parsed = new URL(url);
  const basic = parsed.username === '' && parsed.password === '' ? undefined : `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString('base64')}`;
  return { url: displayEndpoint(url), authorization: apiKey === undefined ? basic : `Bearer ${apiKey}` };
}

/** The URL without user:password, for messages. */
export function displayEndpoint(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** base + route, whether or not the base ends in a slash. */
export function joinRoute(base: string, route: string): string {
  return `${base.replace(/\/+$/, '')}/${route}`;
}

/** Whether `value` is an http(s) URL (and not a model name or a path). */
export function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}
