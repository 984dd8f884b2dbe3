import { expect } from 'vitest';
import { RagossError } from '../../src/errors.js';

/** The RagossError `promise` rejects with; resolving, or rejecting with anything else, fails the test. */
export async function ragossRejection(promise: Promise<unknown>): Promise<RagossError> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(RagossError);
  return error as RagossError;
}
