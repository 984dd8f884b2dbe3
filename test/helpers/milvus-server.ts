import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentProgress } from '../../src/progress.js';
import { startEmbeddedMilvus } from '../../src/store/embedded.js';
import { milvusLiteExecutable } from './paths.js';

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
