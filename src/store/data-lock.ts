import { readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InterruptedError, RagossError } from '../errors.js';
import { createExclusive, processAlive } from '../system.js';

/** The pid that holds the lock file, or undefined when it is gone or unreadable. */
function holderOf(lockPath: string): number | undefined {
  try {
    const pid = Number(readFileSync(lockPath, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
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
