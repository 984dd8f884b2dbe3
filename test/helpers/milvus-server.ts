import { testMilvusClient } from './milvus-client.js';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lineProgress, silentProgress } from '../../src/progress.js';
import { startEmbeddedMilvus } from '../../src/store/embedded.js';
import { installVenv } from '../../src/store/milvus-lite-install.js';
import { freePort } from '../../src/system.js';
import { milvusLiteExecutable, projectRoot, venvPath } from './paths.js';

export interface TestMilvus {
  uri: string;
  stop(): Promise<void>;
}

/** A real Milvus Lite gRPC server on a free loopback port with a throwaway data dir. */
export async function startTestMilvus(): Promise<TestMilvus> {
  const dataDir = mkdtempSync(join(tmpdir(), 'ragoss-test-milvus-'));
  const server = await startEmbeddedMilvus({ dataDir, home: dataDir, progress: silentProgress, executable: milvusLiteExecutable() });
  return {
    uri: `http://${server.address}`,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The real Milvus standalone server ragoss is tested against (PyPI `milvus` ships its binary). */
export const MILVUS_SERVER_REQUIREMENTS = ['milvus==2.3.5'];
const serverVenv = venvPath('.venv-milvus', MILVUS_SERVER_REQUIREMENTS);

/** Ports milvus-server takes besides the proxy's; fixed defaults would clash with anything else. */
const INTERNAL_PORTS = ['--etcd-port', '--root-coord-port', '--proxy-internal-port', '--query-coord-port', '--query-node-port', '--index-coord-port', '--index-node-port', '--data-coord-port', '--data-node-port'];

async function answers(address: string): Promise<boolean> {
  const client = testMilvusClient(address, 3000);
  try {
    await client.connectPromise;
    await client.getVersion();
    return true;
  } catch {
    return false;
  } finally {
    await client.closeConnection().catch(() => undefined);
  }
}

/** The venv with milvus-server (pip-installed on first use); returns its executable. */
export async function provisionMilvusServer(): Promise<string> {
  const executable = join(serverVenv, 'bin', 'milvus-server');
  if (!existsSync(executable)) {
    await installVenv(serverVenv, MILVUS_SERVER_REQUIREMENTS, join(projectRoot, 'venv-milvus-install.log'), lineProgress((line) => process.stderr.write(`${line}\n`)));
  }
  return executable;
}

/**
 * A real Milvus 2.3 standalone (with its embedded etcd) on free loopback ports, provisioned into
 * the checkout's .venv-milvus on first use. It runs in its own process group: milvus-server
 * starts the `milvus` binary as a child, and stopping the group stops both.
 */
export async function startRealMilvus(): Promise<TestMilvus> {
  const executable = await provisionMilvusServer();
  const dataDir = mkdtempSync(join(tmpdir(), 'ragoss-test-milvus-server-'));
  const proxyPort = await freePort();
  const ports: string[] = [];
  for (const flag of INTERNAL_PORTS) ports.push(flag, String(await freePort()));
  // Milvus's default internal ticks are kept on purpose. Shorter ones (`--extra-config
  // proxy.timeTickInterval=50`, queryCoord checks at 100 ms) make Strong searches 4x quicker and the
  // server project's files a third shorter, but the idle server then burns twice the CPU (76 -> 170
  // core-seconds over a CI run): on two busy cores that cancels the gain.
  const child = spawn(executable, ['--data', dataDir, '--proxy-port', String(proxyPort), ...ports], { detached: true, stdio: 'ignore' });
  const group = child.pid as number;
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      try {
        process.kill(-group, signal);
      } catch {
        break; // the group is gone
      }
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        try {
          process.kill(-group, 0);
        } catch {
          rmSync(dataDir, { recursive: true, force: true });
          return;
        }
        await new Promise((resolveWait) => setTimeout(resolveWait, 100));
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  const address = `127.0.0.1:${proxyPort}`;
  const deadline = Date.now() + 120_000;
  while (!exited && Date.now() < deadline) {
    if (await answers(address)) return { uri: `http://${address}`, stop };
    await new Promise((resolveWait) => setTimeout(resolveWait, 500));
  }
  await stop();
  throw new Error(`milvus-server did not answer on ${address} within 120 s${exited ? ' (it exited)' : ''}`);
}
