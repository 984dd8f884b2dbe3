import { readFileSync } from 'node:fs';

/** What a pid file holds: who serves, where, since when. */
export interface PidRecord {
  pid: number;
  version: string;
  socket: string;
  tcp: string | null;
  startedAt: string;
  autoStarted: boolean;
  /** The bearer token TCP requests need (the file is 0600); absent without TCP. */
  token?: string;
}

export function readPidRecord(pidFile: string): PidRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(pidFile, 'utf8')) as Partial<PidRecord>;
    return typeof record.pid === 'number' ? (record as PidRecord) : undefined;
  } catch {
    return undefined;
  }
}
