import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { basename, join } from 'node:path';
import { RagossError, networkProblem } from '../errors.js';
import type { Progress } from '../progress.js';

export interface DownloadOptions {
  cacheDir: string;
  progress: Progress;
  /** Re-download even when the cache has the file. */
  refresh?: boolean;
  /** Give up when no byte arrives for this long. */
  idleTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface Downloaded {
  path: string;
  fromCache: boolean;
  bytes: number;
}

const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export function cachePathFor(url: string, cacheDir: string): string {
  const key = createHash('sha256').update(url).digest('hex').slice(0, 16);
  const name = basename(new URL(url).pathname) || 'download';
  return join(cacheDir, key, name);
}

/** Redacts credentials and query strings (which often carry tokens) from a URL shown to the user. */
export function displayUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    return parsed.toString();
  } catch {
    return '<invalid URL>';
  }
}

function downloadError(url: string, problem: string, cause?: unknown): RagossError {
  return new RagossError(
    `download of ${displayUrl(url)} failed: ${problem}`,
    'check the URL and your network, or pass a local zip with --source FILE.zip',
    undefined,
    { cause },
  );
}

/** Downloads `url` into the cache (atomically: a partial file never looks complete). */
export async function download(url: string, options: DownloadOptions): Promise<Downloaded> {
  const target = cachePathFor(url, options.cacheDir);
  if (!options.refresh && existsSync(target)) {
    options.progress.step(`using cached download ${target}`);
    const { size } = await stat(target);
    return { path: target, fromCache: true, bytes: size };
  }
  await mkdir(join(target, '..'), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  const controller = new AbortController();
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  // An already-aborted signal never fires 'abort', so without this the download would run anyway.
  if (options.signal?.aborted) onOuterAbort();
  let idleTimer: NodeJS.Timeout | undefined;
  const touch = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => controller.abort(new Error('timeout')), idleTimeoutMs);
  };
  touch();
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, redirect: 'follow' });
    } catch (error) {
      throw controller.signal.aborted && !options.signal?.aborted
        ? downloadError(url, `no response within ${idleTimeoutMs / 1000}s`, error)
        : downloadError(url, networkProblem(error), error);
    }
    if (!response.ok || !response.body) {
      throw downloadError(url, `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    }
    const total = Number(response.headers.get('content-length') ?? 0);
    const task = options.progress.task(`downloading ${basename(target)}`, total, 'bytes');
    const file = createWriteStream(partial);
    let received = 0;
    const counted = async function* (source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
      for await (const chunk of source) {
        touch();
        received += chunk.byteLength;
        task.update(received);
        yield chunk;
      }
    };
    try {
      // pipeline, not write() by hand: a write error or a write still pending when the body fails
      // must reject here, not surface later as an 'error' event nobody listens to (a crash).
      await pipeline(response.body as unknown as AsyncIterable<Uint8Array>, counted, file);
    } catch (error) {
      // The partial file is removed below; its descriptor must be closed first.
      if (!file.closed) await new Promise<void>((resolveClose) => file.once('close', () => resolveClose()));
      throw controller.signal.aborted && !options.signal?.aborted
        ? downloadError(url, `stalled: no data for ${idleTimeoutMs / 1000}s`, error)
        : downloadError(url, networkProblem(error), error);
    }
    if (total > 0 && received !== total) {
      throw downloadError(url, `connection closed after ${received} of ${total} bytes`);
    }
    task.done();
    await rename(partial, target);
    return { path: target, fromCache: false, bytes: received };
  } finally {
    clearTimeout(idleTimer);
    options.signal?.removeEventListener('abort', onOuterAbort);
    await rm(partial, { force: true });
  }
}
