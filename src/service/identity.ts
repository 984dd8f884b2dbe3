import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EngineSettings } from '../engine/settings.js';
import { describeLocation } from '../store/location.js';
import { packageVersion } from '../version.js';
import type { JobInfo } from '../engine/engine.js';

/**
 * The package version plus when this build was made: a service left running across an upgrade or
 * a rebuild of a checkout is never taken for the current one.
 */
export function serviceVersion(): string {
  const built = Math.round(statSync(fileURLToPath(import.meta.url)).mtimeMs);
  return `${packageVersion()}+${built.toString(36)}`;
}

/**
 * The settings a service must share with a client for the client to use it: those that are one
 * per process. Where Milvus lives (and how ragoss reaches it) is: the service holds one connection,
 * and the embedded data is one process's at a time. Everything else travels with each request
 * (embedding model and server, model dir, dtype, rerank, chat endpoint, link template...), so a
 * difference there never costs a restart. The Milvus token is compared by hash so it never travels or shows.
 */
export function settingsFingerprint(settings: EngineSettings): Record<string, string> {
  const { location } = settings;
  const token = location.kind === 'server' && location.token !== undefined ? secretHash(location.token) : '';
  return {
    home: settings.home,
    milvus: describeLocation(location),
    milvusToken: token,
    milvusLite: settings.milvusLiteExecutable ?? '',
    milvusTimeoutMs: String(settings.milvusTimeoutMs),
  };
}

/** Compared by hash so a secret never travels or shows. */
function secretHash(secret: string): string {
  return createHash('sha256').update(secret).digest('hex').slice(0, 16);
}

/** Names of the settings that differ, for the one warning line a mismatch earns. */
export function fingerprintDifferences(mine: Record<string, string>, theirs: Record<string, string>): string[] {
  const keys = new Set([...Object.keys(mine), ...Object.keys(theirs)]);
  return [...keys].filter((key) => mine[key] !== theirs[key]).sort();
}

/** What GET /v1/health answers. */
export interface ServiceHealth {
  ok: boolean;
  service: 'ragoss';
  version: string;
  pid: number;
  startedAt: string;
  uptimeSeconds: number;
  rssBytes: number;
  models: string[];
  /** Detached ingests: running ones and the last few finished. */
  jobs: JobInfo[];
  autoStarted: boolean;
  activeRequests: number;
  requestsServed: number;
  socket: string;
  tcp: string | null;
  idleTimeoutSeconds: number;
  settings: Record<string, string>;
}
