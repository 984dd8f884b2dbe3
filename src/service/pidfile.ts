import { readFileSync } from 'node:fs';

/** What a pid file holds: who serves, where, since when. */
export interface PidRecord {
  pid: number;
  version: string;
  socket: string;
  tcp: string | null;
  startedAt: string;
  autoStarted: boolean;
}

export function readPidRecord(pidFile: string): PidRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(pidFile, 'utf8')) as Partial<PidRecord>;
    return typeof record.pid === 'number' ? (record as PidRecord) : undefined;
  } catch {
    return undefined;
  }
}
