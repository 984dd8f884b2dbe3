import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Engine } from '../../src/engine/engine.js';
import { binPath, modelsDir, projectRoot } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function tempHome(): string {
  return mkdtempSync(join(tmpdir(), 'ragoss-home-'));
}

/** Env for a child ragoss: nothing inherited that could reach outside 127.0.0.1 or leak keys. */
export function baseEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string | undefined> = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    RAGOSS_MODEL_DIR: modelsDir,
    RAGOSS_OFFLINE: '1',
    // In-process unless a test asks for the service: none is left running behind a test.
    RAGOSS_DAEMON: '0',
    // No "not in the docs" line: the synthetic model's similarities mean nothing, so the line its
    // collections calibrate would refuse questions at random. Tests of the line drop this (`without`).
    RAGOSS_MIN_SCORE: '-1',
    ...extra,
  };
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined));
}

/** `env` without the named variables (a test that must not inherit them). */
export function without(env: Record<string, string>, ...names: string[]): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !names.includes(name)));
}

/** Runs the built CLI the way a shell script would. */
export function runCli(args: string[], env: Record<string, string>, options: { timeoutMs?: number; onSpawn?: (pid: number) => void; stdin?: string; nodeArgs?: string[] } = {}): Promise<CliResult> {
  return new Promise((resolveRun, rejectRun) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), binPath, ...args], { cwd: projectRoot, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString()));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString()));
    child.stdin.end(options.stdin ?? '');
    // Well inside vitest's 120 s test timeout, so a hung CLI fails its own test, with its output.
    // SIGTERM first: the CLI stops its embedded Milvus on it; SIGKILL would leave that orphaned.
    let killTimer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      stderr += `\n[runCli: no exit within ${(options.timeoutMs ?? 100_000) / 1000} s; sent SIGTERM]\n`;
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    }, options.timeoutMs ?? 100_000);
    child.on('error', rejectRun);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}

/** A stream that keeps what is written to it, as a pipe would deliver it (not a terminal). */
function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream: Object.assign(stream, { isTTY: false }) as unknown as NodeJS.WriteStream, text: () => chunks.join('') };
}

/**
 * Runs a command line through the CLI's own entry, `main`, inside the test's process: the same
 * parsing, engine and output as the built CLI, without a Node start and module loading per call.
 * For what only a process shows (signals, pipes, exit timing, stdin, a terminal), use `runCli`.
 * With `engine` (a FakeEngine), every command runs on it in place of the service or a real one.
 */
export async function runInProcess(args: string[], env: Record<string, string>, engine?: Engine): Promise<CliResult> {
  const { main } = await import('../../src/cli/main.js');
  const stdout = capture();
  const stderr = capture();
  const code = await main(['node', binPath, ...args], { stdout: stdout.stream, stderr: stderr.stream, env, ...(engine === undefined ? {} : { engine }) });
  return { code, signal: null, stdout: stdout.text(), stderr: stderr.text() };
}
