import { chmodSync, existsSync, rmSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve as resolvePath, sep } from 'node:path';
import { resolveCommonConfig, type Env } from '../config.js';
import type { EngineSettings } from '../engine/settings.js';
import type { OperationContext } from '../engine/engine.js';
import { LocalEngine } from '../engine/local.js';
import { withPublishedHits } from '../engine/hit-json.js';
import { progressEmitter } from './progress-events.js';
import { ExitCode, InterruptedError, RagossError, UsageError, errorMessage, firstLine, redact, secretsAmong } from '../errors.js';
import type { Progress } from '../progress.js';
import { createExclusive, processAlive } from '../system.js';
import { serviceVersion, settingsFingerprint, type ServiceHealth } from './identity.js';
import { isLoopbackHost } from './loopback.js';
import { readPidRecord, type PidRecord } from './pidfile.js';
import { JobRegistry } from './jobs.js';
import { REQUESTS } from './requests.js';
import { ROUTES, routeFor, type Route, type RouteName } from './routes.js';
import { sseEvent, type WireError } from './sse.js';

export interface ServeOptions {
  settings: EngineSettings;
  /** The service's environment: defaults for what API bodies leave out. */
  env: Env;
  socketPath: string;
  pidFile: string;
  /** Also listen on TCP (127.0.0.1 unless a host is given, which then needs a token). */
  tcp?: { host: string; port: number };
  /** Every TCP request must carry it (always set with TCP). */
  token?: string;
  /** Directories a TCP request may name local paths under (ingest sources, export targets). */
  allowedPaths?: readonly string[];
  /** Stop after this long without requests; 0 never. */
  idleTimeoutMs: number;
  autoStarted: boolean;
  /** Where the service reports what it does (stderr in the foreground, the log file when detached). */
  log: Progress;
}

export interface RunningService {
  socketPath: string;
  tcpUrl: string | undefined;
  /** Settles once the service has stopped and cleaned up. */
  closed: Promise<void>;
  stop(reason: string): Promise<void>;
}

const MAX_BODY_BYTES = 32 * 1024 * 1024;

/** Another service holds this home: an auto-started one that lost a start race just steps aside. */
export class AlreadyServingError extends RagossError {
  constructor(readonly pid: number) {
    super(`a ragoss service is already running for this ragoss home (pid ${pid})`, 'use it, or stop it with `ragoss serve --stop`', ExitCode.usage);
  }
}

/**
 * Creates the pid file exclusively: of two services started at the same moment exactly one gets
 * it. A pid file whose process is gone (crash, kill -9) is stale and taken over.
 */
async function claimPidFile(pidFile: string): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await createExclusive(pidFile, JSON.stringify({ pid: process.pid }))) return;
    const holder = readPidRecord(pidFile);
    if (holder !== undefined && holder.pid !== process.pid && processAlive(holder.pid)) {
      throw new AlreadyServingError(holder.pid);
    }
    await rm(pidFile, { force: true });
  }
  throw new RagossError(`cannot claim ${pidFile}`, 'remove it if no ragoss service is running');
}

function listen(server: Server, where: { path: string } | { host: string; port: number }): Promise<void> {
  return new Promise((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(where, () => {
      server.off('error', rejectListen);
      resolveListen();
    });
  });
}

function wireError(error: unknown, secrets: readonly string[]): WireError {
  if (error instanceof RagossError) return { message: redact(error.message, secrets), hint: error.hint === undefined ? undefined : redact(error.hint, secrets), exitCode: error.exitCode };
  return { message: redact(firstLine(error), secrets), exitCode: ExitCode.failure, unexpected: true };
}

/** The string at `path` inside a JSON body, if there is one. */
function stringAt(value: unknown, ...path: string[]): string | undefined {
  let current = value;
  for (const key of path) {
    if (typeof current !== 'object' || current === null) return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return typeof current === 'string' ? current : undefined;
}

function statusFor(exitCode: number): number {
  if (exitCode === ExitCode.usage) return 400;
  if (exitCode === ExitCode.notIngested) return 404;
  if (exitCode === ExitCode.interrupted) return 499;
  return 500;
}

async function readJsonBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const parts: Buffer[] = [];
  for await (const part of request) {
    size += (part as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new UsageError(`request body over ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
    parts.push(part as Buffer);
  }
  const text = Buffer.concat(parts).toString('utf8');
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new UsageError('the request body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new UsageError('the request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** The endpoints that run engine work (the rest the handler answers itself). */
type OperationName = Exclude<RouteName, 'health' | 'shutdown' | 'jobList'>;

type Operation = (body: Record<string, unknown>, context: OperationContext, emit: (event: string, data: unknown) => void) => Promise<unknown>;

/** The running service: one engine, one HTTP handler on the socket (and TCP when asked). */
class Service {
  private readonly engine: LocalEngine;
  private readonly startedAt = new Date();
  private readonly version = serviceVersion();
  private readonly active = new Set<AbortController>();
  private served = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly servers: Server[] = [];
  private tcpUrl: string | undefined;
  private stopping: Promise<void> | undefined;
  private resolveClosed!: () => void;
  readonly closed = new Promise<void>((resolveClosed) => (this.resolveClosed = resolveClosed));

  private readonly jobs: JobRegistry;
  /** What a request's partial `embedding` builds on. */
  private readonly ownEmbedding: EngineSettings['embedding'];

  constructor(private readonly options: ServeOptions) {
    this.engine = new LocalEngine(options.settings, 'service');
    this.ownEmbedding = options.settings.embedding;
    // A detached job keeps the service busy like a request does: no idle stop under it.
    this.jobs = new JobRegistry(options.log, {
      began: (controller) => {
        this.active.add(controller);
        this.disarmIdleTimer();
      },
      ended: (controller) => {
        this.active.delete(controller);
        this.armIdleTimer();
      },
    });
  }

  private readonly operations: Record<OperationName, Operation> = {
    // Hits go out as every entry point publishes them (engine/hit-json.ts); the CLI's client reads them back.
    search: async (body, context) => withPublishedHits(await this.engine.search(REQUESTS.search.read(body, this.options.env, this.ownEmbedding), context)),
    ask: async (body, context, emit) =>
      withPublishedHits(await this.engine.ask(REQUESTS.ask.read(body, this.options.env, this.ownEmbedding), { ...context, onDelta: (delta) => emit(delta.kind, { text: delta.text }) })),
    ingest: (body, context) => this.engine.ingest(REQUESTS.ingest.read(body, this.options.env, this.ownEmbedding), context),
    export: (body, context) => this.engine.exportSnapshot(REQUESTS.export.read(body, this.options.env), context),
    eval: (body, context) => this.engine.evaluate(REQUESTS.eval.read(body, this.options.env, this.ownEmbedding), context),
    calibrate: (body, context) => this.engine.calibrate(REQUESTS.calibrate.read(body, this.options.env, this.ownEmbedding), context),
    doctor: (body, context) => this.engine.doctor(REQUESTS.doctor.read(body, this.options.env, this.ownEmbedding), context),
    get: (body, context) => this.engine.get(REQUESTS.get.read(body, this.options.env), context),
    collections: (_body, context) => this.engine.collections(context),
    jobs: async (body) => this.jobs.startIngest(REQUESTS.ingest.read(body, this.options.env, this.ownEmbedding), (request, context) => this.engine.ingest(request, context)),
  };

  async start(): Promise<RunningService> {
    const { socketPath, pidFile, tcp } = this.options;
    await claimPidFile(pidFile);
    try {
      // We hold the pid file, so a socket file left here belongs to a service that is gone.
      rmSync(socketPath, { force: true });
      const handler = (local: boolean) => (request: IncomingMessage, response: ServerResponse) => void this.handle(request, response, local);
      const socketServer = createServer(handler(true));
      this.servers.push(socketServer);
      // Created 0600 from the start: no moment when another user could connect.
      const umask = process.umask(0o177);
      try {
        await listen(socketServer, { path: socketPath });
      } finally {
        process.umask(umask);
      }
      chmodSync(socketPath, 0o600);
      if (tcp !== undefined) {
        const tcpServer = createServer(handler(false));
        this.servers.push(tcpServer);
        await listen(tcpServer, { host: tcp.host, port: tcp.port });
        const { port } = tcpServer.address() as AddressInfo;
        this.tcpUrl = `http://${tcp.host.includes(':') ? `[${tcp.host}]` : tcp.host}:${port}`;
      }
      const record: PidRecord = {
        pid: process.pid,
        version: this.version,
        socket: socketPath,
        tcp: this.tcpUrl ?? null,
        startedAt: this.startedAt.toISOString(),
        autoStarted: this.options.autoStarted,
        ...(this.tcpUrl === undefined || this.options.token === undefined ? {} : { token: this.options.token }),
      };
      // Replaced, not rewritten in place: a racing reader never sees it empty.
      const temporary = `${pidFile}.${process.pid}.tmp`;
      await writeFile(temporary, JSON.stringify(record), { mode: 0o600 });
      await rename(temporary, pidFile);
    } catch (error) {
      await this.cleanUpFiles();
      throw error;
    }
    this.armIdleTimer();
    this.warmUp();
    return { socketPath, tcpUrl: this.tcpUrl, closed: this.closed, stop: (reason) => this.stop(reason) };
  }

  /** Milvus and the default collection's model, in the background: requests wait for them anyway. */
  private warmUp(): void {
    const controller = new AbortController();
    const collection = resolveCommonConfig({}, this.options.env).collection;
    this.engine.warmUp(collection, this.options.log, controller.signal).then(
      () => this.options.log.step(`ready: ${this.engine.loadedModels().join(', ') || 'no model loaded yet'}`),
      (error: unknown) => this.options.log.warn(`warm-up failed (requests will retry): ${errorMessage(error)}`),
    );
  }

  health(): ServiceHealth {
    return {
      ok: true,
      service: 'ragoss',
      version: this.version,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      rssBytes: process.memoryUsage.rss(),
      models: this.engine.loadedModels(),
      jobs: this.jobs.list(),
      autoStarted: this.options.autoStarted,
      activeRequests: this.active.size,
      requestsServed: this.served,
      socket: this.options.socketPath,
      tcp: this.tcpUrl ?? null,
      idleTimeoutSeconds: this.options.idleTimeoutMs / 1000,
      settings: settingsFingerprint(this.options.settings),
    };
  }

  /** Who may talk to us: loopback Host headers only (DNS rebinding), and the token on TCP when set. */
  private refuse(request: IncomingMessage, local: boolean): { status: number; error: WireError } | undefined {
    const { token, tcp } = this.options;
    if (!local && (token === undefined || request.headers.authorization !== `Bearer ${token}`)) {
      return { status: 401, error: { message: 'missing or wrong bearer token', hint: `send Authorization: Bearer <the "token" in ${this.options.pidFile}, or your RAGOSS_SERVE_TOKEN>`, exitCode: ExitCode.usage } };
    }
    const openToNetwork = !local && tcp !== undefined && !isLoopbackHost(tcp.host);
    const host = (request.headers.host ?? 'localhost').replace(/:\d+$/, '').toLowerCase();
    if (!openToNetwork && !isLoopbackHost(host)) {
      return { status: 403, error: { message: `requests for host "${host}" are refused`, hint: 'the ragoss service answers only to localhost / 127.0.0.1', exitCode: ExitCode.usage } };
    }
    return undefined;
  }

  private async handle(request: IncomingMessage, response: ServerResponse, local: boolean): Promise<void> {
    const started = performance.now();
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    response.on('finish', () => this.options.log.step(`${request.method} ${path} ${response.statusCode} ${Math.round(performance.now() - started)}ms`));
    const refused = this.refuse(request, local);
    if (refused !== undefined) return this.sendJson(response, refused.status, refused.error);
    const route = routeFor(request.method, path);
    if (route === 'health') return this.sendJson(response, 200, this.health());
    if (route === 'jobList') return this.sendJson(response, 200, this.jobs.list());
    if (route === 'shutdown') {
      this.sendJson(response, 202, { stopping: true, pid: process.pid });
      void this.stop('asked to stop');
      return;
    }
    if (route === undefined) {
      return this.sendJson(response, 404, { message: `no endpoint ${request.method} ${path}`, hint: 'see the HTTP API in docs/http-api.md', exitCode: ExitCode.usage });
    }
    await this.runOperation(request, response, route, local);
  }

  /**
   * A TCP request may be another local user's: it does not get to make this service read or write
   * this user's files, unless the service was started with directories it may name.
   */
  private pathRefused(route: Route, body: Record<string, unknown>): WireError | undefined {
    const named = (route.localPaths ?? []).map((key) => body[key]);
    // A model directory is read too (config, tokenizer, ONNX): a TCP caller names one only where allowed.
    const paths = [...named, stringAt(body, 'embedding', 'modelDir')].filter((value): value is string => typeof value === 'string' && !/^https?:\/\//i.test(value));
    const refused = paths.find((local) => !this.pathAllowed(local));
    if (refused === undefined) return undefined;
    return { message: `TCP requests may not name local paths (${refused})`, hint: 'use the Unix socket (the ragoss CLI does), or start the service with --allow-path DIR', exitCode: ExitCode.usage };
  }

  private pathAllowed(named: string): boolean {
    const target = resolvePath(named);
    return (this.options.allowedPaths ?? []).some((dir) => target === dir || target.startsWith(`${dir}${sep}`));
  }

  private async runOperation(request: IncomingMessage, response: ServerResponse, name: OperationName, local: boolean): Promise<void> {
    const route: Route = ROUTES[name];
    const controller = new AbortController();
    this.active.add(controller);
    this.disarmIdleTimer();
    // The client hanging up (Ctrl-C, a closed curl) cancels the work, as Ctrl-C does in-process.
    response.on('close', () => {
      if (!response.writableFinished) controller.abort(new InterruptedError());
    });
    const accept = request.headers.accept ?? '';
    const streamed = accept.includes('text/event-stream') || (route.streamed === true && !accept.includes('application/json'));
    let secrets: string[] = this.secrets();
    const send = (event: string, data: unknown) => {
      if (streamed && !response.destroyed) response.write(sseEvent(event, data));
    };
    try {
      const body = await readJsonBody(request);
      // The caller's own keys (chat, rerank, embedding server) stay out of its errors too.
      secrets = [...secrets, ...secretsAmong(stringAt(body, 'apiKey'), stringAt(body, 'rerank', 'apiKey'), stringAt(body, 'embedding', 'server', 'apiKey'))];
      const refusedPath = local ? undefined : this.pathRefused(route, body);
      if (refusedPath !== undefined) return this.sendJson(response, 403, refusedPath);
      if (streamed) response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      const progress = streamed ? progressEmitter((event) => send('progress', event)) : this.options.log;
      const result = await this.operations[name](body, { progress, signal: controller.signal }, send);
      if (streamed) {
        if (name === 'ask') send('hits', { hits: (result as { hits: unknown }).hits });
        send('done', result);
        response.end();
      } else {
        this.sendJson(response, 200, result);
      }
    } catch (error) {
      const wire = controller.signal.aborted ? wireError(new InterruptedError(), secrets) : wireError(error, secrets);
      if (streamed && response.headersSent) {
        send('error', wire);
        response.end();
      } else {
        this.sendJson(response, statusFor(wire.exitCode), wire);
      }
    } finally {
      this.active.delete(controller);
      this.served++;
      this.armIdleTimer();
    }
  }

  /** What no answer or log line may show: the Milvus token, the service's token, its embedding and rerank keys, and the chat keys it asks with when a request brings none. */
  private secrets(): string[] {
    const { settings, token, env } = this.options;
    return secretsAmong(
      settings.location.kind === 'server' ? settings.location.token : undefined,
      token,
      settings.embedding.server.apiKey,
      env['RAGOSS_RERANK_API_KEY'],
      env['OPENROUTER_API_KEY'],
      env['OPENAI_API_KEY'],
    );
  }

  private sendJson(response: ServerResponse, status: number, body: unknown): void {
    if (response.headersSent) return;
    const text = `${JSON.stringify(body)}\n`;
    response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  }

  private armIdleTimer(): void {
    this.disarmIdleTimer();
    const { idleTimeoutMs } = this.options;
    if (idleTimeoutMs <= 0 || this.active.size > 0 || this.stopping !== undefined) return;
    this.idleTimer = setTimeout(() => void this.stop(`idle for ${idleTimeoutMs / 1000}s`), idleTimeoutMs);
  }

  private disarmIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  stop(reason: string): Promise<void> {
    this.stopping ??= this.shutDown(reason);
    return this.stopping;
  }

  private async shutDown(reason: string): Promise<void> {
    this.options.log.step(`stopping (${reason})`);
    this.disarmIdleTimer();
    for (const controller of this.active) controller.abort(new InterruptedError());
    await Promise.all(
      this.servers.map(
        (server) =>
          new Promise<void>((resolveClose) => {
            server.close(() => resolveClose());
            server.closeIdleConnections();
            // Streams still open end with the work they carried, aborted above; then they go.
            setTimeout(() => server.closeAllConnections(), 2000).unref();
          }),
      ),
    );
    await this.engine.close().catch((error: unknown) => this.options.log.warn(`closing: ${errorMessage(error)}`));
    await this.cleanUpFiles();
    this.options.log.step('stopped');
    this.resolveClosed();
  }

  private async cleanUpFiles(): Promise<void> {
    const { pidFile, socketPath } = this.options;
    // Only our own: a newer service may already own these paths.
    if (readPidRecord(pidFile)?.pid === process.pid) {
      await rm(pidFile, { force: true });
      if (existsSync(socketPath)) await rm(socketPath, { force: true });
    }
  }
}

/** Starts the service; resolves once it listens. The engine warms up in the background. */
export function startService(options: ServeOptions): Promise<RunningService> {
  return new Service(options).start();
}
