import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, isAbsolute, join, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

/** Files ONNX Runtime should read itself, by path: the model graph and its external weights. */
const READ_BY_PATH = /\.onnx(_data(_\d+)?)?$/;

type DownloadProgress = (info: { progress: number; loaded: number; total: number }) => void;

/**
 * The model cache transformers.js reads through (its `env.customCache`), in place of its own file
 * cache. Why: transformers.js 3.x opens a read stream on every local file it looks at and lets it
 * run whether or not anything reads it, so loading a 435 MB model also pulled the whole .onnx file
 * into JS memory while ONNX Runtime read it again by path: ~430 MB of garbage at the peak of every
 * load. Here model files are handed over as paths, the small JSON files as whole responses, and a
 * download is written to a temporary file and renamed, so an interrupted one never looks cached.
 *
 * Keys are the local path (`root/NAME/FILE`) or the hub URL (`REMOTE_PREFIX/FILE`).
 */
export class ModelFileCache {
  /** The last model file handed out by path (see `match`). */
  private lastPath: string | undefined;

  constructor(
    private readonly root: string,
    private readonly modelName: string,
    /** `{hub}/{model}/resolve/main/`: hub URLs with this prefix map to files of this model. */
    private readonly remotePrefix?: string,
  ) {}

  private fileFor(key: string): string | undefined {
    if (isAbsolute(key)) return key.startsWith(this.root + sep) && !key.split(sep).includes('..') ? key : undefined;
    if (this.remotePrefix !== undefined && key.startsWith(this.remotePrefix)) {
      const file = key.slice(this.remotePrefix.length);
      return file.split('/').includes('..') ? undefined : join(this.root, this.modelName, file);
    }
    return undefined;
  }

  /**
   * transformers.js asks for a file's path with a second `match`, keyed by `undefined` when the
   * first one was a hit (it only ever set that key on downloads): answer with the file just given.
   */
  async match(key: string | undefined): Promise<Response | string | undefined> {
    if (key === undefined) return this.lastPath;
    const file = this.fileFor(key);
    if (file === undefined || !existsSync(file) || !statSync(file).isFile()) return undefined;
    if (READ_BY_PATH.test(file)) {
      this.lastPath = file;
      return file;
    }
    const body = await readFile(file);
    return new Response(body, { headers: { 'content-length': String(body.byteLength) } });
  }

  async put(key: string, response: Response, onProgress?: DownloadProgress): Promise<void> {
    const file = this.fileFor(key);
    if (file === undefined || response.body === null) return;
    await mkdir(dirname(file), { recursive: true });
    const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    const total = Number.parseInt(response.headers.get('content-length') ?? '0', 10) || 0;
    let loaded = 0;
    const count = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
      for await (const chunk of chunks) {
        loaded += chunk.length;
        onProgress?.({ progress: total > 0 ? (loaded / total) * 100 : 0, loaded, total });
        yield chunk;
      }
    };
    try {
      await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), count, createWriteStream(partial));
      await rename(partial, file);
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }
}
