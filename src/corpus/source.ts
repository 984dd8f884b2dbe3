import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { RagossError } from '../errors.js';
import type { Progress } from '../progress.js';
import { download, displayUrl } from './download.js';
import { globToRegExp } from './glob.js';
import { extractZip } from './unzip.js';

export interface SourceDocument {
  /** Path relative to the corpus root, "/"-separated, e.g. "en/faq/product_faq.md". */
  path: string;
  text: string;
}

export interface CorpusOptions {
  source: string;
  glob: string;
  home: string;
  progress: Progress;
  refresh?: boolean;
  signal?: AbortSignal;
}

export function isUrl(source: string): boolean {
  return /^https?:\/\//i.test(source);
}

async function listFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(root, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

// ignoreBOM keeps a BOM in the text, as the seed's reader does, so chunks match it byte for byte.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Buffer, path: string): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new RagossError(`${path} is not valid UTF-8 text`, 'convert it to UTF-8 or leave it out with a narrower --glob');
  }
}

async function corpusRoot(options: CorpusOptions): Promise<string> {
  const { source, home, progress } = options;
  let zipPath: string;
  if (isUrl(source)) {
    zipPath = (await download(source, { cacheDir: join(home, 'downloads'), progress, refresh: options.refresh, signal: options.signal })).path;
  } else {
    const local = resolve(source);
    if (!existsSync(local)) {
      throw new RagossError(`source ${source} does not exist`, 'pass a URL, a .zip file or a directory with --source');
    }
    if ((await stat(local)).isDirectory()) return local;
    zipPath = local;
  }
  const { size, mtimeMs } = await stat(zipPath);
  const key = createHash('sha256').update(`${zipPath}\0${size}\0${mtimeMs}`).digest('hex').slice(0, 16);
  const target = join(home, 'sources', key);
  progress.step(`unzipping ${isUrl(source) ? displayUrl(source) : zipPath}`);
  await extractZip(zipPath, target);
  return target;
}

/** Resolves the source (URL, zip or directory) and reads the files the glob selects. */
export async function loadCorpus(options: CorpusOptions): Promise<SourceDocument[]> {
  const root = await corpusRoot(options);
  const pattern = globToRegExp(options.glob);
  const paths = (await listFiles(root)).filter((path) => pattern.test(path));
  if (paths.length === 0) {
    throw new RagossError(`no files in ${isUrl(options.source) ? displayUrl(options.source) : options.source} match "${options.glob}"`, 'check --glob (e.g. "en/faq/*.md")');
  }
  const documents: SourceDocument[] = [];
  for (const path of paths) {
    const bytes = await readFile(join(root, path));
    if (bytes.length === 0) {
      throw new RagossError(`${path} is empty`, 'remove it from the source or leave it out with a narrower --glob');
    }
    documents.push({ path, text: decodeUtf8(bytes, path) });
  }
  return documents;
}

/** sha256 over the documents (path and text, in path order): the same docs give the same digest, zip or folder. */
export function corpusDigest(documents: readonly SourceDocument[]): string {
  const hash = createHash('sha256');
  for (const document of documents) hash.update(`${document.path}\0${document.text}\0`);
  return hash.digest('hex');
}
