import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { freePort } from '../../src/system.js';

/**
 * A local file server on 127.0.0.1 with the ways a real download goes wrong, so the download code
 * runs over real HTTP and sockets without anything leaving the machine.
 */
export type RouteBehaviour =
  /** 200 with the file's bytes and a correct Content-Length. */
  | { kind: 'file'; file: string }
  /** This status and a short text body. */
  | { kind: 'status'; status: number }
  /** 302 to another path on this server (two routes pointing at each other make a loop). */
  | { kind: 'redirect'; to: string }
  /** Headers with the file's full Content-Length, `bytes` of the body, then silence until close(). */
  | { kind: 'stall'; file: string; bytes: number }
  /** Headers with the file's full Content-Length, `bytes` of the body, then the socket is destroyed. */
  | { kind: 'truncate'; file: string; bytes: number };

export interface FileServer {
  url(path: string): string;
  /** How many requests reached `path`. */
  hits(path: string): number;
  /** Stops the server and ends every open connection, stalled ones included. */
  close(): Promise<void>;
}

function serve(route: RouteBehaviour, response: ServerResponse, socket: Socket): void {
  switch (route.kind) {
    case 'file': {
      const body = readFileSync(route.file);
      response.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length });
      response.end(body);
      return;
    }
    case 'status':
      response.writeHead(route.status, { 'content-type': 'text/plain' });
      response.end(`status ${route.status}\n`);
      return;
    case 'redirect':
      response.writeHead(302, { location: route.to, 'content-length': 0 });
      response.end();
      return;
    case 'stall':
    case 'truncate': {
      const body = readFileSync(route.file);
      response.writeHead(200, { 'content-type': 'application/zip', 'content-length': body.length });
      // Flushed before anything else happens, so the client really holds part of the body.
      response.write(body.subarray(0, route.bytes), () => {
        if (route.kind === 'truncate') socket.destroy();
      });
      return;
    }
  }
}

export function startFileServer(routes: Record<string, RouteBehaviour>): Promise<FileServer> {
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://127.0.0.1').pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes[path];
    if (route === undefined) {
      response.writeHead(404, { 'content-type': 'text/plain' });
      response.end('no such route\n');
      return;
    }
    serve(route, response, request.socket);
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return new Promise((resolveStart, rejectStart) => {
    server.once('error', rejectStart);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolveStart({
        url: (path) => `http://127.0.0.1:${port}${path}`,
        hits: (path) => hits.get(path) ?? 0,
        close: () =>
          new Promise<void>((resolveClose) => {
            server.close(() => resolveClose());
            // A stalled response never finishes by itself, so server.close() alone would wait forever.
            for (const socket of sockets) socket.destroy();
          }),
      });
    });
  });
}

/** A URL on a 127.0.0.1 port nothing listens on: connecting to it is refused. */
export async function refusedUrl(path = '/docs.zip'): Promise<string> {
  return `http://127.0.0.1:${await freePort()}${path}`;
}
