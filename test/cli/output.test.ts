import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
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
    // A shell pipeline, as in `ragoss ... | jq`: an OS pipe holds 64 KiB (Node's own child pipes are
    // socket pairs that hold more), and its reader reads nothing until told to, so the rest of the
    // output must wait in ragoss, which must not exit before it is out.
    const work = tempHome();
    const readNow = join(work, 'read-now');
    const exitFile = join(work, 'exit-code');
    const announce = pathToFileURL(join(projectRoot, 'test', 'helpers', 'announce-stdout.mjs')).href;
    const script = '{ "$NODE" --import "$ANNOUNCE" "$BIN" search "How does Milvus store data?" --json --top-k 10; echo $? > "$EXIT_FILE"; } | { while [ ! -e "$READ_NOW" ]; do sleep 0.05; done; exec cat; }';
    const shell = spawn('sh', ['-c', script], { cwd: projectRoot, env: { ...env, NODE: process.execPath, ANNOUNCE: announce, BIN: binPath, EXIT_FILE: exitFile, READ_NOW: readNow }, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    shell.stdout.on('data', (data: Buffer) => chunks.push(data));
    let stderr = '';
    // Let the reader go once ragoss has handed its whole output to stdout (the helper announces it).
    shell.stderr.on('data', (data: Buffer) => {
      stderr += data.toString();
      if (/\[stdout queued \d{6,}\]/.test(stderr) && !existsSync(readNow)) writeFileSync(readNow, '');
    });
    await new Promise<void>((resolveClose) => shell.on('close', () => resolveClose()));
    const stdout = Buffer.concat(chunks).toString('utf8');
    expect(readFileSync(exitFile, 'utf8').trim(), stderr).toBe('0');
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
