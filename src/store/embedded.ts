import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { RagossError } from '../errors.js';
import type { Progress } from '../progress.js';

/** Pinned so every machine runs the Milvus Lite that ragoss was tested with. */
export const MILVUS_LITE_REQUIREMENTS = ['milvus-lite==3.2.2', 'pymilvus==3.0.2'];

export interface EmbeddedOptions {
  dataDir: string;
  home: string;
  progress: Progress;
  /** An explicit milvus-lite executable (RAGOSS_MILVUS_LITE); otherwise PATH, then ragoss's own venv. */
  executable?: string;
  startTimeoutMs?: number;
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

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

export function venvDir(home: string): string {
  return join(home, 'venv');
}

export function findMilvusLite(home: string, explicit?: string): string | undefined {
  if (explicit !== undefined) return explicit;
  const own = join(venvDir(home), 'bin', 'milvus-lite');
  return findOnPath('milvus-lite') ?? (existsSync(own) ? own : undefined);
}

function findPython(): string | undefined {
  for (const candidate of ['python3', 'python']) {
    const probe = spawnSync(candidate, ['-c', 'import sys, venv; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() === '3') return candidate;
  }
  return undefined;
}

async function runLogged(command: string, args: string[], logPath: string, signal?: AbortSignal): Promise<void> {
  const log = await open(logPath, 'a');
  try {
    const code = await new Promise<number | null>((resolveExit, rejectExit) => {
      const child = spawn(command, args, { stdio: ['ignore', log.fd, log.fd], signal });
      child.on('error', rejectExit);
      child.on('exit', resolveExit);
    });
    if (code !== 0) {
      throw new RagossError(`\`${command} ${args.join(' ')}\` failed (exit ${code})`, `see ${logPath}`);
    }
  } finally {
    await log.close();
  }
}

/** Creates ragoss's own venv with a pinned Milvus Lite: done once, on first use. */
export async function installMilvusLite(home: string, progress: Progress, signal?: AbortSignal): Promise<string> {
  const python = findPython();
  if (python === undefined) {
    throw new RagossError(
      'embedded Milvus needs Python 3 (with venv), and none was found',
      'install Python 3 (e.g. apt-get install python3 python3-venv), or run Milvus with `docker compose up -d` and set MILVUS_URI=http://localhost:19530',
    );
  }
  const venv = venvDir(home);
  await mkdir(home, { recursive: true });
  const logPath = join(home, 'venv-install.log');
  progress.step(`installing Milvus Lite into ${venv} (once; log: ${logPath})`);
  const task = progress.task('installing Milvus Lite', 2, 'files');
  await runLogged(python, ['-m', 'venv', venv], logPath, signal);
  task.update(1);
  await runLogged(join(venv, 'bin', 'pip'), ['install', '--disable-pip-version-check', ...MILVUS_LITE_REQUIREMENTS], logPath, signal);
  task.update(2);
  task.done();
  return join(venv, 'bin', 'milvus-lite');
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, rejectPort) => {
    const server = createServer();
    server.unref();
    server.on('error', rejectPort);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

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

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1]?.trim() ?? '';
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
  const port = await freePort();
  const child = spawn(executable, ['server', '--data-dir', options.dataDir, '--host', '127.0.0.1', '--port', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: serverEnv(),
  });
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
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const listening = new Promise<void>((resolveListening) => {
    child.stdout?.on('data', (data: Buffer) => {
      stdout = (stdout + data.toString()).slice(-STDERR_TAIL_BYTES);
      if (stdout.includes('listening')) resolveListening();
    });
    // The port accepting connections is the real sign of life, whatever the log says.
    void waitForPort(port, () => child.exitCode !== null || child.signalCode !== null).then((up) => up && resolveListening());
  });
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolveTimeout) => {
    timer = setTimeout(() => resolveTimeout('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([listening.then(() => 'up' as const), exited.then((code) => ({ code })), spawnFailed, timedOut]);
  clearTimeout(timer);
  const stop = async () => {
    stopping = true;
    process.removeListener('exit', killOnExit);
    await stopChild(child);
  };
  if (outcome !== 'up') {
    await stop();
    if (outcome === 'timeout') {
      throw new RagossError(`embedded Milvus Lite did not start within ${timeoutMs / 1000}s${lastLine(stderr) ? `: ${lastLine(stderr)}` : ''}`, `data directory: ${options.dataDir}`);
    }
    if (outcome instanceof Error) {
      throw new RagossError(`cannot run ${executable}: ${outcome.message}`, 'reinstall it by deleting the venv under the ragoss home, or set MILVUS_URI to a Milvus server');
    }
    throw explainStartFailure(options.dataDir, stderr, outcome.code);
  }
  return { address: `127.0.0.1:${port}`, pid: child.pid, deathNotice: () => death, stop };
}
