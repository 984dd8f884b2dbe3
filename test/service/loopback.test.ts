import { describe, expect, it } from 'vitest';
import { isLoopbackHost } from '../../src/service/loopback.js';

describe('isLoopbackHost', () => {
  it('takes the names and addresses that stay on this machine, as Host headers and --host write them', () => {
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]']) expect(isLoopbackHost(host), host).toBe(true);
  });

  it('refuses everything else', () => {
    for (const host of ['0.0.0.0', '::', '[::]', '10.0.0.1', 'example.com', 'localhost.example.com', '']) expect(isLoopbackHost(host), host).toBe(false);
  });
});
