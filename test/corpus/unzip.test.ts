import AdmZip from 'adm-zip';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractZip, safeEntryPath } from '../../src/corpus/unzip.js';
import { RagossError } from '../../src/errors.js';
import { faqDir, faqZip } from '../helpers/paths.js';

type Entries = Array<[name: string, content: string | Buffer]>;

/**
 * adm-zip's addFile strips "../" and leading "/" from names, so every entry is added under a
 * harmless placeholder and then renamed: the archive then carries the name exactly as given.
 */
function buildZip(entries: Entries): Buffer {
  const zip = new AdmZip();
  entries.forEach(([, content], index) => zip.addFile(`placeholder-${index}`, Buffer.from(content)));
  zip.getEntries().forEach((entry, index) => {
    entry.entryName = (entries[index] as [string, unknown])[0];
  });
  return zip.toBuffer();
}

function entryNames(zip: Buffer): string[] {
  return new AdmZip(zip).getEntries().map((entry) => entry.entryName);
}

/** Every name under `dir`, recursively, "/"-separated and sorted. */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => name.split('\\').join('/'))
    .sort();
}

async function extractionError(run: () => Promise<unknown>): Promise<RagossError> {
  const error: unknown = await run().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RagossError);
  return error as RagossError;
}

/** Flips bytes in the middle of the named entry's compressed data, leaving every header intact. */
function corruptEntryData(zip: Buffer, name: string): Buffer {
  const entry = new AdmZip(zip).getEntry(name);
  if (entry === null) throw new Error(`no entry ${name}`);
  const local = entry.header.offset;
  const dataStart = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
  const damaged = Buffer.from(zip);
  const middle = dataStart + Math.floor(entry.header.compressedSize / 2);
  for (let i = middle; i < middle + 8; i++) damaged[i] = (damaged[i] as number) ^ 0xff;
  return damaged;
}

describe('safeEntryPath', () => {
  it.each([
    ['en/faq/product_faq.md', 'en/faq/product_faq.md'],
    ['./en/a.md', 'en/a.md'],
    ['en/x/../a.md', 'en/a.md'],
    ['en\\faq\\a.md', 'en/faq/a.md'],
  ])('keeps %s as %s', (name, expected) => {
    expect(safeEntryPath(name)).toBe(expected);
  });

  it.each(['../evil.txt', '/tmp/evil.txt', '..\\evil.txt', 'en/../../evil.txt', 'C:/evil.txt', 'C:evil.txt', '\\\\server\\share\\evil.txt', '..', '.', 'en/..', ''])(
    'refuses %s',
    (name) => {
      expect(safeEntryPath(name)).toBeUndefined();
    },
  );
});

describe('extractZip', () => {
  let work: string;
  let zipPath: string;
  let target: string;

  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), 'ragoss-unzip-'));
    zipPath = join(work, 'archive.zip');
    target = join(work, 'out');
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  /** After a failure the work dir holds only the zip: no target, no staging dir, nothing escaped. */
  function expectNothingWritten(): void {
    expect(readdirSync(work)).toEqual(['archive.zip']);
  }

  it('extracts the FAQ zip byte for byte', async () => {
    expect(await extractZip(faqZip, target)).toBe(4);
    const files = tree(target).filter((name) => name.endsWith('.md'));
    expect(files).toEqual(['en/faq/operational_faq.md', 'en/faq/performance_faq.md', 'en/faq/product_faq.md', 'en/faq/troubleshooting.md']);
    for (const file of files) expect(readFileSync(join(target, file)).equals(readFileSync(join(faqDir, file)))).toBe(true);
    expect(readdirSync(work)).toEqual(['out']);
  });

  it('replaces an existing target whole', async () => {
    writeFileSync(zipPath, buildZip([['docs/a.md', '# a\n']]));
    mkdirSync(join(target, 'stale'), { recursive: true });
    writeFileSync(join(target, 'stale', 'old.md'), 'old');
    expect(await extractZip(zipPath, target)).toBe(1);
    expect(tree(target)).toEqual(['docs', 'docs/a.md']);
  });

  it.each([
    ['a parent-directory entry', () => '../evil.txt'],
    ['a nested parent-directory entry', () => 'docs/../../evil.txt'],
    ['a backslash parent-directory entry', () => '..\\evil.txt'],
    ['an absolute entry', () => '/tmp/evil.txt'],
    ['an absolute entry into the parent directory', (parent: string) => join(parent, 'evil.txt')],
  ])('refuses %s and writes nothing outside', async (_label, nameIn) => {
    const badName = nameIn(work);
    const zip = buildZip([
      ['docs/a.md', '# a\n'],
      [badName, 'evil'],
    ]);
    // Guards the test itself: the archive must really carry the hostile name.
    expect(entryNames(zip)).toContain(badName);
    expect(zip.includes(Buffer.from(badName))).toBe(true);
    writeFileSync(zipPath, zip);
    const error = await extractionError(() => extractZip(zipPath, target));
    expect(error.message).toContain(badName);
    expect(error.message).toMatch(/outside the target directory/);
    expectNothingWritten();
  });

  it('refuses an archive that unpacks past maxTotalBytes as a likely zip bomb', async () => {
    const zip = buildZip([['zeros.bin', Buffer.alloc(2 * 1024 * 1024)]]);
    expect(zip.length).toBeLessThan(64 * 1024);
    writeFileSync(zipPath, zip);
    const error = await extractionError(() => extractZip(zipPath, target, { maxTotalBytes: 1024 * 1024, maxEntries: 10 }));
    expect(error.message).toMatch(/zip bomb/);
    expectNothingWritten();
  });

  it('refuses an archive with more entries than maxEntries', async () => {
    writeFileSync(zipPath, buildZip([['a.md', 'a'], ['b.md', 'b'], ['c.md', 'c']]));
    const error = await extractionError(() => extractZip(zipPath, target, { maxTotalBytes: 1024, maxEntries: 2 }));
    expect(error.message).toMatch(/3 entries/);
    expectNothingWritten();
  });

  it.each([
    ['a plain text file', () => Buffer.from('this is not a zip archive\n')],
    ['an empty file', () => Buffer.alloc(0)],
    ['the FAQ zip cut in half', () => readFileSync(faqZip).subarray(0, Math.floor(readFileSync(faqZip).length / 2))],
  ])('gives a RagossError for %s', async (_label, bytes) => {
    writeFileSync(zipPath, bytes());
    const error = await extractionError(() => extractZip(zipPath, target));
    expect(error.message).toContain(zipPath);
    expectNothingWritten();
  });

  it('gives a RagossError, not a file-system crash, for entries that clash on disk', async () => {
    writeFileSync(zipPath, buildZip([['docs/a', 'a file'], ['docs/a/b.md', 'under a file']]));
    const error = await extractionError(() => extractZip(zipPath, target));
    expect(error.message).toMatch(/entry "docs\/a\/b\.md" cannot be extracted/);
    expectNothingWritten();
  });

  it('leaves no half-extracted tree when a later entry is damaged, and keeps the old target', async () => {
    const text = Array.from({ length: 400 }, (_, i) => `line ${i} of the second document, ${(i * 7919) % 1013}\n`).join('');
    const zip = corruptEntryData(buildZip([['docs/a.md', '# first\n'], ['docs/b.md', text]]), 'docs/b.md');
    writeFileSync(zipPath, zip);
    mkdirSync(target);
    writeFileSync(join(target, 'previous.md'), 'previous extraction');
    const error = await extractionError(() => extractZip(zipPath, target));
    expect(error.message).toMatch(/docs\/b\.md.*damaged/);
    expect(readdirSync(work).sort()).toEqual(['archive.zip', 'out']);
    expect(tree(target)).toEqual(['previous.md']);
  });
});
