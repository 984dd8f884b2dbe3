import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../helpers/paths.js';

const hasTmux = spawnSync('tmux', ['-V']).status === 0;
// CI installs tmux (.ci/run); elsewhere the test says why it did not run.
const inTerminal = hasTmux || process.env['CI'] === 'true' ? it : it.skip;

/** Runs a script in a real terminal (a detached tmux pane, 160 columns) and returns the screen. */
async function screenOf(script: string): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ragoss-tty-'));
  const file = join(dir, 'script.mjs');
  writeFileSync(file, script);
  const session = `ragoss-test-${process.pid}-${Date.now()}`;
  const done = join(dir, 'done');
  execFileSync('tmux', ['new-session', '-d', '-s', session, '-x', '160', '-y', '30', `node ${file} ; touch ${done} ; sleep 30`]);
  try {
    const deadline = Date.now() + 20_000;
    while (!existsSync(done) && Date.now() < deadline) await new Promise((resolveWait) => setTimeout(resolveWait, 50));
    return execFileSync('tmux', ['capture-pane', '-p', '-t', session], { encoding: 'utf8' }).split('\n').map((line) => line.trimEnd());
  } finally {
    execFileSync('tmux', ['kill-session', '-t', session]);
  }
}

describe('progress on a real terminal', () => {
  inTerminal('prints step lines above a live bar, never inside it', async () => {
    const progress = pathToFileURL(join(projectRoot, 'dist', 'progress.js')).href;
    const screen = await screenOf(`
      import { progressFor } from '${progress}';
      const wait = (ms) => new Promise((r) => setTimeout(r, ms));
      const progress = progressFor(process.stderr, { quiet: false });
      const bar = progress.task('downloading docs', 1000, 'bytes');
      bar.update(400);
      await wait(300);
      progress.step('starting embedded Milvus Lite');
      await wait(300);
      progress.warn('something to know');
      bar.update(1000);
      await wait(300);
      bar.done();
      progress.step('unzipping');
    `);
    const text = screen.filter((line) => line !== '');
    expect(text).toContain('ragoss: starting embedded Milvus Lite');
    expect(text).toContain('ragoss: warning: something to know');
    expect(text).toContain('ragoss: unzipping');
    const bars = text.filter((line) => line.startsWith('downloading docs ['));
    expect(bars).toHaveLength(1);
    expect(bars[0], screen.join('\n')).toMatch(/^downloading docs \[█+\] 100% \| 1000 B\/1000 B \| .* \| ETA 0s$/);
    // Nothing else shares a line with the bar or a step.
    expect(text.filter((line) => line.includes('ragoss:') && line.includes('['))).toEqual([]);
    expect(text.indexOf('ragoss: starting embedded Milvus Lite')).toBeLessThan(text.indexOf(bars[0]!));
    expect(text.indexOf(bars[0]!)).toBeLessThan(text.indexOf('ragoss: unzipping'));
  });
});
