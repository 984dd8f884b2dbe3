import { readFileSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InterruptedError, RagossError } from '../errors.js';
import { createExclusive, processAlive } from '../system.js';

/** Who holds the data: a ragoss service (which keeps it for its whole life) or a command (which takes turns). */
export type DataHolder = 'service' | 'command';

/** The pid that holds the lock file and what it is, or undefined when it is gone or unreadable. */
function holderOf(lockPath: string): { pid: number; kind: DataHolder } | undefined {
  try {
    const [pidLine, kindLine] = readFileSync(lockPath, 'utf8').split('\n');
    const pid = Number(pidLine?.trim());
    if (!Number.isInteger(pid) || pid <= 0) return undefined;
    return { pid, kind: kindLine?.trim() === 'service' ? 'service' : 'command' };
  } catch {
    return undefined;
  }
}

/**
 * Whether a live ragoss service holds the lock on this data now. A command checks before it starts
 * a model load on speculation: that load would only slow its one-line refusal (it holds the event
 * loop for seconds on a busy machine) when the store is about to refuse it anyway.
 */
export function heldByLiveService(dataDir: string): boolean {
  const held = holderOf(join(dataDir, '.ragoss.lock'));
  return held !== undefined && held.kind === 'service' && held.pid !== process.pid && processAlive(held.pid);
}

const tryCreate = (lockPath: string, kind: DataHolder) => createExclusive(lockPath, `${process.pid}\n${kind}\n`);

export interface DataLockOptions {
  timeoutMs: number;
  /** What this process is; a service's hold is not waited out (default: a command). */
  holder?: DataHolder;
  /** Called once, when the lock is held by another live process and we start waiting. */
  onWait(holderPid: number): void;
  signal?: AbortSignal;
}

const POLL_MS = 200;
/**
 * How long a hold by a ragoss service is waited for: long enough for one that is stopping (a
 * restart, an idle timeout) to let go, short of a blind wait on one that keeps the data for its life.
 */
export const SERVICE_HOLD_WAIT_MS = 2000;

/** A service keeps the data for as long as it runs: waiting for it would only end in a timeout. */
function heldByService(dataDir: string, pid: number): RagossError {
  return new RagossError(
    `the embedded Milvus data in ${dataDir} is held by the ragoss service (pid ${pid}), and this command works in-process`,
    'let the command use the service (drop --no-daemon / RAGOSS_DAEMON=0), or stop it first with `ragoss serve --stop`',
  );
}

/**
 * Takes ragoss's lock on an embedded Milvus data directory, waiting (bounded) while another ragoss
 * process holds it. Milvus Lite has a lock of its own, but it fails at once and only after a
 * second of Python start-up; this one lets two commands on the same data take turns. A lock left
 * by a dead process is taken over. Returns the release function.
 */
export async function acquireDataLock(dataDir: string, options: DataLockOptions): Promise<() => void> {
  const lockPath = join(dataDir, '.ragoss.lock');
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let waiting = false;
  for (;;) {
    if (await tryCreate(lockPath, options.holder ?? 'command')) {
      let released = false;
      // Idempotent, and never removes a lock that another process has taken since.
      return () => {
        if (released) return;
        released = true;
        if (holderOf(lockPath)?.pid === process.pid) rmSync(lockPath, { force: true });
      };
    }
    const held = holderOf(lockPath);
    const holder = held?.pid;
    if (held === undefined || holder === undefined || holder === process.pid || !processAlive(holder)) {
      // Stale: its process is gone (killed, crashed) or the file is half-written garbage.
      await rm(lockPath, { force: true });
      continue;
    }
    // A service waiting for one that is stopping (its successor) waits as commands wait for each other.
    if (held.kind === 'service' && options.holder !== 'service') {
      if (Date.now() - started >= SERVICE_HOLD_WAIT_MS) throw heldByService(dataDir, holder);
    } else if (!waiting) {
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
