import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JobInfo } from '../../src/engine/engine.js';
import { runCli, tempHome } from '../helpers/cli.js';
import { faqZip, fullZip } from '../helpers/paths.js';
import { health, serviceEnv, stopServices } from '../helpers/service.js';

const QUESTION = 'How is data stored in milvus?';
/** A part of the whole docs: long enough to search beside (tens of seconds through the service here). */
const PART = 'en/reference/**/*.md';
const PART_CHUNKS = 918;

async function jobs(home: string): Promise<JobInfo[]> {
  return (await health(home))?.jobs ?? [];
}

function sourcesOf(stdout: string): string[] {
  return (JSON.parse(stdout) as { hits: Array<{ source: string }> }).hits.map((hit) => hit.source);
}

describe('ragoss ingest --detach', () => {
  let home: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    home = tempHome();
    env = serviceEnv(home);
    // The FAQ first (through the service it starts): the data searches must keep getting meanwhile.
    const first = await runCli(['ingest', '--source', faqZip, '--quiet'], env);
    expect(first.code, first.stderr).toBe(0);
  });
  afterAll(async () => stopServices(home, env));

  it('returns at once, searches answer from the previous data until the swap, doctor shows where it stands', async () => {
    const started = await runCli(['ingest', '--source', fullZip, '--glob', PART, '--detach', '--json'], env);
    expect(started.code, started.stderr).toBe(0);
    const job = JSON.parse(started.stdout) as JobInfo;
    expect(job).toMatchObject({ id: 1, kind: 'ingest', state: 'running', source: fullZip, collection: 'ragoss_milvus_faq' });

    const seenWhileRunning: string[][] = [];
    const progressSeen: string[] = [];
    let current: JobInfo | undefined;
    const deadline = Date.now() + 100_000;
    for (;;) {
      current = (await jobs(home)).find((candidate) => candidate.id === job.id);
      if (current?.state !== 'running' || Date.now() > deadline) break;
      progressSeen.push(current.progress);
      const search = await runCli(['search', QUESTION, '--json'], env);
      expect(search.code, search.stderr).toBe(0);
      // Only a search that began and ended while the job was still embedding must be the FAQ's: the
      // swap comes after "verifying and switching", a moment before the job reports done.
      const after = (await jobs(home)).find((candidate) => candidate.id === job.id);
      const embedding = (state: JobInfo | undefined) => state?.state === 'running' && state.progress.startsWith('embedding and storing');
      if (embedding(current) && embedding(after)) seenWhileRunning.push(sourcesOf(search.stdout));
    }
    expect(current).toMatchObject({ state: 'done', result: { chunks: PART_CHUNKS, dryRun: false }, progress: `ingested ${PART_CHUNKS} chunks into ragoss_milvus_faq` });
    expect(seenWhileRunning.length).toBeGreaterThan(0);
    expect(seenWhileRunning.flat().every((source) => source.startsWith('en/faq/'))).toBe(true);
    const progressLine = new RegExp(`^embedding and storing: \\d+/${PART_CHUNKS} chunks \\(\\d+%\\), [\\d.]+ chunks/s, \\d+s elapsed, ETA `);
    expect(progressSeen.some((line) => progressLine.test(line))).toBe(true);

    const doctor = await runCli(['doctor'], env);
    expect(doctor.stdout).toContain(`ok    ingest job 1 done (ragoss_milvus_faq from ${fullZip}): ingested ${PART_CHUNKS} chunks into ragoss_milvus_faq\n`);
    expect(doctor.stdout).toContain(`ok    collection ragoss_milvus_faq: ${PART_CHUNKS} rows`);
  });

  it('reports a job that fails in doctor, with its fix, and leaves the data serving', async () => {
    const started = await runCli(['ingest', '--source', '/nonexistent/docs.zip', '--detach'], env);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^ingest job 2 started in the ragoss service: \/nonexistent\/docs\.zip into ragoss_milvus_faq\n/);
    let failed: JobInfo | undefined;
    for (let attempt = 0; attempt < 100 && failed?.state !== 'failed'; attempt++) {
      failed = (await jobs(home)).find((candidate) => candidate.id === 2);
      await new Promise((resolveWait) => setTimeout(resolveWait, 100));
    }
    expect(failed).toMatchObject({ state: 'failed', error: { message: 'source /nonexistent/docs.zip does not exist' } });
    const doctor = await runCli(['doctor', '--json'], env);
    const checks = (JSON.parse(doctor.stdout) as { checks: Array<{ name: string; status: string; detail: string; fix?: string }> }).checks;
    expect(checks.find((check) => check.name === 'ingest job 2')).toEqual({
      name: 'ingest job 2',
      status: 'warn',
      detail: 'failed (ragoss_milvus_faq from /nonexistent/docs.zip): failed: source /nonexistent/docs.zip does not exist',
      fix: 'pass a URL, a .zip file or a directory with --source',
    });
    expect((await runCli(['search', QUESTION], env)).code).toBe(0);
  });

  it('exports and imports snapshots through the service as in-process', async () => {
    const out = join(home, 'through-service.parquet');
    const servedBefore = (await health(home))?.requestsServed ?? 0;
    const exported = await runCli(['export', '--out', out, '--json', '--quiet'], env);
    expect(exported.code, exported.stderr).toBe(0);
    expect(JSON.parse(exported.stdout)).toMatchObject({ path: out, chunks: PART_CHUNKS, collection: 'ragoss_milvus_faq' });
    const imported = await runCli(['ingest', '--source', out, '--collection', 'through_service', '--json', '--quiet'], env);
    expect(imported.code, imported.stderr).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ chunks: PART_CHUNKS, embeddedChunks: 0, collection: 'through_service' });
    expect((await health(home))?.requestsServed).toBeGreaterThanOrEqual(servedBefore + 2);
    // Round trip: the imported collection exports to the very same rows, in the same order.
    const again = await runCli(['export', '--collection', 'through_service', '--out', join(home, 'again.parquet'), '--json', '--quiet'], env);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as { rowsDigest: string }).rowsDigest).toBe((JSON.parse(exported.stdout) as { rowsDigest: string }).rowsDigest);
  });

  it('refuses --detach with the service turned off, in one line', async () => {
    const result = await runCli(['ingest', '--source', faqZip, '--detach', '--no-daemon'], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('ragoss: error: --detach hands the ingest to the ragoss service, which --no-daemon / RAGOSS_DAEMON=0 turns off — drop one of them\n');
  });
});
