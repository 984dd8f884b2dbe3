import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { InterruptedError, RagossError } from '../errors.js';
import type { Progress } from '../progress.js';
import { acquireDataLock, type DataHolder } from './data-lock.js';
import { findMilvusLite, installMilvusLite, lastLine } from './milvus-lite-install.js';
import { freePort } from '../system.js';
import { DEFAULT_LOCK_TIMEOUT_SECONDS, DEFAULT_START_TIMEOUT_SECONDS } from './timeouts.js';

export interface EmbeddedOptions {
  dataDir: string;
  home: string;
  progress: Progress;
  /** An explicit milvus-lite executable (RAGOSS_MILVUS_LITE); otherwise PATH, then ragoss's own venv. */
  executable?: string;
  startTimeoutMs?: number;
  /** How long to wait while another ragoss process uses the same data directory (default 120 s). */
  lockTimeoutMs?: number;
  /** What holds the data while this server runs: a ragoss service's hold is not waited out by commands. */
  holder?: DataHolder;
  signal?: AbortSignal;
}

export interface EmbeddedServer {
  address: string;
  pid: number | undefined;
  /** Why the server is gone, if it died while we used it. */
  deathNotice(): string | undefined;
  stop(): Promise<void>;
}

const STDERR_TAIL_BYTES = 4096;

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolveProbe(true);
    });
    socket.once('error', () => resolveProbe(false));
  });
}

async function waitForPort(port: number, gaveUp: () => boolean): Promise<boolean> {
  while (!gaveUp()) {
    if (await canConnect(port)) return true;
    await new Promise((resolveDelay) => setTimeout(resolveDelay, 50));
  }
  return false;
}


function explainStartFailure(dataDir: string, stderr: string, code: number | null): RagossError {
  if (/DataDirLockedError|holds the lock/.test(stderr)) {
    return new RagossError(
      `the embedded Milvus data in ${dataDir} is in use by another process (probably another ragoss)`,
      'wait for it to finish, or run a shared server (milvus-lite server / docker compose) and set MILVUS_URI',
    );
  }
  return new RagossError(`embedded Milvus Lite exited while starting (exit ${code}): ${lastLine(stderr) || 'no output'}`, `data directory: ${dataDir}`);
}

/**
 * The server's environment: unbuffered, so its "listening" line arrives when printed, and without
 * MILVUS_URI / MILVUS_TOKEN, which Milvus Lite's pymilvus would read as its own settings and reject.
 */
function serverEnv(): NodeJS.ProcessEnv {
  const { MILVUS_URI: _uri, MILVUS_TOKEN: _token, ...rest } = process.env;
  return { ...rest, PYTHONUNBUFFERED: '1' };
}

/**
 * Python that makes the kernel kill it when its parent dies (prctl PR_SET_PDEATHSIG), then execs
 * milvus-lite in its place: the pid and the process stay the same. Without it, a ragoss killed
 * with SIGKILL (or the OOM killer) leaves an orphan Milvus Lite holding the data lock forever.
 */
const PARENT_DEATH_WRAPPER = [
  'import ctypes, os, signal, sys',
  'ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)',
  'os.getppid() == 1 and sys.exit(1)',
  'os.execv(sys.argv[1], sys.argv[1:])',
].join('; ');

/** milvus-lite is a Python console script: its own interpreter runs the wrapper (Linux only). */
function tiedToParent(executable: string, args: string[]): { command: string; argv: string[] } {
  if (process.platform !== 'linux') return { command: executable, argv: args };
  let firstLine = '';
  try {
    const head = Buffer.alloc(256);
    const fd = openSync(executable, 'r');
    const read = readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    firstLine = head.subarray(0, read).toString('latin1').split('\n')[0] ?? '';
  } catch {
    return { command: executable, argv: args };
  }
  const interpreter = /^#!\s*(\S*python[0-9.]*)\s*$/.exec(firstLine)?.[1];
  if (interpreter === undefined || !existsSync(interpreter)) return { command: executable, argv: args };
  return { command: interpreter, argv: ['-c', PARENT_DEATH_WRAPPER, executable, ...args] };
}

/** Stops the child: SIGTERM first so it releases its lock and flushes, SIGKILL if it lingers. */
async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Starts `milvus-lite server` on a free loopback port and waits until it listens. */
export async function startEmbeddedMilvus(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const executable = findMilvusLite(options.home, options.executable) ?? (await installMilvusLite(options.home, options.progress, options.signal));
  await mkdir(options.dataDir, { recursive: true });
  const releaseLock = await acquireDataLock(options.dataDir, {
    timeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_SECONDS * 1000,
    holder: options.holder,
    signal: options.signal,
    onWait: (pid) => options.progress.warn(`waiting for another ragoss (pid ${pid}) that is using the embedded Milvus data in ${options.dataDir}`),
  });
  try {
    return await spawnMilvusLite(executable, options, releaseLock);
  } catch (error) {
    releaseLock();
    throw error;
  }
}

async function spawnMilvusLite(executable: string, options: EmbeddedOptions, releaseLock: () => void): Promise<EmbeddedServer> {
  const port = await freePort();
  const args = ['server', '--data-dir', options.dataDir, '--host', '127.0.0.1', '--port', String(port)];
  const { command, argv } = tiedToParent(executable, args);
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: serverEnv() });
  let stderr = '';
  let stdout = '';
  child.stderr?.on('data', (data: Buffer) => {
    stderr = (stderr + data.toString()).slice(-STDERR_TAIL_BYTES);
  });
  let death: string | undefined;
  let stopping = false;
  const exited = new Promise<number | null>((resolveExit) => {
    child.on('exit', (code, signal) => {
      if (!stopping) death = `embedded Milvus Lite server died (${signal ?? `exit ${code}`})${lastLine(stderr) ? `: ${lastLine(stderr)}` : ''}`;
      resolveExit(code);
    });
  });
  const spawnFailed = new Promise<Error>((resolveError) => child.on('error', resolveError));
  // A crash of ragoss itself must not leave an orphan server holding the data lock.
  const killOnExit = () => {
    child.kill('SIGKILL');
    releaseLock();
  };
  process.once('exit', killOnExit);

  const listening = new Promise<void>((resolveListening) => {
    child.stdout?.on('data', (data: Buffer) => {
      stdout = (stdout + data.toString()).slice(-STDERR_TAIL_BYTES);
      if (stdout.includes('listening')) resolveListening();
    });
    // The port accepting connections is the real sign of life, whatever the log says.
    void waitForPort(port, () => child.exitCode !== null || child.signalCode !== null).then((up) => up && resolveListening());
  });
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_SECONDS * 1000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
  });
  // Ctrl-C while it starts stops it at once: a server that never listens would hold the command for the whole timeout.
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<'aborted'>((resolveAbort) => {
    onAbort = () => resolveAbort('aborted');
    if (options.signal?.aborted === true) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
  const outcome = await Promise.race([listening.then(() => 'up' as const), exited.then((code) => ({ code })), spawnFailed, timedOut, aborted]);
  clearTimeout(timer);
  if (onAbort !== undefined) options.signal?.removeEventListener('abort', onAbort);
  const stop = async () => {
    stopping = true;
    await stopChild(child);
    // Only now: a second Ctrl-C exits while stopChild waits, and the exit handler must still kill it.
    process.removeListener('exit', killOnExit);
    releaseLock();
  };
  if (outcome !== 'up') {
    await stop();
    if (outcome === 'aborted') throw new InterruptedError();
    if (outcome === 'timeout') {
      throw new RagossError(
        `embedded Milvus Lite did not start within ${timeoutMs / 1000}s${lastLine(stderr) ? `: ${lastLine(stderr)}` : ''}`,
        `raise RAGOSS_START_TIMEOUT on a slow machine, or check the data directory ${options.dataDir}`,
      );
    }
    if (outcome instanceof Error) {
      throw new RagossError(`cannot run ${executable}: ${outcome.message}`, 'reinstall it by deleting the venv under the ragoss home, or set MILVUS_URI to a Milvus server');
    }
    throw explainStartFailure(options.dataDir, stderr, outcome.code);
  }
  return { address: `127.0.0.1:${port}`, pid: child.pid, deathNotice: () => death, stop };
}
