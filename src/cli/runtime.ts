import type { Engine } from '../engine/engine.js';
import { ExitCode, InterruptedError, NotCoveredError, RagossError, firstLine, problemAndFix, redact, type ExitCodeValue } from '../errors.js';


/** Where a command reads its settings and writes its output: the process's own, or a caller's (tests). */
export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  /**
   * The engine every command runs on, in place of the service or an in-process one: only a caller
   * of `main` can hand one in (tests, with a fake); the binary never does.
   */
  engine?: Engine;
}

export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env };
}

export interface Runtime extends CliIo {
  /** Aborted on SIGINT/SIGTERM: every long step checks it and stops without damage. */
  signal: AbortSignal;
}


function causeChain(error: unknown): string {
  const lines: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    lines.push(current.stack ?? current.message);
    current = current.cause;
  }
  return lines.join('\ncaused by: ');
}

/** One line for the user; the stack only with --verbose. Returns the exit code. */
export function reportError(error: unknown, options: { verbose: boolean; secrets: readonly string[]; stderr: NodeJS.WriteStream; interrupted: boolean }): ExitCodeValue {
  const { stderr, secrets } = options;
  const write = (text: string) => stderr.write(`${redact(text, secrets)}\n`);
  if (options.interrupted || error instanceof InterruptedError) {
    write('ragoss: interrupted; nothing was changed');
    return ExitCode.interrupted;
  }
  if (error instanceof NotCoveredError) {
    write(`ragoss: ${error.message} — ${error.hint ?? ''}`);
    return error.exitCode;
  }
  if (error instanceof RagossError) {
    write(`ragoss: error: ${problemAndFix(error)}`);
    if (options.verbose && error.cause !== undefined) write(causeChain(error.cause));
    return error.exitCode;
  }
  write(`ragoss: unexpected error: ${firstLine(error)}${options.verbose ? '' : ' (run with --verbose for details)'}`);
  if (options.verbose) write(causeChain(error));
  return ExitCode.failure;
}

/**
 * Runs a command with signal handling: the first SIGINT/SIGTERM aborts the work so cleanup runs
 * (temp collections dropped, the embedded server stopped); a second one exits at once.
 */
export async function runCommand(
  body: (runtime: Runtime) => Promise<void>,
  options: { verbose: boolean; secrets: () => readonly string[]; io: CliIo },
): Promise<ExitCodeValue> {
  const { io } = options;
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = () => {
    interrupts++;
    if (interrupts > 1) {
      // No more cleanup: the exit handlers still stop an embedded Milvus Lite, and the next ingest
      // drops any collection this one left half-written.
      io.stderr.write('ragoss: interrupted again; stopped without cleaning up\n');
      process.exit(ExitCode.interrupted);
    }
    controller.abort(new InterruptedError());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await body({ signal: controller.signal, ...io });
    return ExitCode.ok;
  } catch (error) {
    return reportError(error, { verbose: options.verbose, secrets: options.secrets(), stderr: io.stderr, interrupted: controller.signal.aborted });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** How cli.ts hands each command its runner: parse options, then `run` does the rest. */
export type CommandRunner = (flags: { verbose?: boolean }, body: (runtime: Runtime) => Promise<void>) => Promise<void>;
