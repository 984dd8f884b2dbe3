// Ragoss's own Milvus Lite: where to find one (RAGOSS_MILVUS_LITE, PATH, ragoss's venv) and, on first
// use, a venv with the pinned version, installed with pip. Running it is store/embedded.ts's job.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { RagossError } from '../errors.js';
import type { Progress } from '../progress.js';

/** Pinned so every machine runs the Milvus Lite that ragoss was tested with. */
export const MILVUS_LITE_REQUIREMENTS = ['milvus-lite==3.2.2', 'pymilvus==3.0.2'];

function findOnPath(command: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

export function venvDir(home: string): string {
  return join(home, 'venv');
}

export function findMilvusLite(home: string, explicit?: string): string | undefined {
  if (explicit !== undefined) return explicit;
  const own = join(venvDir(home), 'bin', 'milvus-lite');
  return findOnPath('milvus-lite') ?? (existsSync(own) ? own : undefined);
}

function findPython(): string | undefined {
  for (const candidate of ['python3', 'python']) {
    const probe = spawnSync(candidate, ['-c', 'import sys, venv; print(sys.version_info[0])'], { encoding: 'utf8' });
    if (probe.status === 0 && probe.stdout.trim() === '3') return candidate;
  }
  return undefined;
}

/** What a failed step said last: pip's final `ERROR:` line, else its last line. */
async function lastWords(logPath: string, from: number): Promise<string> {
  const log = await readFile(logPath, 'utf8').catch(() => '');
  const output = log.slice(from);
  const errors = output.split('\n').filter((line) => line.startsWith('ERROR:'));
  return errors[errors.length - 1]?.trim() ?? lastLine(output);
}

/**
 * Runs `command`, appending its output to `logPath`; a failure quotes the output's last words, points
 * at the log and gives `fix`.
 */
async function runLogged(step: string, command: string, args: string[], logPath: string, fix: string, signal?: AbortSignal): Promise<void> {
  const log = await open(logPath, 'a');
  const from = (await log.stat()).size;
  let code: number | null;
  try {
    code = await new Promise<number | null>((resolveExit, rejectExit) => {
      const child = spawn(command, args, { stdio: ['ignore', log.fd, log.fd], signal });
      child.on('error', rejectExit);
      child.on('exit', resolveExit);
    });
  } finally {
    await log.close();
  }
  if (code !== 0) {
    const said = await lastWords(logPath, from);
    throw new RagossError(`${step} failed (exit ${code})${said ? `: ${said}` : ''}`, `see ${logPath}; ${fix}, or set MILVUS_URI to a Milvus server`);
  }
}

/** Creates a venv at `venv` and pip-installs `requirements` into it, logging to `logPath`. */
export async function installVenv(venv: string, requirements: readonly string[], logPath: string, progress: Progress, signal?: AbortSignal): Promise<void> {
  const python = findPython();
  if (python === undefined) {
    throw new RagossError(
      'embedded Milvus needs Python 3 (with venv), and none was found',
      'install Python 3 (e.g. apt-get install python3 python3-venv), or run Milvus with `docker compose up -d` and set MILVUS_URI=http://localhost:19530',
    );
  }
  // Two steps with no count to show: plain step lines, not a bar.
  const creating = 'creating a Python venv';
  progress.step(creating);
  await runLogged(creating, python, ['-m', 'venv', venv], logPath, "check that Python's venv works there (Debian/Ubuntu: apt-get install python3-venv)", signal);
  const installing = `pip install ${requirements.join(' ')}`;
  progress.step(installing);
  await runLogged(installing, join(venv, 'bin', 'pip'), ['install', '--disable-pip-version-check', ...requirements], logPath, "check the network and pip's settings (PIP_INDEX_URL)", signal);
}

/**
 * Creates ragoss's own venv with a pinned Milvus Lite: done once, on first use. The test setup
 * provisions its Milvus servers the same way, into the checkout's .venv.
 */
export async function installMilvusLite(home: string, progress: Progress, signal?: AbortSignal, venv: string = venvDir(home)): Promise<string> {
  await mkdir(home, { recursive: true });
  const logPath = join(home, 'venv-install.log');
  progress.step(`installing Milvus Lite into ${venv} (once, under a minute; log: ${logPath})`);
  await installVenv(venv, MILVUS_LITE_REQUIREMENTS, logPath, progress, signal);
  return join(venv, 'bin', 'milvus-lite');
}

/** The last non-blank line of a tool's output: what it said when it gave up. */
export function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter((line) => line.trim() !== '');
  return lines[lines.length - 1]?.trim() ?? '';
}
