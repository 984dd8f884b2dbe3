import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { ChatDelta } from '../answerer/chat.js';
import type {
  AskContext,
  AskRequest,
  AskResult,
  CalibrateRequest,
  CalibrateResult,
  DoctorReport,
  DoctorRequest,
  Engine,
  EvalRequest,
  EvalResult,
  ExportRequest,
  ExportResult,
  GetRequest,
  GetResult,
  IngestRequest,
  IngestResult,
  JobInfo,
  OperationContext,
  SearchRequest,
  SearchResult,
} from '../engine/engine.js';
import { withEngineHits, type HitJson } from '../engine/hit-json.js';
import { progressReplayer, type ProgressEvent } from './progress-events.js';
import { ExitCode, InterruptedError, RagossError, type ExitCodeValue } from '../errors.js';
import type { CollectionInfo } from '../store/store.js';
import type { ServiceHealth } from './identity.js';
import { REQUESTS } from './requests.js';
import { ROUTES, type Route } from './routes.js';
import { SseParser, type WireError } from './sse.js';

/** A plain GET or POST over the service's socket; resolves with the status and parsed JSON body. */
export function socketJson<T>(socketPath: string, method: 'GET' | 'POST', path: string, timeoutMs: number): Promise<{ status: number; body: T }> {
  return new Promise((resolveCall, rejectCall) => {
    const call = httpRequest({ socketPath, method, path, agent: false, headers: { host: 'localhost', accept: 'application/json' }, timeout: timeoutMs }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        try {
          resolveCall({ status: response.statusCode ?? 0, body: JSON.parse(text) as T });
        } catch (error) {
          rejectCall(error);
        }
      });
      response.on('error', rejectCall);
    });
    call.on('timeout', () => call.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    call.on('error', rejectCall);
    call.end();
  });
}

/** The service's health, or undefined when nothing answers on the socket. */
export async function probeService(socketPath: string, timeoutMs = 3000): Promise<ServiceHealth | undefined> {
  try {
    const { status, body } = await socketJson<ServiceHealth>(socketPath, 'GET', ROUTES.health.path, timeoutMs);
    return status === 200 && body.service === 'ragoss' ? body : undefined;
  } catch {
    return undefined;
  }
}

/** A result as the HTTP API sends it: its hits in the published shape. */
type Published<T extends { hits: unknown }> = Omit<T, 'hits'> & { hits: HitJson[] };

function errorFromWire(wire: WireError): Error {
  if (wire.exitCode === ExitCode.interrupted) return new InterruptedError();
  if (wire.unexpected === true) return new Error(wire.message);
  return new RagossError(wire.message, wire.hint, wire.exitCode as ExitCodeValue);
}

/**
 * The engine in a running service, reached over its Unix socket. It imports neither the Milvus
 * SDK, transformers.js nor openai: a command that uses it costs about one Node start.
 */
export class RemoteEngine implements Engine {
  constructor(
    private readonly socketPath: string,
    private readonly pid: number,
  ) {}

  // Search and ask hits arrive as published (engine/hit-json.ts): scores rounded, read back into the engine's type.
  async search(request: SearchRequest, context: OperationContext): Promise<SearchResult> {
    return withEngineHits(await this.call<Published<SearchResult>>(ROUTES.search, REQUESTS.search.write(request), context));
  }

  async ask(request: AskRequest, context: AskContext): Promise<AskResult> {
    const result = await this.call<Published<AskResult>>(ROUTES.ask, REQUESTS.ask.write(request), context, (event, data) => {
      if (event === 'reasoning' || event === 'answer') context.onDelta?.({ kind: event, text: (data as { text: string }).text } as ChatDelta);
    });
    return withEngineHits(result);
  }

  ingest(request: IngestRequest, context: OperationContext): Promise<IngestResult> {
    return this.call<IngestResult>(ROUTES.ingest, REQUESTS.ingest.write(request), context);
  }

  startIngest(request: IngestRequest, context: OperationContext): Promise<JobInfo> {
    return this.call<JobInfo>(ROUTES.jobs, REQUESTS.ingest.write(request), context);
  }

  exportSnapshot(request: ExportRequest, context: OperationContext): Promise<ExportResult> {
    return this.call<ExportResult>(ROUTES.export, REQUESTS.export.write(request), context);
  }

  evaluate(request: EvalRequest, context: OperationContext): Promise<EvalResult> {
    return this.call<EvalResult>(ROUTES.eval, REQUESTS.eval.write(request), context);
  }

  calibrate(request: CalibrateRequest, context: OperationContext): Promise<CalibrateResult> {
    return this.call<CalibrateResult>(ROUTES.calibrate, REQUESTS.calibrate.write(request), context);
  }

  doctor(request: DoctorRequest, context: OperationContext): Promise<DoctorReport> {
    return this.call<DoctorReport>(ROUTES.doctor, REQUESTS.doctor.write(request), context);
  }

  get(request: GetRequest, context: OperationContext): Promise<GetResult> {
    return this.call<GetResult>(ROUTES.get, REQUESTS.get.write(request), context);
  }

  collections(context: OperationContext): Promise<CollectionInfo[]> {
    return this.call<CollectionInfo[]>(ROUTES.collections, {}, context);
  }

  async close(): Promise<void> {
    // The service stays up for the next command; nothing of ours to release.
  }

  private lost(detail: string): RagossError {
    return new RagossError(`the ragoss service (pid ${this.pid}) stopped before answering`, 'run the command again; a new service starts, or use --no-daemon', ExitCode.failure, {
      cause: new Error(detail),
    });
  }

  /** POSTs the request and follows its event stream: progress, deltas, then the result or the error. */
  private call<T>(route: Route, body: unknown, context: OperationContext, onEvent?: (event: string, data: unknown) => void): Promise<T> {
    const replay = progressReplayer(context.progress);
    return new Promise<T>((resolveCall, rejectCall) => {
      let settled = false;
      const settle = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        context.signal.removeEventListener('abort', onAbort);
        outcome();
      };
      const call = httpRequest(
        { socketPath: this.socketPath, method: 'POST', path: route.path, agent: false, headers: { host: 'localhost', 'content-type': 'application/json', accept: 'text/event-stream' } },
        (response) => this.follow(response, replay, onEvent, (result) => settle(() => resolveCall(result as T)), (error) => settle(() => rejectCall(error))),
      );
      // Ctrl-C: hang up; the service sees the closed connection and cancels the work.
      const onAbort = () => {
        call.destroy();
        settle(() => rejectCall(new InterruptedError()));
      };
      if (context.signal.aborted) return onAbort();
      context.signal.addEventListener('abort', onAbort, { once: true });
      call.on('error', (error) => settle(() => rejectCall(this.lost(error.message))));
      call.end(JSON.stringify(body));
    });
  }

  private follow(response: IncomingMessage, replay: (event: ProgressEvent) => void, onEvent: ((event: string, data: unknown) => void) | undefined, done: (result: unknown) => void, fail: (error: Error) => void): void {
    response.setEncoding('utf8');
    const streamed = (response.headers['content-type'] ?? '').startsWith('text/event-stream');
    const parser = new SseParser();
    let text = '';
    response.on('data', (chunk: string) => {
      if (!streamed) {
        text += chunk;
        return;
      }
      for (const message of parser.push(chunk)) {
        if (message.event === 'progress') replay(message.data as ProgressEvent);
        else if (message.event === 'done') done(message.data);
        else if (message.event === 'error') fail(errorFromWire(message.data as WireError));
        else onEvent?.(message.event, message.data);
      }
    });
    response.on('end', () => {
      if (!streamed) {
        try {
          const parsed = JSON.parse(text) as unknown;
          if (response.statusCode === 200) done(parsed);
          else fail(errorFromWire(parsed as WireError));
        } catch {
          fail(this.lost(`HTTP ${response.statusCode}`));
        }
      }
      fail(this.lost('connection closed'));
    });
    response.on('error', (error) => fail(this.lost(error.message)));
    // A service killed mid-answer: the stream just stops.
    response.on('close', () => fail(this.lost('connection closed')));
  }
}
