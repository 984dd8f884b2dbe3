import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { acquireDataLock, heldByLiveService, SERVICE_HOLD_WAIT_MS } from '../../src/store/data-lock.js';

/** A live process that is not this one, to stand as the lock's holder. */
function otherProcess(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
}

describe('the embedded data lock', () => {
  const holders: ChildProcess[] = [];
  afterEach(() => holders.splice(0).forEach((child) => child.kill('SIGKILL')));

  function heldBy(kind: string): { dir: string; pid: number } {
    const holder = otherProcess();
    holders.push(holder);
    const dir = mkdtempSync(join(tmpdir(), 'ragoss-lock-'));
    writeFileSync(join(dir, '.ragoss.lock'), `${holder.pid}\n${kind}\n`);
    return { dir, pid: holder.pid as number };
  }

  it('records who holds it, takes over a dead holder\'s lock, and releases only its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ragoss-lock-'));
    writeFileSync(join(dir, '.ragoss.lock'), '999999999\ncommand\n');
    const release = await acquireDataLock(dir, { timeoutMs: 1000, holder: 'service', onWait: () => undefined });
    expect(readFileSync(join(dir, '.ragoss.lock'), 'utf8')).toBe(`${process.pid}\nservice\n`);
    release();
    expect(existsSync(join(dir, '.ragoss.lock'))).toBe(false);
  });

  it("does not wait out a ragoss service's hold: a command fails after the short grace, naming it", async () => {
    const { dir, pid } = heldBy('service');
    const waits: number[] = [];
    const started = Date.now();
    await expect(acquireDataLock(dir, { timeoutMs: 120_000, onWait: (holder) => waits.push(holder) })).rejects.toThrow(
      `the embedded Milvus data in ${dir} is held by the ragoss service (pid ${pid}), and this command works in-process`,
    );
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(SERVICE_HOLD_WAIT_MS);
    // Far short of the 120 s timeout it was given; loose, for a busy machine.
    expect(waited).toBeLessThan(SERVICE_HOLD_WAIT_MS + 10_000);
    // No "waiting for another ragoss" line: there was nothing to wait for.
    expect(waits).toEqual([]);
  });

  it("waits (bounded) for another command, and a service waits for a service that is stopping", async () => {
    const command = heldBy('command');
    const waits: number[] = [];
    await expect(acquireDataLock(command.dir, { timeoutMs: 500, onWait: (holder) => waits.push(holder) })).rejects.toThrow(`is in use by another process (pid ${command.pid}) and stayed busy for 1s`);
    expect(waits).toEqual([command.pid]);
    const service = heldBy('service');
    const serviceWaits: number[] = [];
    const started = Date.now();
    await expect(acquireDataLock(service.dir, { timeoutMs: SERVICE_HOLD_WAIT_MS + 1000, holder: 'service', onWait: (holder) => serviceWaits.push(holder) })).rejects.toThrow('stayed busy');
    expect(Date.now() - started).toBeGreaterThanOrEqual(SERVICE_HOLD_WAIT_MS + 1000);
    expect(serviceWaits).toEqual([service.pid]);
  });

  it('tells a live service\'s hold from a command\'s, a dead holder\'s, its own and no lock at all', () => {
    expect(heldByLiveService(heldBy('service').dir)).toBe(true);
    expect(heldByLiveService(heldBy('command').dir)).toBe(false);
    const dead = mkdtempSync(join(tmpdir(), 'ragoss-lock-'));
    writeFileSync(join(dead, '.ragoss.lock'), '999999999\nservice\n');
    expect(heldByLiveService(dead)).toBe(false);
    const own = mkdtempSync(join(tmpdir(), 'ragoss-lock-'));
    writeFileSync(join(own, '.ragoss.lock'), `${process.pid}\nservice\n`);
    expect(heldByLiveService(own)).toBe(false);
    expect(heldByLiveService(mkdtempSync(join(tmpdir(), 'ragoss-lock-')))).toBe(false);
  });
});
