import { existsSync, readFileSync, rmSync } from 'node:fs';
import { link, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { InterruptedError, RagossError } from '../errors.js';

/** The pid that holds the lock file, or undefined when it is gone or unreadable. */
function holderOf(lockPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const HAS_PROC = existsSync('/proc/self/stat');

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  if (!HAS_PROC) return true;
  // A zombie (exited, not yet reaped: a detached service's parent is gone) is dead for our purposes.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.charAt(stat.lastIndexOf(')') + 2) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Creates `path` holding `content`, or returns false if it exists. Atomic: the file appears with
 * its content (written to a temporary file, then hard-linked into place), so a racing reader never
 * sees it empty and takes it for a stale leftover.
 */
export async function createExclusive(path: string, content: string): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, content, { mode: 0o600 });
  try {
    await link(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    await rm(temporary, { force: true });
  }
}

const tryCreate = (lockPath: string) => createExclusive(lockPath, `${process.pid}\n`);

export interface DataLockOptions {
  timeoutMs: number;
  /** Called once, when the lock is held by another live process and we start waiting. */
  onWait(holderPid: number): void;
  signal?: AbortSignal;
}

const POLL_MS = 200;

/**
 * Takes ragoss's lock on an embedded Milvus data directory, waiting (bounded) while another ragoss
 * process holds it. Milvus Lite has a lock of its own, but it fails at once and only after a
 * second of Python start-up; this one lets two commands on the same data take turns. A lock left
 * by a dead process is taken over. Returns the release function.
 */
export async function acquireDataLock(dataDir: string, options: DataLockOptions): Promise<() => void> {
  const lockPath = join(dataDir, '.ragoss.lock');
  const deadline = Date.now() + options.timeoutMs;
  let waiting = false;
  for (;;) {
    if (await tryCreate(lockPath)) {
      let released = false;
      // Idempotent, and never removes a lock that another process has taken since.
      return () => {
        if (released) return;
        released = true;
        if (holderOf(lockPath) === process.pid) rmSync(lockPath, { force: true });
      };
    }
    const holder = holderOf(lockPath);
    if (holder === undefined || holder === process.pid || !processAlive(holder)) {
      // Stale: its process is gone (killed, crashed) or the file is half-written garbage.
      await rm(lockPath, { force: true });
      continue;
    }
    if (!waiting) {
      waiting = true;
      options.onWait(holder);
    }
    if (Date.now() >= deadline) {
      throw new RagossError(
        `the embedded Milvus data in ${dataDir} is in use by another process (pid ${holder}) and stayed busy for ${Math.round(options.timeoutMs / 1000)}s`,
        'wait for it to finish (raise RAGOSS_LOCK_TIMEOUT), stop a ragoss service with `ragoss serve --stop`, or use MILVUS_URI with a Milvus server',
      );
    }
    if (options.signal?.aborted) throw new InterruptedError();
    await new Promise((resolveDelay) => setTimeout(resolveDelay, POLL_MS));
  }
}
