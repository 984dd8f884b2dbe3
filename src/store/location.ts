import { isAbsolute, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { expandHome } from '../system.js';

/** Where Milvus lives, following pymilvus: a URL or host:port is a server, a path is embedded Milvus Lite. */
export type MilvusLocation =
  | { kind: 'server'; address: string; ssl: boolean; token?: string }
  | { kind: 'embedded'; dataDir: string };

export function parseMilvusUri(uri: string | undefined, home: string, token: string | undefined): MilvusLocation {
  if (uri === undefined) return { kind: 'embedded', dataDir: join(home, 'milvus') };
  const url = /^(https?|tcp|grpc):\/\//i.exec(uri);
  if (url) {
    const parsed = new URL(uri);
    const ssl = parsed.protocol === 'https:';
    const port = parsed.port || (ssl ? '443' : '19530');
    return { kind: 'server', address: `${parsed.hostname}:${port}`, ssl, token };
  }
  if (/^[A-Za-z0-9.-]+:\d+$/.test(uri)) return { kind: 'server', address: uri, ssl: false, token };
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new UsageError(`unsupported MILVUS_URI scheme in "${uri}"`, 'use http://host:port, https://host:port or a local path');
  }
  const path = expandHome(uri);
  return { kind: 'embedded', dataDir: isAbsolute(path) ? path : resolve(path) };
}

export function describeLocation(location: MilvusLocation): string {
  return location.kind === 'server'
    ? `${location.ssl ? 'https' : 'http'}://${location.address}`
    : location.dataDir;
}
