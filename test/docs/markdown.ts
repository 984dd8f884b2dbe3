import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Just enough of GitHub-flavoured markdown to check the README and docs/ against the code: fenced
 * code is skipped everywhere, headings give sections and anchors (as GitHub makes them), pipe
 * tables give rows of cells, and links give their targets.
 */

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Doc {
  /** Relative to the project root: `README.md`, `docs/http-api.md`. */
  path: string;
  text: string;
  /** Every line, with `inCode` set for fences and the lines between them. */
  lines: Array<{ text: string; number: number; inCode: boolean }>;
}

export function readDoc(path: string): Doc {
  const text = readFileSync(join(projectRoot, path), 'utf8');
  let fence: string | undefined;
  const lines = text.split('\n').map((line, index) => {
    const marker = /^\s*(```+|~~~+)/.exec(line)?.[1];
    const isFence = marker !== undefined && (fence === undefined || marker.startsWith(fence));
    const inCode = fence !== undefined || isFence;
    if (isFence) fence = fence === undefined ? marker : undefined;
    return { text: line, number: index + 1, inCode };
  });
  return { path, text, lines };
}

/** README.md and every docs/*.md. */
export function readDocs(): Doc[] {
  const docs = readdirSync(join(projectRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`);
  return ['README.md', ...docs].map(readDoc);
}

export interface Heading {
  level: number;
  text: string;
  anchor: string;
  line: number;
}

/** The anchor GitHub gives a heading: its text lower-cased, punctuation dropped, spaces as `-`. */
export function slug(heading: string): string {
  return heading
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/`/g, '')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

export function headings(doc: Doc): Heading[] {
  const seen = new Map<string, number>();
  const found: Heading[] = [];
  for (const line of doc.lines) {
    const match = line.inCode ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line.text);
    if (match === null) continue;
    const [, hashes, text] = match as unknown as [string, string, string];
    const base = slug(text);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.push({ level: hashes.length, text, anchor: count === 0 ? base : `${base}-${count}`, line: line.number });
  }
  return found;
}

export interface Section {
  doc: string;
  heading: Heading;
  /** The section's lines outside code, up to the next heading of the same or a higher level. */
  lines: string[];
}

export function sections(doc: Doc): Section[] {
  const all = headings(doc);
  return all.map((heading, index) => {
    const next = all.slice(index + 1).find((other) => other.level <= heading.level);
    const end = next === undefined ? doc.lines.length : next.line - 1;
    const lines = doc.lines.filter((line) => line.number > heading.line && line.number <= end && !line.inCode).map((line) => line.text);
    return { doc: doc.path, heading, lines };
  });
}

export interface Table {
  header: string[];
  rows: string[][];
}

/** A table row's cells: split on `|` that is not escaped (`\|` inside a cell stays, unescaped). */
function cells(line: string): string[] {
  const parts = line.trim().replace(/^\|/, '').replace(/\|$/, '').split(/(?<!\\)\|/);
  return parts.map((cell) => cell.trim().replace(/\\\|/g, '|'));
}

/** The pipe tables among these lines (outside code), header and body rows. */
export function tables(lines: readonly string[]): Table[] {
  const found: Table[] = [];
  for (let index = 0; index + 1 < lines.length; index++) {
    const header = lines[index] as string;
    const rule = lines[index + 1] as string;
    if (!header.trim().startsWith('|') || !/^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(rule)) continue;
    const rows: string[][] = [];
    let next = index + 2;
    while (next < lines.length && (lines[next] as string).trim().startsWith('|')) rows.push(cells(lines[next++] as string));
    found.push({ header: cells(header).map((cell) => cell.toLowerCase()), rows });
    index = next - 1;
  }
  return found;
}

/** The contents of a cell's code spans: `` `--top-k N` `` gives `--top-k N`. */
export function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1] as string);
}

/** The long flags a cell names in code spans: `` `-q, --quiet` `` and `` `ask --top-k N` `` give `--quiet`, `--top-k`. */
export function flagsIn(cell: string): string[] {
  return codeSpans(cell).flatMap((span) => [...span.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((match) => match[0]));
}

export interface Link {
  doc: string;
  line: number;
  target: string;
}

/** Inline links outside code (fenced blocks and code spans); the target as written. */
export function links(doc: Doc): Link[] {
  const found: Link[] = [];
  for (const line of doc.lines) {
    if (line.inCode) continue;
    const text = line.text.replace(/`[^`]*`/g, '');
    for (const match of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) found.push({ doc: doc.path, line: line.number, target: match[1] as string });
  }
  return found;
}
