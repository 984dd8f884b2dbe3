import { Option, type Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { delimiter, resolve } from 'node:path';
import { engineSettings, parseDuration, parsePositiveInt, pick, resolveCommonConfig, type CommonFlags, type Env } from '../config.js';
import { UsageError } from '../errors.js';
import { lineProgress, silentProgress } from '../progress.js';
import { currentService, startDetached, stopService } from '../service/discover.js';
import { isLoopbackHost } from '../service/loopback.js';
import { servicePaths } from '../service/paths.js';
import { readPidRecord } from '../service/pidfile.js';
import type { CommandRunner, Runtime } from '../cli/runtime.js';

interface ServeFlags extends CommonFlags {
  detach?: boolean;
  stop?: boolean;
  port?: string;
  host?: string;
  token?: string;
  allowPath?: string[];
  idleTimeout?: string;
  autoStarted?: boolean;
}

const DEFAULT_IDLE = '10m';

export function registerServe(program: Command, run: CommandRunner): void {
  program
    .command('serve')
    .description('run the warm ragoss service (Milvus, models and chat client kept loaded) that every command uses')
    .option('--detach', 'start it in the background and return once it answers')
    .option('--stop', 'stop the service for this ragoss home')
    .option('--port <n>', 'also serve the HTTP API on TCP (127.0.0.1 unless --host)')
    .option('--host <address>', 'TCP address to listen on; anything but loopback needs --token')
    .option('--token <secret>', 'bearer token every TCP request must carry (env RAGOSS_SERVE_TOKEN, which keeps it out of ps; default: a new random one, kept in the 0600 serve.json)')
    .option('--allow-path <dir...>', 'let TCP requests ingest from and export to paths under these directories (env RAGOSS_SERVE_ALLOW_PATHS, colon-separated; default: none, only the Unix socket may name local paths)')
    .option('--idle-timeout <duration>', `stop after this long without requests: 90s, 10m, 1h, 0 for never (env RAGOSS_IDLE_TIMEOUT; default ${DEFAULT_IDLE})`)
    // ragoss's own: a command that starts the service passes it (so it may be restarted when idle).
    .addOption(new Option('--auto-started', 'internal: started by a command, so it may be restarted when idle').hideHelp())
    .action(async (flags: ServeFlags) => {
      await run(flags, (runtime) => serveCommand(flags, runtime));
    });
}

function tcpOptions(flags: ServeFlags, token: string | undefined): { host: string; port: number } | undefined {
  if (flags.port === undefined) {
    if (flags.host !== undefined) throw new UsageError('--host needs --port');
    return undefined;
  }
  const port = parsePositiveInt(flags.port, '--port', 0);
  if (port > 65_535) throw new UsageError(`--port must be at most 65535, got ${port}`);
  // `[::1]` as URLs write it; the socket wants the bare address.
  const host = (flags.host ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  if (!isLoopbackHost(host) && token === undefined) {
    throw new UsageError(`--host ${host} would expose the service beyond this machine without a token`, 'set RAGOSS_SERVE_TOKEN (or --token): every TCP request must then carry it');
  }
  return { host, port };
}

/** What a detached service needs to run with this command's settings (secrets via env, not argv). */
function detachedArgs(flags: ServeFlags, token: string | undefined, allowedPaths: readonly string[], env: Env): { args: string[]; env: Env } {
  const args = ['--idle-timeout', flags.idleTimeout ?? pick(undefined, env, 'RAGOSS_IDLE_TIMEOUT') ?? DEFAULT_IDLE];
  if (flags.port !== undefined) args.push('--port', flags.port);
  if (flags.host !== undefined) args.push('--host', flags.host);
  const paths = allowedPaths.length === 0 ? {} : { RAGOSS_SERVE_ALLOW_PATHS: allowedPaths.join(delimiter) };
  return { args, env: { ...env, RAGOSS_SERVE_TOKEN: token, ...paths, RAGOSS_COLLECTION: flags.collection ?? env['RAGOSS_COLLECTION'] } };
}

/** The directories TCP requests may name local paths under, absolute. */
function allowedPathsOf(flags: ServeFlags, env: Env): string[] {
  const fromEnv = pick(undefined, env, 'RAGOSS_SERVE_ALLOW_PATHS')?.split(delimiter).filter((dir) => dir !== '');
  return (flags.allowPath ?? fromEnv ?? []).map((dir) => resolve(dir));
}

async function serveCommand(flags: ServeFlags, { env, signal, stdout, stderr }: Runtime): Promise<void> {
  const config = resolveCommonConfig(flags, env);
  const settings = engineSettings(config);
  const paths = servicePaths(config.home);
  if (flags.stop) {
    const running = (await currentService(config.home))?.pid ?? readPidRecord(paths.pidFile)?.pid;
    if (running === undefined) {
      stdout.write(`no ragoss service is running for ${config.home}\n`);
      return;
    }
    await stopService(paths, running);
    stdout.write(`stopped the ragoss service (pid ${running})\n`);
    return;
  }
  const given = pick(flags.token, env, 'RAGOSS_SERVE_TOKEN');
  const tcp = tcpOptions(flags, given);
  // Loopback is not private to a user: every TCP request carries a token, a new one unless given,
  // kept where only this user can read it (serve.json, 0600), never in a log.
  const token = given ?? (tcp === undefined ? undefined : randomBytes(24).toString('base64url'));
  const allowedPaths = allowedPathsOf(flags, env);
  const idleTimeoutMs = parseDuration(flags.idleTimeout ?? pick(undefined, env, 'RAGOSS_IDLE_TIMEOUT'), '--idle-timeout', parseDuration(DEFAULT_IDLE, '', 0));
  if (flags.detach) {
    const existing = await currentService(config.home);
    if (existing !== undefined) {
      stdout.write(`a ragoss service is already running (pid ${existing.pid}) at ${existing.socket}\n`);
      return;
    }
    const detached = detachedArgs(flags, token, allowedPaths, env);
    const health = await startDetached(settings, detached.env, detached.args);
    if (health === undefined) throw new UsageError('the ragoss service did not start', `see ${paths.log}`);
    stdout.write(`started the ragoss service (pid ${health.pid}) at ${health.socket}${health.tcp === null ? '' : ` and ${health.tcp}`}\n`);
    return;
  }
  mkdirSync(config.home, { recursive: true });
  const log = config.quiet ? silentProgress : lineProgress((line) => stderr.write(`${new Date().toISOString()} ${line}\n`));
  const { AlreadyServingError, startService } = await import('../service/server.js');
  let running;
  try {
    running = await startService({ settings, env, socketPath: paths.socket, pidFile: paths.pidFile, tcp, token, allowedPaths, idleTimeoutMs, autoStarted: flags.autoStarted === true, log });
  } catch (error) {
    // Two commands started a service at the same moment: the other one won, and serves both.
    if (flags.autoStarted && error instanceof AlreadyServingError) return log.step(`pid ${error.pid} already serves this home; exiting`);
    throw error;
  }
  log.step(`serving on ${running.socketPath}${running.tcpUrl === undefined ? '' : ` and ${running.tcpUrl}`} (pid ${process.pid})`);
  if (running.tcpUrl !== undefined) {
    log.step(`TCP requests need the bearer token kept in ${paths.pidFile} (readable by you only): curl -H "Authorization: Bearer $(node -p 'require(process.argv[1]).token' ${paths.pidFile})" ${running.tcpUrl}/v1/health`);
  }
  // Ctrl-C or SIGTERM stops it cleanly: requests cancelled, the embedded Milvus stopped, files removed.
  const onSignal = () => void running.stop('interrupted');
  signal.addEventListener('abort', onSignal, { once: true });
  await running.closed;
  signal.removeEventListener('abort', onSignal);
}
