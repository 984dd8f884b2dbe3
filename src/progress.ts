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

/** For logs and CI: one line when a task starts and one when it ends, no redraws. */
export function lineProgress(write: (line: string) => void): Progress {
  return {
    step: (message) => write(`ragoss: ${message}`),
    warn: (message) => write(`ragoss: warning: ${message}`),
    task(label, total, unit) {
      const started = performance.now();
      write(`ragoss: ${label}${total > 0 ? ` (${formatCount(total, unit)})` : ''}...`);
      let last = 0;
      return {
        update: (done) => {
          last = done;
        },
        done: () => {
          const seconds = ((performance.now() - started) / 1000).toFixed(1);
          write(`ragoss: ${label}: ${formatCount(last || total, unit)} in ${seconds}s`);
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

export function progressFor(stream: NodeJS.WriteStream, options: { quiet: boolean }): Progress {
  // Quiet drops progress, never warnings: they change what the output means.
  if (options.quiet) return { ...silentProgress, warn: (message) => stream.write(`ragoss: warning: ${message}\n`) };
  if (stream.isTTY) return barProgress(stream);
  return lineProgress((line) => stream.write(`${line}\n`));
}
