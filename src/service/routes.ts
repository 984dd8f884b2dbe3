/**
 * Every endpoint of the HTTP API, for the service (which answers them) and its client (which calls
 * them). The bodies are in requests.ts, under the same names.
 */
export interface Route {
  readonly path: string;
  readonly methods: readonly ('GET' | 'POST')[];
  /** Its natural answer is a stream of events (the others answer JSON unless asked for events). */
  readonly streamed?: boolean;
  /** Body keys that name local paths the service would read or write (refused over TCP outside --allow-path). */
  readonly localPaths?: readonly string[];
}

export const ROUTES = {
  health: { path: '/v1/health', methods: ['GET'] },
  shutdown: { path: '/v1/shutdown', methods: ['POST'] },
  jobList: { path: '/v1/jobs', methods: ['GET'] },
  collections: { path: '/v1/collections', methods: ['GET', 'POST'] },
  search: { path: '/v1/search', methods: ['POST'] },
  ask: { path: '/v1/ask', methods: ['POST'], streamed: true },
  ingest: { path: '/v1/ingest', methods: ['POST'], streamed: true, localPaths: ['source'] },
  jobs: { path: '/v1/jobs', methods: ['POST'], localPaths: ['source'] },
  export: { path: '/v1/export', methods: ['POST'], streamed: true, localPaths: ['out'] },
  eval: { path: '/v1/eval', methods: ['POST'] },
  calibrate: { path: '/v1/calibrate', methods: ['POST'] },
  doctor: { path: '/v1/doctor', methods: ['POST'] },
  get: { path: '/v1/get', methods: ['POST'] },
} as const satisfies Record<string, Route>;

export type RouteName = keyof typeof ROUTES;

/** The endpoint a request is for; undefined: none (a 404). */
export function routeFor(method: string | undefined, path: string): RouteName | undefined {
  return (Object.keys(ROUTES) as RouteName[]).find((name) => {
    const route: Route = ROUTES[name];
    return route.path === path && route.methods.some((allowed) => allowed === method);
  });
}
