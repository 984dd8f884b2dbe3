import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/store/embedded.js';
import { milvusLiteExecutable } from './paths.js';

export interface TestMilvus {
  uri: string;
  port: number;
  dataDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** A real Milvus Lite gRPC server on a free loopback port with a throwaway data dir. */
export async function startTestMilvus(): Promise<TestMilvus> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ragoss-test-milvus-'));
  const port = await freePort();
  const child = spawn(milvusLiteExecutable(), ['server', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolveUp, rejectUp) => {
    const timer = setTimeout(() => rejectUp(new Error(`milvus-lite did not start in 60s: ${output}`)), 60_000);
    const onData = (data: Buffer) => {
      output += data.toString();
      if (output.includes('listening')) {
        clearTimeout(timer);
        resolveUp();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      rejectUp(new Error(`milvus-lite exited with ${code}: ${output}`));
    });
  });
  return {
    uri: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolveExit) => child.once('exit', resolveExit));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
