import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineProgress } from '../src/progress.js';
import { installMilvusLite } from '../src/store/milvus-lite-install.js';
import type { TestProject } from 'vitest/node';
import { binPath, milvusLiteExecutable, projectRoot, testVenv } from './helpers/paths.js';
import { provisionMilvusServer, startTestMilvus, type TestMilvus } from './helpers/milvus-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    milvusUri: string;
    /** Which Milvus the suite runs against: Milvus Lite, or a real Milvus standalone server. */
    milvusBackend: 'lite' | 'server';
  }
}

let milvus: TestMilvus | undefined;
/**
 * Every temporary directory the run makes (homes, venvs, models, data) goes under this one: test
 * workers inherit TMPDIR, and teardown removes the lot, after checking nothing still runs in it.
 */
let runTmp: string | undefined;

/** One Milvus Lite server for the whole run; each test file uses its own collection names. */
export async function setup(project: TestProject): Promise<void> {
  runTmp = mkdtempSync(join(tmpdir(), 'ragoss-test-run-'));
  process.env['TMPDIR'] = runTmp;
  // A fresh clone has no venv: `npm install && npm test` provisions it with ragoss's own installer,
  // and the real server's venv beside it when that project runs too (both pip installs at once: on a
  // fresh machine they are mostly downloads, and the server's setup then finds its venv ready).
  const installs: Array<Promise<unknown>> = [];
  if (!existsSync(milvusLiteExecutable())) {
    installs.push(installMilvusLite(projectRoot, lineProgress((line) => process.stderr.write(`${line}\n`)), undefined, testVenv));
  }
  if (project.vitest.projects.some((selected) => selected.name === 'server')) installs.push(provisionMilvusServer());
  await Promise.all(installs);
  milvus = await startTestMilvus();
  project.provide('milvusUri', milvus.uri);
  project.provide('milvusBackend', 'lite');
}

/** Every process on the machine, with its command line. */
function processes(): Array<{ pid: number; command: string }> {
  return execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), command: match[2] as string }));
}

/** ragoss services started by this checkout's tests (their homes are test temp homes), still running. */
function leftoverServices(): Array<{ pid: number; command: string }> {
  return processes().filter(({ pid, command }) => command.includes(`${binPath} serve`) && homeOf(pid).includes('ragoss-home-'));
}

function homeOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((entry) => entry.startsWith('RAGOSS_HOME=')) ?? '';
  } catch {
    return '';
  }
}

/** Processes other than this one whose command line names a path under the run's temp root. */
function processesUnder(root: string): Array<{ pid: number; command: string }> {
  return processes().filter(({ pid, command }) => pid !== process.pid && command.includes(root) && !command.startsWith('ps '));
}

export async function teardown(): Promise<void> {
  await milvus?.stop();
  // Every test stops what it starts; one that did not fails the run (after cleaning up for it).
  const left = leftoverServices();
  for (const { pid } of left) process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 10_000;
  while (leftoverServices().length > 0 && Date.now() < deadline) await new Promise((resolveWait) => setTimeout(resolveWait, 100));
  for (const { pid } of leftoverServices()) process.kill(pid, 'SIGKILL');
  // An embedded Milvus Lite a CLI run left behind (its data dir is in a test home) fails it too.
  const orphans = runTmp === undefined ? [] : processesUnder(runTmp);
  for (const { pid } of orphans) process.kill(pid, 'SIGKILL');
  if (runTmp !== undefined) rmSync(runTmp, { recursive: true, force: true });
  const problems = [...left.map((service) => `service ${service.pid} ${service.command}`), ...orphans.map((orphan) => `process ${orphan.pid} ${orphan.command}`)];
  if (problems.length > 0) throw new Error(`tests left processes running: ${problems.join('; ')}`);
}
