import { appendFileSync } from 'node:fs';

export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  const file = process.env.RAGOSS_RECORD_IMPORTS;
  if (file) appendFileSync(file, `${resolved.url}\n`);
  return resolved;
}
