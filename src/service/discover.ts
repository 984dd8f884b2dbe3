import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { DaemonUse, Env } from '../config.js';
import type { EngineSettings } from '../engine/settings.js';
import { describeLocation } from '../store/location.js';
import type { Progress } from '../progress.js';
import { processAlive } from '../system.js';
import { RagossError } from '../errors.js';
import { probeService, RemoteEngine, socketJson } from './client.js';
import { ROUTES } from './routes.js';
import { fingerprintDifferences, serviceVersion, settingsFingerprint, type ServiceHealth } from './identity.js';
import { servicePaths, type ServicePaths } from './paths.js';
import { readPidRecord } from './pidfile.js';

const BIN = fileURLToPath(new URL('../../bin/ragoss.js', import.meta.url));
/** A service answers within a Node start (~0.3 s) of being spawned; this bounds a stuck one. */
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const POLL_MS = 50;
const MAX_LOG_BYTES = 5 * 1024 * 1024;

const delay = (ms: number) => new Promise((resolveDelay) => setTimeout(resolveDelay, ms));

/** Is `pid` a live ragoss service (and not an unrelated process that reused a dead one's pid)? */
function serviceAlive(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('serve');
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

/** Removes the files of a service that is gone (crashed, killed -9): they would mislead the next client. */
function cleanStale(paths: ServicePaths): void {
  const record = readPidRecord(paths.pidFile);
  if (record !== undefined && serviceAlive(record.pid)) return;
  rmSync(paths.pidFile, { force: true });
  if (existsSync(paths.socket)) rmSync(paths.socket, { force: true });
}

/** Waits until a service answers on the socket, or `giveUp` says stop; undefined if none did. */
async function waitForHealth(paths: ServicePaths, deadline: number, giveUp: () => boolean = () => false): Promise<ServiceHealth | undefined> {
  while (Date.now() < deadline && !giveUp()) {
    const health = await probeService(paths.socket, 2000);
    if (health !== undefined) return health;
    await delay(POLL_MS);
  }
  return undefined;
}

/**
 * The service's environment: the caller's, with every setting it resolved (flags included) made
 * explicit, so the service runs as the command would have: the process's settings, which decide
 * whether later commands can use it, and the embedding ones, its defaults for API callers that
 * send none (ragoss's own commands send theirs with each request).
 */
function serviceEnv(settings: EngineSettings, env: Env): NodeJS.ProcessEnv {
  const { RAGOSS_DAEMON: _daemon, ...inherited } = env;
  const { embedding } = settings;
  return {
    ...inherited,
    RAGOSS_HOME: settings.home,
    MILVUS_URI: describeLocation(settings.location),
    RAGOSS_MILVUS_TIMEOUT: String(settings.milvusTimeoutMs / 1000),
    RAGOSS_MILVUS_LITE: settings.milvusLiteExecutable,
    RAGOSS_LOCK_TIMEOUT: String(settings.lockTimeoutMs / 1000),
    RAGOSS_START_TIMEOUT: String(settings.startTimeoutMs / 1000),
    RAGOSS_MODEL_DIR: embedding.modelDir,
    RAGOSS_OFFLINE: embedding.offline ? '1' : '0',
    RAGOSS_EMBEDDING_URL: embedding.url,
    RAGOSS_EMBEDDING_DTYPE: embedding.dtype,
  };
}

/**
 * Starts `ragoss serve` in the background (its output goes to the log in the ragoss home) and
 * waits until a service answers. Of two started at the same moment one exits at once, having lost
 * the pid file: both callers then talk to the winner.
 */
export async function startDetached(settings: EngineSettings, env: Env, serveArgs: readonly string[]): Promise<ServiceHealth | undefined> {
  const paths = servicePaths(settings.home);
  mkdirSync(settings.home, { recursive: true });
  // One request a line adds up over months of auto-starts: keep the last log beside the new one.
  if (existsSync(paths.log) && statSync(paths.log).size > MAX_LOG_BYTES) renameSync(paths.log, `${paths.log}.1`);
  const log = openSync(paths.log, 'a', 0o600);
  let exited = false;
  let childPid: number | undefined;
  try {
    const child = spawn(process.execPath, [BIN, 'serve', ...serveArgs], { detached: true, stdio: ['ignore', log, log], env: serviceEnv(settings, env) });
    childPid = child.pid;
    child.on('exit', () => (exited = true));
    child.on('error', () => (exited = true));
    child.unref();
  } finally {
    closeSync(log);
  }
  // Ours may lose the start race and exit at once: then wait for the winner, for as long as its
  // process lives (under load it can take seconds to answer). Give up only when neither is alive.
  const winnerAlive = () => {
    const record = readPidRecord(paths.pidFile);
    return record !== undefined && record.pid !== childPid && serviceAlive(record.pid);
  };
  return waitForHealth(paths, Date.now() + START_TIMEOUT_MS, () => exited && !winnerAlive());
}

/** Asks the service to stop and waits until its process is gone (SIGTERM, then SIGKILL, if it will not). */
export async function stopService(paths: ServicePaths, pid: number): Promise<void> {
  await socketJson(paths.socket, 'POST', ROUTES.shutdown.path, 3000).catch(() => undefined);
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (serviceAlive(pid) && Date.now() < deadline) await delay(POLL_MS);
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    if (!serviceAlive(pid)) break;
    process.kill(pid, signal);
    const graceEnds = Date.now() + 5000;
    while (serviceAlive(pid) && Date.now() < graceEnds) await delay(POLL_MS);
  }
  cleanStale(paths);
}

/** The service for this ragoss home, as seen right now (nothing is started or cleaned). */
export function currentService(home: string): Promise<ServiceHealth | undefined> {
  return probeService(servicePaths(home).socket);
}

/** What keeps a command from using this service: its version, or a setting that is one per process. */
export function differencesFrom(health: ServiceHealth, settings: EngineSettings): string[] {
  if (health.version !== serviceVersion()) return ['version'];
  return fingerprintDifferences(settingsFingerprint(settings), health.settings);
}

/** The running service as an engine, whatever its settings (doctor checks through it, and says how they differ). */
export function serviceEngine(home: string, health: ServiceHealth): RemoteEngine {
  return new RemoteEngine(servicePaths(home).socket, health.pid);
}

/**
 * A service that holds our embedded Milvus data and that we may not use: working in-process would
 * only wait on its data lock, so say so at once, with the setting that differs and the fix.
 */
function holdsOurData(health: ServiceHealth, settings: EngineSettings): boolean {
  return settings.location.kind === 'embedded' && sameMilvus(health, settings);
}

/** Whether the service works on the Milvus these settings name (the same embedded data, or server and token). */
export function sameMilvus(health: ServiceHealth, settings: EngineSettings): boolean {
  const ours = settingsFingerprint(settings);
  return health.settings['milvus'] === ours['milvus'] && health.settings['milvusToken'] === ours['milvusToken'];
}

function serviceInTheWay(health: ServiceHealth, differences: readonly string[], settings: EngineSettings): RagossError {
  const why = !health.autoStarted ? 'was started by `ragoss serve`' : `is busy (${health.activeRequests} request${health.activeRequests === 1 ? '' : 's'} running)`;
  const differing = differences.map((name) => (name === 'version' ? `version ${health.version}` : name)).join(', ');
  return new RagossError(
    `the ragoss service (pid ${health.pid}) holds the embedded Milvus data in ${describeLocation(settings.location)} and runs with other settings (${differing}); it ${why}, so it was not restarted`,
    `stop it with \`ragoss serve --stop\` and run the command again (a service with your settings starts), or run with its settings`,
  );
}

/**
 * The engine a command should use: the running service when its settings match ours, a freshly
 * started one when allowed, or undefined for in-process work. A mismatched service is restarted
 * when it was auto-started and is idle; otherwise it is left alone, with one warning line.
 */
export async function connectService(settings: EngineSettings, env: Env, use: DaemonUse, progress: Progress): Promise<RemoteEngine | undefined> {
  if (use === 'off') return undefined;
  const paths = servicePaths(settings.home);
  let health = await probeService(paths.socket);
  if (health === undefined) {
    const record = readPidRecord(paths.pidFile);
    // A service whose process lives but does not answer yet is starting (another command's): wait for it.
    // Otherwise leave the files alone: the service started next takes over a dead holder's pid file
    // and replaces a leftover socket itself. Removing them here raced with a service another command
    // had just started (read "no pid file", then deleted its new socket): it served on a deleted path.
    if (record !== undefined && serviceAlive(record.pid)) health = await waitForHealth(paths, Date.now() + 10_000);
  }
  if (health !== undefined) {
    const differences = differencesFrom(health, settings);
    if (differences.length === 0) return new RemoteEngine(paths.socket, health.pid);
    const idleAutoStarted = health.autoStarted && health.activeRequests === 0;
    const ours = holdsOurData(health, settings);
    // An idle auto-started service is ours to replace; one holding our data must go for in-process work to start at all.
    if (!(idleAutoStarted && (use === 'use-or-start' || ours))) {
      if (ours) throw serviceInTheWay(health, differences, settings);
      progress.warn(`the ragoss service (pid ${health.pid}) runs with other settings (${differences.join(', ')}); working in-process (\`ragoss serve --stop\` stops it)`);
      return undefined;
    }
    progress.step(`${use === 'use-or-start' ? 'restarting' : 'stopping'} the ragoss service (pid ${health.pid}): its ${differences.join(', ')} differ`);
    await stopService(paths, health.pid);
  }
  if (use !== 'use-or-start') return undefined;
  const started = await startDetached(settings, env, ['--auto-started']);
  if (started !== undefined && differencesFrom(started, settings).length === 0) return new RemoteEngine(paths.socket, started.pid);
  progress.warn(`could not start a ragoss service (see ${paths.log}); working in-process`);
  return undefined;
}
