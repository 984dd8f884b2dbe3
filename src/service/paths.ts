import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Unix socket paths are limited to 108 bytes on Linux (104 on macOS); keep clear of both. */
const MAX_SOCKET_PATH = 100;

export interface ServicePaths {
  /** The service's Unix socket (mode 0600): the address every local client uses. */
  socket: string;
  /** JSON with the service's pid, address and start time; created exclusively, so it is also the lock. */
  pidFile: string;
  /** Where a background service writes its log. */
  log: string;
}

/** One service per RAGOSS_HOME: these paths are how clients find it. */
export function servicePaths(home: string): ServicePaths {
  const inHome = join(home, 'serve.sock');
  const socket = inHome.length <= MAX_SOCKET_PATH ? inHome : join(tmpdir(), `ragoss-${createHash('sha256').update(home).digest('hex').slice(0, 16)}.sock`);
  return { socket, pidFile: join(home, 'serve.json'), log: join(home, 'serve.log') };
}
