import { describe, expect, it } from 'vitest';
import { describeTaskState, formatDuration, lineProgress, type ProgressClock } from '../../src/progress.js';

/** A clock the test moves by hand: the heartbeat runs without a single real sleep. */
function manualClock(): ProgressClock & { advance(ms: number): void; timers(): number } {
  let now = 0;
  const timers = new Set<{ every: number; next: number; tick: () => void }>();
  return {
    now: () => now,
    every(ms, tick) {
      const timer = { every: ms, next: now + ms, tick };
      timers.add(timer);
      return () => timers.delete(timer);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers].filter((timer) => timer.next <= end).sort((a, b) => a.next - b.next)[0];
        if (due === undefined) break;
        now = due.next;
        due.next += due.every;
        due.tick();
      }
      now = end;
    },
    timers: () => timers.size,
  };
}

function recorder(clock: ProgressClock): { lines: Array<{ at: number; line: string }>; write: (line: string) => void } {
  const lines: Array<{ at: number; line: string }> = [];
  return { lines, write: (line) => lines.push({ at: clock.now(), line }) };
}

describe('plain-mode heartbeat', () => {
  it('prints done/total, rate, elapsed and ETA while a task runs, never leaving the log silent for 30 s', () => {
    const clock = manualClock();
    const log = recorder(clock);
    const progress = lineProgress(log.write, { heartbeatMs: 20_000, clock });
    const task = progress.task('embedding and storing', 3820, 'chunks');
    // 17 minutes at ~3.7 chunks/s, the count moving every few seconds as model calls finish.
    for (let second = 1; second <= 1030; second++) {
      clock.advance(1000);
      if (second % 7 === 0) task.update(Math.min(3820, Math.round(second * 3.71)));
    }
    task.update(3820);
    task.done();
    const gaps = log.lines.slice(1).map((entry, index) => entry.at - (log.lines[index] as { at: number }).at);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(21_000);
    expect(log.lines[0]?.line).toBe('ragoss: embedding and storing (3820 chunks)...');
    expect(log.lines.at(-1)?.line).toBe('ragoss: embedding and storing: 3820 chunks in 1030.0s');
    // The first status line: 20 s in, the last update (at 14 s) had 52 chunks done.
    expect(log.lines[1]).toEqual({ at: 20_000, line: 'ragoss: embedding and storing: 52/3820 chunks (1%), 2.6 chunks/s, 20s elapsed, ETA 24m09s' });
    const late = log.lines.find((entry) => entry.at === 600_000);
    // The last update before 10 min came at 595 s: 2207 done; (3820 - 2207) / (2207 / 600) = 439 s left.
    expect(late?.line).toBe('ragoss: embedding and storing: 2207/3820 chunks (57%), 3.7 chunks/s, 10m00s elapsed, ETA 7m19s');
    expect(log.lines.length).toBeGreaterThan(45);
    expect(clock.timers()).toBe(0);
  });

  it('keeps quiet while lines flow on their own', () => {
    const clock = manualClock();
    const log = recorder(clock);
    const progress = lineProgress(log.write, { heartbeatMs: 20_000, clock });
    const task = progress.task('downloading docs', 1000, 'bytes');
    for (let step = 0; step < 10; step++) {
      clock.advance(15_000);
      progress.step(`step ${step}`);
    }
    task.done();
    expect(log.lines.filter((entry) => entry.line.includes('elapsed'))).toEqual([]);
  });

  it('says a long step is still working until the next line, then stops its timer', () => {
    const clock = manualClock();
    const log = recorder(clock);
    const progress = lineProgress(log.write, { heartbeatMs: 20_000, clock });
    progress.step('verifying and switching the collection over');
    clock.advance(45_000);
    expect(log.lines.map((entry) => entry.line)).toEqual([
      'ragoss: verifying and switching the collection over',
      'ragoss: verifying and switching the collection over: still working, 20s elapsed',
      'ragoss: verifying and switching the collection over: still working, 40s elapsed',
    ]);
    const task = progress.task('writing snapshot', 10, 'chunks');
    task.done();
    expect(clock.timers()).toBe(0);
    clock.advance(60_000);
    expect(log.lines).toHaveLength(5);
  });

  it('runs no timer at all without a heartbeat (the service log, MCP)', () => {
    const clock = manualClock();
    const log = recorder(clock);
    const progress = lineProgress(log.write, { clock });
    progress.step('loading');
    progress.task('embedding', 5, 'chunks');
    expect(clock.timers()).toBe(0);
    clock.advance(120_000);
    expect(log.lines).toHaveLength(2);
  });
});

describe('status line pieces', () => {
  it('formats durations for a log line', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(59.4)).toBe('59s');
    expect(formatDuration(61)).toBe('1m01s');
    expect(formatDuration(3723)).toBe('1h02m03s');
  });

  it('describes bytes, counts and unknown totals', () => {
    expect(describeTaskState(5 * 1024 * 1024, 20 * 1024 * 1024, 'bytes', 10)).toBe('5.0 MiB/20.0 MiB (25%), 512.0 KiB/s, 10s elapsed, ETA 30s');
    expect(describeTaskState(0, 100, 'chunks', 25)).toBe('0/100 chunks (0%), 0.0 chunks/s, 25s elapsed, ETA unknown');
    expect(describeTaskState(300, 0, 'files', 20)).toBe('300 files, 15 files/s, 20s elapsed');
  });
});
