#!/usr/bin/env node
// `npm test`: builds dist/ (the tests spawn the built CLI), then type-checks the test files beside
// the suite instead of before it. Arguments go to vitest (`npm test -- test/cli/ask.test.ts`).
// Exits non-zero if either fails; the type-checker's complaints print after vitest's report.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const children = new Set();

function run(args, options = {}) {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: options.capture ? ['ignore', 'pipe', 'pipe'] : 'inherit' });
    children.add(child);
    let output = '';
    child.stdout?.on('data', (data) => (output += data));
    child.stderr?.on('data', (data) => (output += data));
    child.on('close', (code, signal) => {
      children.delete(child);
      resolveRun({ code: code ?? (signal ? 128 : 1), output });
    });
  });
}

// Ctrl-C reaches the children through the terminal; a TERM from a supervisor is passed on.
process.on('SIGTERM', () => children.forEach((child) => child.kill('SIGTERM')));

const build = await run([tsc, '-p', 'tsconfig.json']);
if (build.code !== 0) process.exit(build.code);
const [typecheck, suite] = await Promise.all([run([tsc, '-p', 'tsconfig.test.json'], { capture: true }), run([vitest, 'run', ...process.argv.slice(2)])]);
if (typecheck.code !== 0) process.stderr.write(`\nnpm test: the test files do not type-check (tsc -p tsconfig.test.json):\n${typecheck.output}`);
process.exit(suite.code !== 0 ? suite.code : typecheck.code);
