import AdmZip from 'adm-zip';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseEnv, runCli, tempHome, type CliResult } from '../helpers/cli.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { faqZip } from '../helpers/paths.js';

/** adm-zip's addFile strips "../", so the hostile name is set by renaming the entry afterwards. */
function zipWithEntry(name: string): Buffer {
  const zip = new AdmZip();
  zip.addFile('en/faq/a.md', Buffer.from('# a\n'));
  zip.addFile('placeholder', Buffer.from('evil'));
  const entry = zip.getEntry('placeholder');
  if (entry === null) throw new Error('placeholder entry missing');
  entry.entryName = name;
  return zip.toBuffer();
}

/** The one-line error contract: a single "ragoss: error:" line, no stack, nothing on stdout. */
function expectOneErrorLine(result: CliResult, exitCode: number, problem: RegExp): void {
  const lines = result.stderr.split('\n');
  const errorLines = lines.filter((line) => line.startsWith('ragoss: error:'));
  expect(result.code, result.stderr).toBe(exitCode);
  expect(errorLines).toHaveLength(1);
  expect(errorLines[0]).toMatch(problem);
  expect(lines.filter((line) => line.startsWith('    at '))).toEqual([]);
  expect(result.stderr).not.toContain('unexpected error');
  expect(result.stdout).toBe('');
}

describe('ragoss ingest with bad input', () => {
  const milvusUri = inject('milvusUri');
  let home: string;
  let work: string;
  let server: FileServer;
  let env: Record<string, string>;
  const ingest = (...args: string[]) => runCli(['ingest', '--milvus-uri', milvusUri, ...args], env, { timeoutMs: 60_000 });

  beforeAll(async () => {
    home = tempHome();
    work = mkdtempSync(join(tmpdir(), 'ragoss-bad-'));
    server = await startFileServer({ '/gone.zip': { kind: 'status', status: 404 } });
    env = baseEnv({ RAGOSS_HOME: home, RAGOSS_COLLECTION: `bad_input_${Date.now().toString(36)}` });
  });
  afterAll(async () => {
    await server.close();
    await rm(home, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  function file(name: string, bytes: Buffer | string): string {
    const path = join(work, name);
    writeFileSync(path, bytes);
    return path;
  }

  /** Nothing extracted or downloaded survives a failed ingest in RAGOSS_HOME. */
  function expectNoLeftovers(): void {
    for (const dir of ['sources', 'downloads']) {
      const path = join(home, dir);
      const files = readdirSync(home).includes(dir) ? readdirSync(path, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile()) : [];
      expect(files.map((entry) => entry.name)).toEqual([]);
    }
  }

  it('reports a 404 URL', async () => {
    const result = await ingest('--source', server.url('/gone.zip'));
    expectOneErrorLine(result, 1, /download of .*\/gone\.zip failed: HTTP 404/);
    expectNoLeftovers();
  });

  it('reports a file that is not a zip', async () => {
    const result = await ingest('--source', file('text.zip', 'just some text\n'));
    expectOneErrorLine(result, 1, /text\.zip: not a readable zip archive/);
    expectNoLeftovers();
  });

  it('reports a truncated zip', async () => {
    const whole = readFileSync(faqZip);
    const result = await ingest('--source', file('half.zip', whole.subarray(0, Math.floor(whole.length / 2))));
    expectOneErrorLine(result, 1, /half\.zip: not a readable zip archive/);
    expectNoLeftovers();
  });

  it('refuses a zip with a ../ entry', async () => {
    const zip = zipWithEntry('../evil.txt');
    expect(new AdmZip(zip).getEntries().map((entry) => entry.entryName)).toContain('../evil.txt');
    const result = await ingest('--source', file('evil.zip', zip));
    expectOneErrorLine(result, 1, /evil\.zip: entry "\.\.\/evil\.txt" would be written outside the target directory/);
    expectNoLeftovers();
    // The entry would land beside the extraction directory (under sources/) or above the home.
    expect(readdirSync(home, { recursive: true }).map(String).filter((path) => path.endsWith('evil.txt'))).toEqual([]);
    expect(readdirSync(join(home, '..'))).not.toContain('evil.txt');
  });

  it('reports a glob that matches nothing', async () => {
    const result = await ingest('--source', faqZip, '--glob', 'nope/*.md');
    expectOneErrorLine(result, 1, /no files in .* match "nope\/\*\.md"/);
  });

  it('reports a glob with an unclosed brace as a usage error', async () => {
    const result = await ingest('--source', faqZip, '--glob', 'en/{faq');
    expectOneErrorLine(result, 2, /glob "en\/\{faq" has an unclosed "\{"/);
  });
});

describe('ragoss ingest --dry-run', () => {
  const milvusUri = inject('milvusUri');
  let home: string;
  let env: Record<string, string>;

  beforeAll(() => {
    home = tempHome();
    env = baseEnv({ RAGOSS_HOME: home });
  });
  afterAll(async () => {
    await rm(home, { recursive: true, force: true });
  });

  it('reports 72 chunks in 4 files', async () => {
    const result = await runCli(['ingest', '--dry-run', '--source', faqZip, '--milvus-uri', milvusUri], env);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^\s+72 {2}chunks in 4 files \(dry run: nothing written\)$/m);
    for (const [chunks, name] of [[19, 'operational_faq.md'], [7, 'performance_faq.md'], [33, 'product_faq.md'], [13, 'troubleshooting.md']] as const) {
      expect(result.stdout).toMatch(new RegExp(`^\\s+${chunks} {2}en/faq/${name}$`, 'm'));
    }
  });

  it('prints one JSON object with --json', async () => {
    const result = await runCli(['ingest', '--dry-run', '--json', '--source', faqZip, '--milvus-uri', milvusUri], env);
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0] as string) as { dryRun: boolean; totalFiles: number; totalChunks: number; files: Array<{ path: string; chunks: number }> };
    expect(report).toMatchObject({ dryRun: true, totalFiles: 4, totalChunks: 72 });
    expect(report.files.reduce((sum, entry) => sum + entry.chunks, 0)).toBe(72);
  });
});
