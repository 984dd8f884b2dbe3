import { describe, expect, it } from 'vitest';
import { networkProblem, redact } from '../src/errors.js';

/** An error as Node's sockets make them: a message and a code. */
function socketError(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:9`), { code });
}

describe('networkProblem: a failed request in words', () => {
  it('names the socket error however deep fetch and a client library wrapped it', () => {
    const fetchFailed = new TypeError('fetch failed', { cause: socketError('ENOTFOUND') });
    expect(networkProblem(fetchFailed)).toBe('host not found');
    expect(networkProblem(new Error('Connection error.', { cause: fetchFailed }))).toBe('host not found');
    expect(networkProblem(socketError('ECONNREFUSED'))).toBe('connection refused');
    expect(networkProblem(new TypeError('fetch failed', { cause: socketError('UND_ERR_SOCKET') }))).toBe('connection dropped');
    expect(networkProblem(new TypeError('fetch failed', { cause: socketError('EAI_AGAIN') }))).toBe('host name lookup failed (DNS unreachable?)');
  });

  it('says "too many redirects" for fetch\'s redirect failure', () => {
    expect(networkProblem(new TypeError('fetch failed', { cause: new Error('redirect count exceeded') }))).toBe('too many redirects');
  });

  it('falls back to the innermost message it reached, or the value itself', () => {
    expect(networkProblem(new TypeError('fetch failed', { cause: new Error('certificate has expired') }))).toBe('certificate has expired');
    expect(networkProblem(new Error('plain'))).toBe('plain');
    expect(networkProblem('a string')).toBe('a string');
    expect(networkProblem(new TypeError('fetch failed', { cause: 'socket gone' }))).toBe('socket gone');
  });
});

describe('redact', () => {
  it('replaces every occurrence of every secret', () => {
    expect(redact('key sk-1 and sk-1 and tok', ['sk-1', 'tok'])).toBe('key *** and *** and ***');
    expect(redact('nothing here', [])).toBe('nothing here');
  });
});
