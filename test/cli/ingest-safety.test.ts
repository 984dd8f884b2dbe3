import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
// In-process through the CLI's entry (see runInProcess); what needs a process of its own spawns it.
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { startFileServer, type FileServer } from '../helpers/http-server.js';
import { binPath, faqZip, modelsDir, projectRoot, tinyModel } from '../helpers/paths.js';

/** A models dir where the tiny model is also known as other/tiny-copy: same vectors, another name. */
function modelsWithACopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ragoss-models-'));
  mkdirSync(join(dir, 'testing'));
  mkdirSync(join(dir, 'other'));
  symlinkSync(join(modelsDir, tinyModel), join(dir, tinyModel));
  symlinkSync(join(modelsDir, tinyModel), join(dir, 'other', 'tiny-copy'));
  return dir;
}

describe('ingest refuses to mix embedding models in one collection', () => {
  it('fails before any embedding work, and --replace rebuilds with the new model', async () => {
    const env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: inject('milvusUri'), RAGOSS_MODEL_DIR: modelsWithACopy(), RAGOSS_COLLECTION: `mix_${Date.now().toString(36)}` });
    expect((await runInProcess(['ingest', '-q', '--source', faqZip, '--embedding-model', tinyModel], env)).code).toBe(0);
    const refused = await runInProcess(['ingest', '--source', faqZip, '--embedding-model', 'other/tiny-copy'], env);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/ragoss: error: collection mix_\w+ was built with testing\/tiny-random-albert-768 \(768 dims\), not other\/tiny-copy \(768 dims\) — pass --replace/);
    expect(refused.stderr).not.toContain('embedding and storing');
    const replaced = await runInProcess(['ingest', '--source', faqZip, '--embedding-model', 'other/tiny-copy', '--replace', '--json'], env);
    expect(replaced.code).toBe(0);
    // Same vectors under another name: none may be reused, every chunk goes through the new model.
    expect(JSON.parse(replaced.stdout)).toMatchObject({ chunks: 72, embeddingModel: 'other/tiny-copy', embeddedChunks: 72, reusedChunks: 0 });
    // The collection now answers with the new model, and only with it.
    const search = await runInProcess(['search', 'How is data stored in milvus?', '--json'], env);
    expect(search.code, search.stderr).toBe(0);
    const doctor = JSON.parse((await runInProcess(['doctor', '--json'], env)).stdout) as { milvus: { collections: Array<{ name: string; embeddingModel: string; rowCount: number }> } };
    expect(doctor.milvus.collections.find((info) => info.name === env['RAGOSS_COLLECTION'])).toMatchObject({ embeddingModel: 'other/tiny-copy', rowCount: 72 });
    const oldModel = await runInProcess(['search', 'How is data stored in milvus?', '--embedding-model', tinyModel], env);
    expect(oldModel.code).toBe(2);
    expect(oldModel.stderr).toMatch(/other\/tiny-copy/);
  });
});

describe('Ctrl-C during the download', () => {
  let server: FileServer;

  beforeAll(async () => {
    server = await startFileServer({ '/stalled.zip': { kind: 'stall', file: faqZip, bytes: 1000 } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('exits 130 promptly and leaves no partial file in the cache', async () => {
    const home = tempHome();
    const env = baseEnv({ RAGOSS_HOME: home, MILVUS_URI: inject('milvusUri'), RAGOSS_EMBEDDING_MODEL: tinyModel });
    const child = spawn(process.execPath, [binPath, 'ingest', '--source', server.url('/stalled.zip')], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let interruptedAt = 0;
    child.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
      // The "downloading" line appears once the response has started: the body is in flight.
      if (interruptedAt === 0 && stderr.includes('downloading')) {
        interruptedAt = Date.now();
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
    expect(code).toBe(130);
    expect(Date.now() - interruptedAt).toBeLessThan(5_000);
    expect(stderr).toMatch(/ragoss: interrupted; nothing was changed\n$/);
    const leftovers = readdirSync(join(home, 'downloads'), { recursive: true }).map(String).filter((name) => name.endsWith('.zip') || name.endsWith('.partial'));
    expect(leftovers).toEqual([]);
  });
});
