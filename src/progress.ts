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

/** For a person at a terminal: live bars with rate and ETA. */
export function barProgress(stream: NodeJS.WriteStream): Progress {
  return {
    step: (message) => stream.write(`ragoss: ${message}\n`),
    warn: (message) => stream.write(`ragoss: warning: ${message}\n`),
    task(label, total, unit) {
      const isBytes = unit === 'bytes';
      const bar = new cliProgress.SingleBar(
        {
          stream,
          format: isBytes
            ? `${label} [{bar}] {percentage}% | {doneText}/{totalText} | {rateText} | ETA {eta_formatted}`
            : `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 20,
        },
        cliProgress.Presets.shades_classic,
      );
      const started = performance.now();
      const payload = (done: number) => {
        const seconds = Math.max((performance.now() - started) / 1000, 0.001);
        return {
          doneText: formatCount(done, unit),
          totalText: total > 0 ? formatCount(total, unit) : '?',
          rateText: `${formatCount(Math.round(done / seconds), unit)}/s`,
        };
      };
      bar.start(Math.max(total, 1), 0, payload(0));
      return {
        update: (done) => bar.update(total > 0 ? done : 0, payload(done)),
        done: () => {
          if (total <= 0) bar.setTotal(1);
          bar.update(total > 0 ? total : 1);
          bar.stop();
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
