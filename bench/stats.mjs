// Helpers every bench module shares, defined once so "p50" means one thing in every table.
import { createServer } from 'node:http';

/** The q-quantile (0..1) with linear interpolation between closest ranks; NaN for no samples. */
export function quantile(xs, q) {
  const sorted = [...xs].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export const median = (xs) => quantile(xs, 0.5);

/** A loopback port free at the moment of asking. */
export async function freePort() {
  const server = createServer();
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  await new Promise((ok) => server.close(ok));
  return port;
}
