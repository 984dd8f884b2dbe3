import type { Progress, ProgressTask } from '../progress.js';

type TaskUnit = Parameters<Progress['task']>[2];

/** Progress as data, so work done in the service shows on the client's terminal as if local. */
export type ProgressEvent =
  | { type: 'step'; message: string }
  | { type: 'warn'; message: string }
  | { type: 'task'; id: number; label: string; total: number; unit: TaskUnit }
  | { type: 'update'; id: number; done: number }
  | { type: 'done'; id: number };

/** A Progress that turns every call into an event. */
export function progressEmitter(emit: (event: ProgressEvent) => void): Progress {
  let nextId = 1;
  return {
    step: (message) => emit({ type: 'step', message }),
    warn: (message) => emit({ type: 'warn', message }),
    task(label, total, unit) {
      const id = nextId++;
      emit({ type: 'task', id, label, total, unit });
      return { update: (done) => emit({ type: 'update', id, done }), done: () => emit({ type: 'done', id }) };
    },
  };
}

/** The other end: plays events back onto a local Progress (bars, lines or nothing). */
export function progressReplayer(progress: Progress): (event: ProgressEvent) => void {
  const tasks = new Map<number, ProgressTask>();
  return (event) => {
    switch (event.type) {
      case 'step':
        progress.step(event.message);
        break;
      case 'warn':
        progress.warn(event.message);
        break;
      case 'task':
        tasks.set(event.id, progress.task(event.label, event.total, event.unit));
        break;
      case 'update':
        tasks.get(event.id)?.update(event.done);
        break;
      case 'done':
        tasks.get(event.id)?.done();
        tasks.delete(event.id);
        break;
    }
  };
}
