/** Exit codes are part of the CLI contract: scripts branch on them, so never renumber. */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  notIngested: 3,
  /** ask: the docs do not seem to cover the question, so the model was not asked (see --force). */
  notCovered: 4,
  interrupted: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error meant for the user: `message` names the problem, `hint` the fix.
 * Anything else that reaches the top level is a bug and is reported as such.
 */
export class RagossError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
    readonly exitCode: ExitCodeValue = ExitCode.failure,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RagossError';
  }
}

export class UsageError extends RagossError {
  constructor(message: string, hint?: string) {
    super(message, hint, ExitCode.usage);
    this.name = 'UsageError';
  }
}

/** Not a failure of ragoss: an answer ("the docs do not cover this") that scripts tell apart by exit code 4. */
export class NotCoveredError extends RagossError {
  constructor(message: string, hint: string) {
    super(message, hint, ExitCode.notCovered);
    this.name = 'NotCoveredError';
  }
}

export class InterruptedError extends RagossError {
  constructor() {
    super('interrupted', undefined, ExitCode.interrupted);
    this.name = 'InterruptedError';
  }
}

/** Problem, then fix: the one line every entry point (CLI, MCP, the service's log) shows for a user's error. */
export function problemAndFix(error: RagossError): string {
  return `${error.message}${error.hint ? ` — ${error.hint}` : ''}`;
}

/** An error that is not a RagossError is a bug: its first line, never its stack. */
export function firstLine(error: unknown): string {
  return errorMessage(error).split('\n')[0] ?? 'unknown error';
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

const NETWORK_PROBLEMS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed (DNS unreachable?)',
  ECONNRESET: 'connection dropped',
  UND_ERR_SOCKET: 'connection dropped',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/**
 * What went wrong with a request in words: fetch wraps the socket's error ("fetch failed", its
 * cause ENOTFOUND), and a client library may wrap fetch's, so the chain is searched for a code.
 */
export function networkProblem(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 4; depth++) {
    const code = (current as NodeJS.ErrnoException).code;
    const known = code === undefined ? undefined : NETWORK_PROBLEMS[code];
    if (known !== undefined) return known;
    if (current.message.includes('redirect')) return 'too many redirects';
    if (current.cause === undefined) return current.message;
    current = current.cause;
  }
  return errorMessage(current ?? error);
}

/**
 * The keys and tokens among `values` worth hiding: set ones of 4 characters or more (hiding a
 * shorter string would garble every message that happens to contain it, and no real key is one).
 */
export function secretsAmong(...values: Array<string | undefined>): string[] {
  return values.filter((value): value is string => value !== undefined && value.length >= 4);
}

/** Replaces every secret in `text` with ***: keys and tokens never reach output or logs. */
export function redact(text: string, secrets: readonly string[]): string {
  return secrets.reduce((redacted, secret) => redacted.split(secret).join('***'), text);
}
