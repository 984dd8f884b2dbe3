import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { probeService } from '../../src/service/client.js';
import { processAlive } from '../../src/system.js';
import type { ServiceHealth } from '../../src/service/identity.js';
import { servicePaths } from '../../src/service/paths.js';
import { baseEnv, runCli } from './cli.js';
import { binPath, milvusLiteExecutable, projectRoot, tinyModel } from './paths.js';

/** Env for commands on the embedded default with the service allowed (no CI, no RAGOSS_DAEMON). */
export function serviceEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  return baseEnv({ RAGOSS_HOME: home, RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_MILVUS_LITE: milvusLiteExecutable(), RAGOSS_DAEMON: undefined, ...extra });
}

export function health(home: string): Promise<ServiceHealth | undefined> {
  return probeService(servicePaths(home).socket);
}

export function pidRecord(home: string): { pid: number; autoStarted: boolean } | undefined {
  const file = servicePaths(home).pidFile;
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { pid: number; autoStarted: boolean }) : undefined;
}

/** The pid in the service's pid file. Throws when there is none: 0 would signal the test's whole process group. */
export function recordedPid(home: string): number {
  const pid = pidRecord(home)?.pid;
  if (pid === undefined || pid <= 0) throw new Error(`no ragoss service pid file in ${home}`);
  return pid;
}

/** Alive and not a zombie (a detached service's parent is gone, so nobody may reap it at once). */
export function alive(pid: number): boolean {
  return processAlive(pid);
}

/** Resolves once `pid` is gone (polls: an unrelated process cannot be waited on otherwise). */
export async function waitGone(pid: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolveWait) => setTimeout(resolveWait, 25));
  return !alive(pid);
}

/** Running ragoss services (from this checkout) serving `home`, read from /proc. */
export function servicesFor(home: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirProc()) {
    try {
      const command = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!command.includes(binPath) || !command.includes('serve')) continue;
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      if (environ.includes(`RAGOSS_HOME=${home}`)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function readdirProc(): string[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
}

/** Milvus Lite processes on `dataDir`. */
export function milvusLiteOn(dataDir: string): number[] {
  return readdirProc().filter((entry) => {
    try {
      return readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(dataDir);
    } catch {
      return false;
    }
  }).map(Number);
}

/** Stops whatever service serves `home` and waits until it is gone. */
export async function stopServices(home: string, env: Record<string, string>): Promise<void> {
  await runCli(['serve', '--stop'], env);
  for (const pid of servicesFor(home)) {
    process.kill(pid, 'SIGTERM');
    await waitGone(pid);
  }
}

export interface LiveCli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves when stderr contains `text`. */
  waitForStderr(text: string | RegExp): Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The CLI as a live child, for tests that act while it runs (interrupt it, kill its service). */
export function spawnCli(args: string[], env: Record<string, string>): LiveCli {
  const child = spawn(process.execPath, [binPath, ...args], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters: Array<{ text: string | RegExp; resolve: () => void }> = [];
  const matches = (text: string | RegExp) => (typeof text === 'string' ? stderr.includes(text) : text.test(stderr));
  child.stdout?.on('data', (data: Buffer) => (stdout += data.toString()));
  child.stderr?.on('data', (data: Buffer) => {
    stderr += data.toString();
    for (const waiter of waiters.filter((candidate) => matches(candidate.text))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const timer = setTimeout(() => child.kill('SIGTERM'), 110_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveExit({ code, signal });
    }),
  );
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForStderr: (text) => (matches(text) ? Promise.resolve() : new Promise((resolveWait) => waiters.push({ text, resolve: resolveWait }))),
    exited,
  };
}

export function socketOf(home: string): string {
  return servicePaths(home).socket;
}

export function dataDirOf(home: string): string {
  return join(home, 'milvus');
}
