import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cachePathFor, download, displayUrl, type DownloadOptions } from '../../src/corpus/download.js';
import { RagossError } from '../../src/errors.js';
import { silentProgress } from '../../src/progress.js';
import { refusedUrl, startFileServer, type FileServer } from '../helpers/http-server.js';
import { faqZip } from '../helpers/paths.js';

const zipSize = statSync(faqZip).size;

/** Every file under `dir`, so a leftover .partial in a per-URL subdirectory is found too. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

describe('download', () => {
  let server: FileServer;
  let cacheDir: string;
  const options = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({ cacheDir, progress: silentProgress, ...extra });

  beforeAll(async () => {
    server = await startFileServer({
      '/ok/docs.zip': { kind: 'file', file: faqZip },
      '/cached/docs.zip': { kind: 'file', file: faqZip },
      '/missing.zip': { kind: 'status', status: 404 },
      '/broken.zip': { kind: 'status', status: 500 },
      '/loop/a.zip': { kind: 'redirect', to: '/loop/b.zip' },
      '/loop/b.zip': { kind: 'redirect', to: '/loop/a.zip' },
      '/moved.zip': { kind: 'redirect', to: '/ok/docs.zip' },
      '/stall.zip': { kind: 'stall', file: faqZip, bytes: 1000 },
      '/truncated.zip': { kind: 'truncate', file: faqZip, bytes: 4000 },
    });
  });
  afterAll(async () => {
    await server.close();
  });
  beforeEach(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'ragoss-dl-'));
  });
  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('downloads the exact bytes into the cache', async () => {
    const url = server.url('/ok/docs.zip');
    const result = await download(url, options());
    expect(result).toEqual({ path: cachePathFor(url, cacheDir), fromCache: false, bytes: zipSize });
    expect(readFileSync(result.path).equals(readFileSync(faqZip))).toBe(true);
    expect(filesUnder(cacheDir)).toEqual([result.path]);
  });

  it('serves the second call from the cache and downloads again with refresh', async () => {
    const url = server.url('/cached/docs.zip');
    const first = await download(url, options());
    const second = await download(url, options());
    expect(second).toEqual({ path: first.path, fromCache: true, bytes: zipSize });
    expect(server.hits('/cached/docs.zip')).toBe(1);
    const third = await download(url, options({ refresh: true }));
    expect(third.fromCache).toBe(false);
    expect(server.hits('/cached/docs.zip')).toBe(2);
    expect(readFileSync(third.path).equals(readFileSync(faqZip))).toBe(true);
  });

  it('follows a redirect to the file', async () => {
    const result = await download(server.url('/moved.zip'), options());
    expect(readFileSync(result.path).equals(readFileSync(faqZip))).toBe(true);
  });

  async function expectFailure(url: string, message: RegExp, extra: Partial<DownloadOptions> = {}): Promise<RagossError> {
    const error: unknown = await download(url, options(extra)).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(RagossError);
    const ragossError = error as RagossError;
    expect(ragossError.message).toContain(displayUrl(url));
    expect(ragossError.message).toMatch(message);
    expect(filesUnder(cacheDir)).toEqual([]);
    return ragossError;
  }

  it.each([
    ['/missing.zip', /HTTP 404/],
    ['/broken.zip', /HTTP 500/],
  ])('%s fails naming the HTTP status', async (path, message) => {
    await expectFailure(server.url(path), message);
  });

  it('reports a refused connection', async () => {
    await expectFailure(await refusedUrl(), /connection refused/);
  });

  it('gives up on a redirect loop', async () => {
    await expectFailure(server.url('/loop/a.zip'), /too many redirects/);
    expect(server.hits('/loop/a.zip')).toBeGreaterThan(1);
  });

  it('gives up on a stalled body after the idle timeout', async () => {
    const started = performance.now();
    await expectFailure(server.url('/stall.zip'), /stalled/, { idleTimeoutMs: 500 });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('refuses a body cut short of its Content-Length', async () => {
    await expectFailure(server.url('/truncated.zip'), /connection (dropped|closed)/);
  });

  it('does not start when the signal is already aborted', async () => {
    const url = server.url('/ok/docs.zip');
    const hitsBefore = server.hits('/ok/docs.zip');
    const controller = new AbortController();
    controller.abort(new Error('user interrupt'));
    await expect(download(url, options({ signal: controller.signal }))).rejects.toThrow('user interrupt');
    expect(server.hits('/ok/docs.zip')).toBe(hitsBefore);
    expect(filesUnder(cacheDir)).toEqual([]);
  });

  it('stops a running download when the signal aborts', async () => {
    const controller = new AbortController();
    let received = 0;
    // Abort once the first bytes have arrived, so the body is being written when it stops.
    const progress = {
      ...silentProgress,
      task: () => ({
        update(done: number) {
          received = done;
          if (done > 0 && !controller.signal.aborted) controller.abort(new Error('user interrupt'));
        },
        done() {},
      }),
    };
    // The stall route would otherwise hang for the whole 30 s default idle timeout.
    await expect(download(server.url('/stall.zip'), options({ signal: controller.signal, progress }))).rejects.toThrow('user interrupt');
    expect(received).toBe(1000);
    expect(filesUnder(cacheDir)).toEqual([]);
  });
});
