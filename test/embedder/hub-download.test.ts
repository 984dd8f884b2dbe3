import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { baseEnv, runCli, tempHome } from '../helpers/cli.js';
import { faqZip, modelsDir, tinyModel } from '../helpers/paths.js';

/** A stand-in for the Hugging Face hub: serves {model}/resolve/main/{file} from ../shared/models. */
function startHub(): Promise<{ url: string; requested: string[]; close: () => Promise<void> }> {
  const requested: string[] = [];
  const server: Server = createServer((request, response) => {
    const match = /^\/(.+)\/resolve\/main\/(.+)$/.exec(decodeURIComponent(request.url ?? ''));
    const file = match ? normalize(join(modelsDir, match[1] as string, match[2] as string)) : '';
    requested.push(request.url ?? '');
    if (!match || !file.startsWith(modelsDir) || !existsSync(file) || !statSync(file).isFile()) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(response);
  });
  return new Promise((resolveHub) =>
    server.listen(0, '127.0.0.1', () =>
      resolveHub({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        requested,
        close: () => new Promise((resolveClose) => server.close(() => resolveClose())),
      }),
    ),
  );
}

describe('first use downloads the embedding model into the ragoss home, later runs are offline', () => {
  let hub: Awaited<ReturnType<typeof startHub>>;
  const home = tempHome();
  const common = { RAGOSS_HOME: home, MILVUS_URI: '', RAGOSS_MODEL_DIR: undefined, RAGOSS_OFFLINE: undefined, RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_COLLECTION: `hub_${Date.now().toString(36)}` };

  beforeAll(async () => {
    hub = await startHub();
  });
  afterAll(async () => {
    await hub.close();
  });

  it('downloads with progress on first use, then works with the hub gone, with and without --offline', async () => {
    const env = baseEnv({ ...common, MILVUS_URI: inject('milvusUri'), HF_ENDPOINT: hub.url });
    const first = await runCli(['ingest', '--source', faqZip], env);
    expect(first.stderr).not.toMatch(/error/);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/ragoss: downloading onnx\/model\.onnx \(4\.5 MiB\)\.\.\./);
    expect(hub.requested).toContain(`/${tinyModel}/resolve/main/onnx/model.onnx`);
    expect(existsSync(join(home, 'models', tinyModel, 'onnx', 'model.onnx'))).toBe(true);

    const requestsAfterDownload = hub.requested.length;
    await hub.close();
    // The hub is gone: a cached model is read from the cache, with or without --offline.
    const gone = { ...env, HF_ENDPOINT: 'http://127.0.0.1:9' };
    const online = await runCli(['search', 'How is data stored in milvus?', '--json'], gone);
    expect(online.code, online.stderr).toBe(0);
    expect(online.stderr).toBe('');
    const offline = await runCli(['search', 'How is data stored in milvus?', '--json', '--offline'], gone);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stderr).toBe('');
    expect(hub.requested.length).toBe(requestsAfterDownload);
    expect(readdirSync(join(home, 'models'), { recursive: true }).map(String).filter((name) => name.endsWith('.partial'))).toEqual([]);
  });

  it('--offline without a cached model says how to get it', async () => {
    const env = baseEnv({ ...common, RAGOSS_HOME: tempHome(), MILVUS_URI: inject('milvusUri') });
    const result = await runCli(['ingest', '--source', faqZip, '--offline', '--embedding-model', 'Xenova/bge-base-en-v1.5'], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\nragoss: error: embedding model Xenova\/bge-base-en-v1\.5 is not cached in .* and --offline forbids downloading it — run once without --offline, or point --model-dir at a local copy\n$/);
  });
});
