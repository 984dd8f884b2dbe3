import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadCorpus, type CorpusOptions, type SourceDocument } from '../../src/corpus/source.js';
import { splitSeed as splitMarkdown } from '../../src/corpus/chunk.js';
import { ExitCode, RagossError } from '../../src/errors.js';
import { silentProgress } from '../../src/progress.js';
import { startFileServer } from '../helpers/http-server.js';
import { faqDir, faqZip, fullZip } from '../helpers/paths.js';

const FAQ_GLOB = 'en/faq/*.md';
const FAQ_FILES = ['en/faq/operational_faq.md', 'en/faq/performance_faq.md', 'en/faq/product_faq.md', 'en/faq/troubleshooting.md'];

function chunkCount(documents: SourceDocument[]): number {
  return documents.reduce((sum, document) => sum + splitMarkdown(document.text).length, 0);
}

async function loadError(options: CorpusOptions): Promise<RagossError> {
  const error: unknown = await loadCorpus(options).then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RagossError);
  return error as RagossError;
}

describe('loadCorpus', () => {
  let home: string;
  let work: string;
  const options = (source: string, glob = FAQ_GLOB): CorpusOptions => ({ source, glob, home, progress: silentProgress });

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'ragoss-home-'));
    work = mkdtempSync(join(tmpdir(), 'ragoss-src-'));
  });
  afterEach(async () => {
    await rm(home, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  /** A directory source holding `files`, for inputs no zip in ../shared has. */
  function directorySource(files: Record<string, string | Buffer>): string {
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(work, path, '..'), { recursive: true });
      writeFileSync(join(work, path), content);
    }
    return work;
  }

  it('reads the 4 FAQ files (72 chunks) from the FAQ zip', async () => {
    const documents = await loadCorpus(options(faqZip));
    expect(documents.map((document) => document.path)).toEqual(FAQ_FILES);
    expect(chunkCount(documents)).toBe(72);
  });

  it('reads the same texts from the unzipped directory', async () => {
    const fromZip = await loadCorpus(options(faqZip));
    const fromDir = await loadCorpus(options(faqDir));
    expect(fromDir).toEqual(fromZip);
  });

  it('reads the same texts from a URL, then from the download cache', async () => {
    const server = await startFileServer({ '/docs.zip': { kind: 'file', file: faqZip } });
    try {
      const fromZip = await loadCorpus(options(faqZip));
      expect(await loadCorpus(options(server.url('/docs.zip')))).toEqual(fromZip);
      expect(await loadCorpus(options(server.url('/docs.zip')))).toEqual(fromZip);
      expect(server.hits('/docs.zip')).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('reads 224 documents and 4,894 chunks from the full zip with en/**/*.md', async () => {
    const documents = await loadCorpus(options(fullZip, 'en/**/*.md'));
    expect(documents).toHaveLength(224);
    expect(chunkCount(documents)).toBe(4894);
  });

  it('fails when the glob matches nothing', async () => {
    const error = await loadError(options(faqZip, 'nope/*.md'));
    expect(error.message).toContain('"nope/*.md"');
  });

  it('fails with a usage error on a glob with an unclosed brace', async () => {
    const error = await loadError(options(faqZip, 'en/{faq'));
    expect(error.message).toContain('en/{faq');
    expect(error.exitCode).toBe(ExitCode.usage);
  });

  it('fails naming a file that is not UTF-8', async () => {
    const source = directorySource({ 'en/faq/good.md': '# fine\n', 'en/faq/latin1.md': Buffer.from([0xff, 0xfe, 0x00]) });
    const error = await loadError(options(source));
    expect(error.message).toContain('en/faq/latin1.md');
    expect(error.message).toMatch(/UTF-8/);
  });

  it('fails naming an empty file', async () => {
    const source = directorySource({ 'en/faq/good.md': '# fine\n', 'en/faq/empty.md': '' });
    const error = await loadError(options(source));
    expect(error.message).toContain('en/faq/empty.md');
    expect(error.message).toMatch(/empty/);
  });

  it('fails when the source path does not exist', async () => {
    const missing = join(work, 'no-such-docs.zip');
    const error = await loadError(options(missing));
    expect(error.message).toContain(missing);
  });
});
