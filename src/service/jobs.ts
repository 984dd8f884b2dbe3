import type { IngestRequest, IngestResult, JobInfo } from '../engine/engine.js';
import { InterruptedError, RagossError, errorMessage } from '../errors.js';
import { describeTaskState, type Progress } from '../progress.js';

/** Finished jobs kept for `doctor` to show, newest last. */
const KEPT_FINISHED = 10;

interface TaskState {
  label: string;
  total: number;
  unit: string;
  started: number;
  done: number;
}

/** A Progress that remembers where a job stands (for whoever asks later) and logs its steps. */
function jobProgress(job: JobInfo, log: Progress): { progress: Progress; describe(): string } {
  const tasks = new Set<TaskState>();
  let step = 'starting';
  return {
    progress: {
      step(message) {
        step = message;
        log.step(`job ${job.id}: ${message}`);
      },
      warn: (message) => log.warn(`job ${job.id}: ${message}`),
      task(label, total, unit) {
        const state: TaskState = { label, total, unit, started: performance.now(), done: 0 };
        tasks.add(state);
        log.step(`job ${job.id}: ${label}...`);
        return {
          update: (done) => {
            state.done = done;
          },
          done: () => {
            tasks.delete(state);
            step = `${label}: done`;
          },
        };
      },
    },
    describe() {
      const running = [...tasks].at(-1);
      if (running === undefined) return step;
      return `${running.label}: ${describeTaskState(running.done, running.total, running.unit, (performance.now() - running.started) / 1000)}`;
    },
  };
}

/**
 * Long work handed to the service so the caller can go: each job runs on the service's engine
 * (so searches keep answering from the previous data until its swap) with its own cancellation,
 * and counts as activity, so the service does not idle out under it.
 */
export class JobRegistry {
  private nextId = 1;
  private readonly jobs: Array<{ info: JobInfo; describe: () => string }> = [];

  constructor(
    private readonly log: Progress,
    private readonly hooks: { began(controller: AbortController): void; ended(controller: AbortController): void },
  ) {}

  startIngest(request: IngestRequest, run: (request: IngestRequest, context: { progress: Progress; signal: AbortSignal }) => Promise<IngestResult>): JobInfo {
    if (request.dryRun) throw new RagossError('--detach and --dry-run do not go together', 'a dry run answers at once: drop --detach');
    const info: JobInfo = { id: this.nextId++, kind: 'ingest', collection: request.collection, source: request.source, state: 'running', startedAt: new Date().toISOString(), progress: 'starting' };
    const tracker = jobProgress(info, this.log);
    this.jobs.push({ info, describe: tracker.describe });
    const controller = new AbortController();
    this.hooks.began(controller);
    run(request, { progress: tracker.progress, signal: controller.signal }).then(
      (result) => this.finish(info, controller, { state: 'done', result }),
      (error: unknown) =>
        this.finish(info, controller, error instanceof InterruptedError || controller.signal.aborted ? { state: 'cancelled' } : { state: 'failed', error: { message: errorMessage(error), ...(error instanceof RagossError && error.hint !== undefined ? { hint: error.hint } : {}) } }),
    );
    return this.snapshot(info, tracker.describe);
  }

  /** Every job still held, with where the running ones stand now. */
  list(): JobInfo[] {
    return this.jobs.map(({ info, describe }) => this.snapshot(info, describe));
  }

  private snapshot(info: JobInfo, describe: () => string): JobInfo {
    return info.state === 'running' ? { ...info, progress: describe() } : { ...info };
  }

  private finish(info: JobInfo, controller: AbortController, outcome: Pick<JobInfo, 'state' | 'result' | 'error'>): void {
    Object.assign(info, outcome, { finishedAt: new Date().toISOString() });
    info.progress = outcome.state === 'done' ? `ingested ${outcome.result?.dryRun === false ? outcome.result.chunks : 0} chunks into ${info.collection}` : outcome.state === 'failed' ? `failed: ${outcome.error?.message}` : 'cancelled (the previous data keeps serving)';
    this.log.step(`job ${info.id}: ${info.progress}`);
    this.hooks.ended(controller);
    const finished = this.jobs.filter(({ info: job }) => job.state !== 'running');
    for (const old of finished.slice(0, Math.max(0, finished.length - KEPT_FINISHED))) this.jobs.splice(this.jobs.indexOf(old), 1);
  }
}
