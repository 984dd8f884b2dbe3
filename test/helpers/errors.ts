import { expect } from 'vitest';
import { RagossError } from '../../src/errors.js';
import type { CliResult } from './cli.js';

/** The RagossError `promise` rejects with; resolving, or rejecting with anything else, fails the test. */
export async function ragossRejection(promise: Promise<unknown>): Promise<RagossError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RagossError);
  return error as RagossError;
}

/** A clean CLI failure: the exit code, one `ragoss: error:` line, no stack trace. Returns that line. */
export function cleanErrorLine(result: CliResult, code: number): string {
  expect(result.code, result.stderr).toBe(code);
  const errorLines = result.stderr.split('\n').filter((line) => line.includes('ragoss: error:'));
  expect(errorLines, result.stderr).toHaveLength(1);
  expect(result.stderr).not.toMatch(/^ {4}at /m);
  return errorLines[0] as string;
}
