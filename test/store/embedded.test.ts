import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { silentProgress } from '../../src/progress.js';
import { startEmbeddedMilvus } from '../../src/store/embedded.js';
import { MilvusStore } from '../../src/store/milvus.js';
import { milvusLiteExecutable } from '../helpers/paths.js';
import { ragossRejection } from '../helpers/errors.js';

/** Whether a process exists: signal 0 checks without sending anything (ESRCH when it is gone). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

function freshDirs(): { home: string; dataDir: string } {
  const home = mkdtempSync(join(tmpdir(), 'ragoss-embedded-'));
  return { home, dataDir: join(home, 'milvus') };
}

describe('embedded Milvus Lite', () => {
  it('starts on a loopback port, serves, and stops cleanly, releasing the data lock', async () => {
    const { home, dataDir } = freshDirs();
    const server = await startEmbeddedMilvus({ dataDir, home, progress: silentProgress, executable: milvusLiteExecutable() });
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    const store = await MilvusStore.connect({ address: server.address, ssl: false, displayUri: dataDir, timeoutMs: 10_000 });
    expect(await store.serverVersion()).toMatch(/milvus_lite/);
    await store.close();
    const pid = server.pid;
    expect(pid).toBeGreaterThan(0);
    expect(isAlive(pid as number)).toBe(true);
    await server.stop();
    expect(isAlive(pid as number)).toBe(false);
    // The lock is free again: a new server on the same data starts.
    const again = await startEmbeddedMilvus({ dataDir, home, progress: silentProgress, executable: milvusLiteExecutable() });
    await again.stop();
  });

  it('fails clearly when another process holds the data directory', async () => {
    const { home, dataDir } = freshDirs();
    const owner = await startEmbeddedMilvus({ dataDir, home, progress: silentProgress, executable: milvusLiteExecutable() });
    try {
      const error = await ragossRejection(startEmbeddedMilvus({ dataDir, home, progress: silentProgress, executable: milvusLiteExecutable() }));
      expect(error.message).toMatch(/in use by another process/);
    } finally {
      await owner.stop();
    }
  });

  it('detects a server that was killed while in use and says so', async () => {
    const { home, dataDir } = freshDirs();
    const server = await startEmbeddedMilvus({ dataDir, home, progress: silentProgress, executable: milvusLiteExecutable() });
    const store = await MilvusStore.connect({ address: server.address, ssl: false, displayUri: dataDir, timeoutMs: 5_000, explainFailure: server.deathNotice, onClose: server.stop });
    const pid = server.pid;
    expect(pid).toBeGreaterThan(0);
    process.kill(pid as number, 'SIGKILL');
    await vi.waitFor(() => expect(server.deathNotice()).toBeDefined(), { timeout: 10_000, interval: 20 });
    const error = await ragossRejection(store.serverVersion());
    expect(error.message).toMatch(/embedded Milvus Lite server died \(SIGKILL\)/);
    await store.close();
  });

  it('reports a server that cannot run instead of hanging', async () => {
    const { home, dataDir } = freshDirs();
    const error = await ragossRejection(startEmbeddedMilvus({ dataDir, home, progress: silentProgress, executable: join(home, 'no-such-milvus-lite') }));
    expect(error.message).toMatch(/cannot run/);
    expect(existsSync(dataDir)).toBe(true);
  });
});
