import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { baseEnv, runCli, tempHome } from '../helpers/cli.js';
import { binPath, projectRoot, tinyModel } from '../helpers/paths.js';

/** Docs whose sections are ~22 KB each, so ten hits make a JSON object well over a pipe's 64 KiB. */
function bigDocs(): string {
  const root = mkdtempSync(join(tmpdir(), 'ragoss-big-docs-'));
  mkdirSync(join(root, 'en', 'faq'), { recursive: true });
  for (let file = 0; file < 3; file++) {
    const sections = Array.from({ length: 8 }, (_, index) => `# Section ${file}.${index}\n\n${`Milvus stores data in segments. Row ${index} of file ${file}. `.repeat(400)}\n`);
    writeFileSync(join(root, 'en', 'faq', `big_${file}.md`), sections.join('\n'));
  }
  return root;
}

describe('stdout reaches the reader whole', () => {
  const milvusUri = inject('milvusUri');
  let env: Record<string, string>;

  beforeAll(async () => {
    env = baseEnv({ RAGOSS_HOME: tempHome(), MILVUS_URI: milvusUri, RAGOSS_COLLECTION: `big_${Date.now().toString(36)}`, RAGOSS_EMBEDDING_MODEL: tinyModel });
    const ingest = await runCli(['ingest', '--source', bigDocs()], env);
    expect(ingest.code, ingest.stderr).toBe(0);
  });

  it('a --json object over 64 KiB, read slowly through a pipe, arrives complete', async () => {
    const child = spawn(process.execPath, [binPath, 'search', 'How does Milvus store data?', '--json', '--top-k', '10'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    // Read nothing until the process has tried to exit: the pipe fills and the rest waits in the process.
    child.stdout.pause();
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const closed = new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
    await new Promise((resolveWait) => setTimeout(resolveWait, 1500));
    const chunks: Buffer[] = [];
    child.stdout.on('data', (data: Buffer) => chunks.push(data));
    child.stdout.resume();
    const code = await closed;
    const stdout = Buffer.concat(chunks).toString('utf8');
    expect(code, stderr).toBe(0);
    expect(stdout.length, `stderr: ${stderr}`).toBeGreaterThan(128 * 1024);
    const parsed = JSON.parse(stdout) as { hits: unknown[] };
    expect(parsed.hits).toHaveLength(10);
  });

  it('a reader that goes away (EPIPE) ends the command quietly', async () => {
    const child = spawn(process.execPath, [binPath, 'search', 'How does Milvus store data?', '--json', '--top-k', '10'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    const code = await new Promise<number | null>((resolveExit) => child.on('close', resolveExit));
    expect(code).toBe(0);
    expect(stderr).not.toMatch(/EPIPE|^\s+at /m);
  });
});
