import cliProgress from 'cli-progress';

/** What the pipeline reports while it works; the CLI decides how (bars, lines or nothing). */
export interface Progress {
  /** A one-line step such as "unzipping". */
  step(message: string): void;
  /** Something the user should know even in quiet or JSON mode. */
  warn(message: string): void;
  /** A counted task; `update` takes the running total. */
  task(label: string, total: number, unit: 'bytes' | 'chunks' | 'files'): ProgressTask;
}

export interface ProgressTask {
  update(done: number): void;
  done(): void;
}

const noopTask: ProgressTask = { update() {}, done() {} };

export const silentProgress: Progress = {
  step() {},
  warn() {},
  task: () => noopTask,
};

function formatCount(value: number, unit: string): string {
  if (unit !== 'bytes') return `${value} ${unit}`;
  if (value < 1024) return `${value} B`;
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${(value / 1024 / 1024).toFixed(1)} MiB`;
}

/** Time and timers, injectable so tests can step the heartbeat without sleeping. */
export interface ProgressClock {
  /** Milliseconds, monotonic. */
  now(): number;
  /** Calls `tick` every `ms` until the returned function is called; must not keep the process alive. */
  every(ms: number, tick: () => void): () => void;
}

export const realClock: ProgressClock = {
  now: () => performance.now(),
  every(ms, tick) {
    const timer = setInterval(tick, ms);
    timer.unref();
    return () => clearInterval(timer);
  },
};

export interface LineProgressOptions {
  /**
   * Silence (ms) after which a running task or step prints where it stands, so a CI log never goes
   * quiet long enough to look hung (GitHub Actions readers) or be killed (Travis: 10 minutes). Off
   * when unset: the service's log and MCP's stderr have no one watching for gaps.
   */
  heartbeatMs?: number;
  clock?: ProgressClock;
}

/** 1h02m03s, 4m05s, 12s: short enough for a log line, exact enough for an ETA. */
export function formatDuration(seconds: number): string {
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m${String(rest).padStart(2, '0')}s`;
  if (minutes > 0) return `${minutes}m${String(rest).padStart(2, '0')}s`;
  return `${rest}s`;
}

/** "1024/3820 chunks (27%), 3.6 chunks/s, 4m44s elapsed, ETA 12m56s": where a counted task stands. */
export function describeTaskState(done: number, total: number, unit: string, elapsedSeconds: number): string {
  const rate = elapsedSeconds > 0 ? done / elapsedSeconds : 0;
  const rateText = unit === 'bytes' ? `${formatCount(Math.round(rate), unit)}/s` : `${rate < 10 ? rate.toFixed(1) : Math.round(rate)} ${unit}/s`;
  const elapsed = `${formatDuration(elapsedSeconds)} elapsed`;
  if (total <= 0) return `${formatCount(done, unit)}, ${rateText}, ${elapsed}`;
  const count = unit === 'bytes' ? `${formatCount(done, unit)}/${formatCount(total, unit)}` : `${done}/${total} ${unit}`;
  const percent = `${Math.floor((100 * Math.min(done, total)) / total)}%`;
  const eta = rate > 0 ? formatDuration((total - done) / rate) : 'unknown';
  return `${count} (${percent}), ${rateText}, ${elapsed}, ETA ${eta}`;
}

/** How often the heartbeat looks for silence: a line is at most heartbeatMs + this late. */
const HEARTBEAT_CHECK_MS = 1000;

/**
 * For logs and CI: one line when a step or task starts and one when a task ends, no redraws; with
 * a heartbeat, a status line whenever the log has been silent that long while something runs.
 */
export function lineProgress(write: (line: string) => void, options: LineProgressOptions = {}): Progress {
  const clock = options.clock ?? realClock;
  const heartbeatMs = options.heartbeatMs;
  const tasks = new Set<{ label: string; total: number; unit: string; started: number; done: number }>();
  /** The last step announced: it runs until the next line of ours. */
  let step: { message: string; started: number } | undefined;
  let lastLine = clock.now();
  let stopTimer: (() => void) | undefined;
  const emit = (line: string) => {
    lastLine = clock.now();
    write(line);
  };
  const beat = () => {
    const now = clock.now();
    if (heartbeatMs === undefined || now - lastLine < heartbeatMs) return;
    if (tasks.size > 0) {
      for (const task of tasks) emit(`ragoss: ${task.label}: ${describeTaskState(task.done, task.total, task.unit, (now - task.started) / 1000)}`);
    } else if (step !== undefined) {
      emit(`ragoss: ${step.message}: still working, ${formatDuration((now - step.started) / 1000)} elapsed`);
    }
  };
  /** The timer runs only while something can go quiet, so an idle Progress holds no timer. */
  const syncTimer = () => {
    const busy = heartbeatMs !== undefined && (tasks.size > 0 || step !== undefined);
    if (busy && stopTimer === undefined) stopTimer = clock.every(HEARTBEAT_CHECK_MS, beat);
    if (!busy && stopTimer !== undefined) {
      stopTimer();
      stopTimer = undefined;
    }
  };
  return {
    step(message) {
      step = { message, started: clock.now() };
      emit(`ragoss: ${message}`);
      syncTimer();
    },
    warn: (message) => emit(`ragoss: warning: ${message}`),
    task(label, total, unit) {
      // A task takes over from the step before it: that step has finished.
      step = undefined;
      const state = { label, total, unit, started: clock.now(), done: 0 };
      tasks.add(state);
      emit(`ragoss: ${label}${total > 0 ? ` (${formatCount(total, unit)})` : ''}...`);
      syncTimer();
      let finished = false;
      return {
        update: (done) => {
          state.done = done;
        },
        done: () => {
          if (finished) return;
          finished = true;
          tasks.delete(state);
          const seconds = ((clock.now() - state.started) / 1000).toFixed(1);
          emit(`ragoss: ${label}: ${formatCount(state.done || total, unit)} in ${seconds}s`);
          syncTimer();
        },
      };
    },
  };
}

/**
 * For a person at a terminal: live bars with rate and ETA. One renderer owns the terminal: a step or
 * warning that arrives while a bar is live is printed above the bars, never inside one.
 */
export function barProgress(stream: NodeJS.WriteStream): Progress {
  let bars: cliProgress.MultiBar | undefined;
  let live = 0;
  const line = (text: string) => {
    if (bars !== undefined) bars.log(`${text}\n`);
    else stream.write(`${text}\n`);
  };
  const startBars = () =>
    // cli-progress's own SIGINT handling would race ragoss's: cancellation stops the bars through `done`.
    new cliProgress.MultiBar({ stream, hideCursor: true, clearOnComplete: false, etaBuffer: 20, gracefulExit: false }, cliProgress.Presets.shades_classic);
  return {
    step: (message) => line(`ragoss: ${message}`),
    warn: (message) => line(`ragoss: warning: ${message}`),
    task(label, total, unit) {
      const format =
        unit === 'bytes'
          ? `${label} [{bar}] {percentage}% | {doneText}/{totalText} | {rateText} | ETA {eta_formatted}`
          : `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | ETA {eta_formatted}`;
      const started = performance.now();
      const payload = (done: number) => {
        const seconds = Math.max((performance.now() - started) / 1000, 0.001);
        return {
          doneText: formatCount(done, unit),
          totalText: total > 0 ? formatCount(total, unit) : '?',
          rateText: `${formatCount(Math.round(done / seconds), unit)}/s`,
        };
      };
      bars ??= startBars();
      const owner = bars;
      const bar = owner.create(Math.max(total, 1), 0, payload(0), { format });
      live++;
      let finished = false;
      return {
        update: (done) => bar.update(total > 0 ? done : 0, payload(done)),
        done: () => {
          if (finished) return;
          finished = true;
          if (total <= 0) bar.setTotal(1);
          bar.update(total > 0 ? total : 1, payload(total > 0 ? total : 1));
          live--;
          if (live === 0 && bars === owner) {
            // Lines logged since the last redraw are written by a redraw, not by stop().
            owner.update();
            owner.stop();
            bars = undefined;
          }
        },
      };
    },
  };
}

/** Silence after which a long command's plain log says where it stands (well inside 30 s). */
export const HEARTBEAT_MS = 20_000;

/**
 * `heartbeat`: for commands whose stdout stays quiet until the end (ingest, export); never for
 * ones that stream an answer, where a status line would land in the middle of it.
 */
export function progressFor(stream: NodeJS.WriteStream, options: { quiet: boolean; heartbeat?: boolean }): Progress {
  // Quiet drops progress, never warnings: they change what the output means.
  if (options.quiet) return { ...silentProgress, warn: (message) => stream.write(`ragoss: warning: ${message}\n`) };
  if (stream.isTTY) return barProgress(stream);
  return lineProgress((line) => stream.write(`${line}\n`), options.heartbeat === true ? { heartbeatMs: HEARTBEAT_MS } : {});
}
