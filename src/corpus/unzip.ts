import AdmZip from 'adm-zip';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { RagossError, errorMessage } from '../errors.js';

export interface UnzipLimits {
  /** Upper bound on the sum of uncompressed entry sizes: guards against zip bombs. */
  maxTotalBytes: number;
  maxEntries: number;
}

export const DEFAULT_UNZIP_LIMITS: UnzipLimits = { maxTotalBytes: 1024 * 1024 * 1024, maxEntries: 100_000 };

function zipError(zipPath: string, problem: string, cause?: unknown): RagossError {
  return new RagossError(`${zipPath}: ${problem}`, 'check that --source names a complete .zip archive, or delete it and download again', undefined, { cause });
}

/** Returns the entry's path relative to the target, or undefined when it would land outside it. */
export function safeEntryPath(entryName: string): string | undefined {
  const slashed = entryName.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) return undefined;
  const normalized = posix.normalize(slashed);
  if (normalized === '..' || normalized.startsWith('../') || normalized === '.') return undefined;
  return normalized;
}

function openZip(zipPath: string): AdmZip {
  try {
    return new AdmZip(zipPath);
  } catch (error) {
    throw zipError(zipPath, `not a readable zip archive (${errorMessage(error)})`, error);
  }
}

/**
 * Extracts every file entry of `zipPath` into `targetDir`, replacing it whole: entries go to a
 * sibling temp directory first, so a failure half-way never leaves a half-extracted tree behind.
 */
export async function extractZip(zipPath: string, targetDir: string, limits: UnzipLimits = DEFAULT_UNZIP_LIMITS): Promise<number> {
  const zip = openZip(zipPath);
  const entries = zip.getEntries().filter((entry) => !entry.isDirectory);
  if (entries.length > limits.maxEntries) {
    throw zipError(zipPath, `${entries.length} entries is more than the limit of ${limits.maxEntries}`);
  }
  let declaredTotal = 0;
  const planned: Array<{ entry: AdmZip.IZipEntry; relative: string }> = [];
  for (const entry of entries) {
    const relative = safeEntryPath(entry.entryName);
    if (relative === undefined) {
      throw zipError(zipPath, `entry "${entry.entryName}" would be written outside the target directory; refusing the archive`);
    }
    declaredTotal += entry.header.size;
    if (declaredTotal > limits.maxTotalBytes) {
      throw zipError(zipPath, `unpacks to more than ${limits.maxTotalBytes} bytes; refusing it as a likely zip bomb`);
    }
    planned.push({ entry, relative });
  }
  const staging = `${targetDir}.${process.pid}.tmp`;
  await rm(staging, { recursive: true, force: true });
  try {
    for (const { entry, relative } of planned) {
      const data = readEntry(zipPath, entry);
      await writeEntry(zipPath, entry, join(staging, relative), data);
    }
    await rm(targetDir, { recursive: true, force: true });
    await mkdir(dirname(targetDir), { recursive: true });
    await rename(staging, targetDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return planned.length;
}

/** Entries such as "a" and "a/b" clash on disk; that is a bad archive, not a crash. */
async function writeEntry(zipPath: string, entry: AdmZip.IZipEntry, destination: string, data: Buffer): Promise<void> {
  try {
    await mkdir(dirname(destination), { recursive: true });
    await writeFile(destination, data);
  } catch (error) {
    throw zipError(zipPath, `entry "${entry.entryName}" cannot be extracted (${errorMessage(error)})`, error);
  }
}

function readEntry(zipPath: string, entry: AdmZip.IZipEntry): Buffer {
  let data: Buffer;
  try {
    data = entry.getData();
  } catch (error) {
    throw zipError(zipPath, `entry "${entry.entryName}" is damaged (${errorMessage(error)})`, error);
  }
  // adm-zip returns an empty buffer instead of throwing for some truncated entries.
  if (data.length !== entry.header.size) {
    throw zipError(zipPath, `entry "${entry.entryName}" is damaged: ${data.length} of ${entry.header.size} bytes`);
  }
  return data;
}
