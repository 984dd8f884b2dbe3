import { ExitCode, RagossError, UsageError } from '../errors.js';
import { headingAnchor, headingAt, headingsOf, lineOffsets, sectionText, type Heading } from '../corpus/outline.js';
import type { PageChunk } from '../store/store.js';

/** Milvus keeps at most this many bytes of a chunk's raw text (its VarChar limit). */
const STORED_RAW_BYTES = 65_535;

/** What `get` was asked for, resolved against the collection's sources. */
export interface PageTarget {
  source: string;
  /** From a link's `#anchor`, when the request was a link. */
  anchor?: string;
  /** From a link's `#L12` or a `path:12`: the section around that line. */
  line?: number;
}

export interface PagePart {
  scope: 'page' | 'section' | 'chunk';
  heading?: string;
  chunk?: number;
  line: number;
  text: string;
}

function notFound(what: string, hint: string): RagossError {
  return new RagossError(what, hint, ExitCode.usage);
}

/**
 * A source path as stored, a file name (unique in the collection), or a link ragoss printed
 * (milvus.io's flattened `…/product_faq.md#Anchor`, or a `file://` URL or `path:line` of a local folder).
 */
export function resolveSource(requested: string, sources: readonly string[]): PageTarget {
  if (sources.includes(requested)) return { source: requested };
  let { path, fragment } = splitLink(requested);
  let line: number | undefined;
  const lineSuffix = /:(\d+)$/.exec(path);
  if (lineSuffix !== null) {
    line = Number(lineSuffix[1]);
    path = path.slice(0, lineSuffix.index);
  }
  // A template's #L12 is a line; anything else after # is a heading's anchor.
  const lineFragment = fragment === undefined ? null : /^L(\d+)$/.exec(fragment);
  if (lineFragment !== null) {
    line = Number(lineFragment[1]);
    fragment = undefined;
  }
  const name = path.split('/').at(-1);
  // A local file's path ends with its source; a milvus.io link or a bare name has only the file name.
  const byPath = sources.filter((source) => path === source || path.endsWith(`/${source}`));
  const byName = byPath.length > 0 ? byPath : sources.filter((source) => source.split('/').at(-1) === name);
  if (byName.length === 1) return { source: byName[0] as string, ...(fragment === undefined ? {} : { anchor: fragment }), ...(line === undefined ? {} : { line }) };
  if (byName.length > 1) throw notFound(`"${requested}" matches ${byName.length} pages: ${byName.slice(0, 5).join(', ')}`, 'pass the whole source path');
  throw notFound(`no page "${requested}" in the collection`, 'pass a source as `ragoss search` shows it (e.g. en/faq/product_faq.md), its file name, or its link');
}

/** A link's path and #fragment, decoded; a plain source passes through. */
function splitLink(requested: string): { path: string; fragment?: string } {
  if (!/^(https?|file):\/\//i.test(requested)) return { path: requested };
  try {
    const url = new URL(requested);
    return { path: decodeURIComponent(url.pathname), ...(url.hash === '' ? {} : { fragment: decodeURIComponent(url.hash.slice(1)) }) };
  } catch {
    throw new UsageError(`"${requested}" is not a link ragoss can read`, 'pass the source as `ragoss search` shows it, e.g. en/faq/product_faq.md');
  }
}

/**
 * Milvus keeps a chunk's raw text to its VarChar limit, cut on a character boundary (up to 3 bytes
 * short of it): a raw that long may have lost its tail, so the page is not put back from it.
 */
const possiblyCut = (raw: string) => Buffer.byteLength(raw) >= STORED_RAW_BYTES - 3;

/** The page exactly as the file has it: the chunks' raw bytes in chunk order. */
export function assemblePage(source: string, chunks: readonly PageChunk[]): string {
  chunks.forEach((chunk, index) => {
    if (chunk.chunkIndex !== index) throw new RagossError(`page ${source} is missing chunk ${index} in the collection`, 're-ingest the collection');
    if (possiblyCut(chunk.raw)) {
      throw new RagossError(`page ${source} has a chunk longer than Milvus stores (64 KiB), so it cannot be put back together exactly`, 'read the file itself');
    }
  });
  return chunks.map((chunk) => chunk.raw).join('');
}

/** The first heading whose text or anchor is `wanted` (case and a leading # aside). */
function findHeading(headings: readonly Heading[], wanted: string): Heading | undefined {
  const plain = wanted.replace(/^#/, '').trim();
  const folded = plain.toLowerCase();
  return (
    headings.find((heading) => heading.text === plain || headingAnchor(heading.text) === plain) ??
    headings.find((heading) => heading.text.toLowerCase() === folded || headingAnchor(heading.text).toLowerCase() === folded)
  );
}

/**
 * The page, one section of it (by heading text or anchor), or one chunk's bytes. What a link asked
 * for (`anchor`, `line`) is a preference: with no such heading, the page.
 */
export function pagePart(source: string, chunks: readonly PageChunk[], wanted: { heading?: string; chunk?: number; anchor?: string; line?: number }): PagePart {
  if (chunks.length === 0) throw notFound(`no page "${source}" in the collection`, 'check the source with `ragoss search`');
  const page = assemblePage(source, chunks);
  if (wanted.chunk !== undefined) {
    const chunk = chunks[wanted.chunk];
    if (chunk === undefined) throw new UsageError(`${source} has chunks 0 to ${chunks.length - 1}, not ${wanted.chunk}`);
    const line = countLines(page, chunks.slice(0, wanted.chunk).reduce((offset, before) => offset + before.raw.length, 0));
    return { scope: 'chunk', chunk: wanted.chunk, heading: chunk.heading, line, text: chunk.raw };
  }
  if (wanted.heading !== undefined) {
    const headings = headingsOf(page);
    const heading = findHeading(headings, wanted.heading);
    if (heading === undefined) {
      const some = headings.slice(0, 8).map((item) => `"${item.text}"`).join(', ');
      throw notFound(`${source} has no heading "${wanted.heading}"`, `its headings include ${some || 'none'}`);
    }
    return { scope: 'section', heading: heading.text, line: heading.line, text: sectionText(page, heading) };
  }
  const headings = headingsOf(page);
  const linked = wanted.anchor !== undefined ? findHeading(headings, wanted.anchor) : wanted.line !== undefined ? headingAt(headings, wanted.line) : undefined;
  if (linked !== undefined) return { scope: 'section', heading: linked.text, line: linked.line, text: sectionText(page, linked) };
  return { scope: 'page', line: 1, text: page };
}

/** 1-based line at a character offset. */
function countLines(text: string, offset: number): number {
  return lineOffsets(text.slice(0, offset)).length;
}
