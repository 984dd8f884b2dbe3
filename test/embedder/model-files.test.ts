import fs, { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModelFileCache } from '../../src/embedder/model-files.js';
import { TransformersEmbedder } from '../../src/embedder/transformers.js';
import { silentProgress } from '../../src/progress.js';
import { modelsDir, tinyModel } from '../helpers/paths.js';

const PREFIX = 'http://hub.invalid/org/model/resolve/main/';

describe('the model cache transformers.js reads through', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('loads a local model without reading its .onnx file in JavaScript (ONNX Runtime reads it by path)', async () => {
    const streams = vi.spyOn(fs, 'createReadStream');
    const reads = vi.spyOn(fs.promises, 'readFile');
    const embedder = await TransformersEmbedder.load({ modelName: tinyModel, modelDir: modelsDir, cacheDir: join(mkdtempSync(join(tmpdir(), 'ragoss-cache-')), 'models'), offline: true, dtype: 'fp32', batchSize: 8, progress: silentProgress });
    try {
      const [vector] = await embedder.embedDocuments(['How is data stored in milvus?']);
      expect(vector?.length).toBe(768);
      const touched = [...streams.mock.calls, ...reads.mock.calls].map(([path]) => String(path));
      expect(touched.filter((path) => path.endsWith('.onnx'))).toEqual([]);
    } finally {
      await embedder.close();
    }
  });

  it('maps hub URLs and local paths of its model to files under its root, and nothing else', async () => {
    const root = join(modelsDir);
    const cache = new ModelFileCache(root, tinyModel, PREFIX.replace('org/model', tinyModel));
    const config = await cache.match(`${PREFIX.replace('org/model', tinyModel)}config.json`);
    expect(config).toBeInstanceOf(Response);
    expect(await (config as Response).json()).toMatchObject({ hidden_size: 768 });
    const onnx = join(root, tinyModel, 'onnx', 'model.onnx');
    expect(await cache.match(onnx)).toBe(onnx);
    // transformers.js asks again with no key for the path of the file it just got.
    expect(await cache.match(undefined)).toBe(onnx);
    expect(await cache.match(`${PREFIX.replace('org/model', tinyModel)}../../../../etc/passwd`)).toBeUndefined();
    expect(await cache.match('http://elsewhere.invalid/config.json')).toBeUndefined();
    expect(await cache.match('/etc/passwd')).toBeUndefined();
    expect(await cache.match(join(root, tinyModel, 'onnx', 'absent.onnx'))).toBeUndefined();
  });

  it('writes a download whole or not at all', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ragoss-cache-'));
    const cache = new ModelFileCache(root, 'org/model', PREFIX);
    const progress: number[] = [];
    await cache.put(`${PREFIX}onnx/model.onnx`, new Response('0123456789', { headers: { 'content-length': '10' } }), (info) => progress.push(info.loaded));
    expect(readFileSync(join(root, 'org/model/onnx/model.onnx'), 'utf8')).toBe('0123456789');
    expect(progress.at(-1)).toBe(10);

    const failing = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('partial'));
        controller.error(new Error('connection reset'));
      },
    });
    await expect(cache.put(`${PREFIX}config.json`, new Response(failing))).rejects.toThrow('connection reset');
    expect(existsSync(join(root, 'org/model/config.json'))).toBe(false);
    expect(readdirSync(join(root, 'org/model'))).toEqual(['onnx']);
  });
});
