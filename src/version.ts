import { readFileSync } from 'node:fs';

/** This ragoss's version, from its package.json (recorded in snapshots, shown by --version). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}
