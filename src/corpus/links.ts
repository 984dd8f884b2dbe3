import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CorpusRecord } from '../types.js';
import { headingAnchor } from './outline.js';

/** Where a chunk sits: its file in the docs, and (on collections that record them) its heading and line. */
export interface ChunkPlace {
  source: string;
  heading?: string;
  line?: number;
}

/** `--link-template none` turns links off. */
export const NO_LINKS = 'none';

/**
 * The milvus-docs release assets (`milvus_docs_2.4.x_en.zip`, and the `_full` stand-in the tests
 * use) name the docs version milvus.io serves them under.
 */
const MILVUS_DOCS_ZIP = /(?:^|[/\\])milvus_docs_(v?\d[\w.]*)_en(?:_full)?\.zip$/i;

/** The milvus.io docs site version for a corpus source, when the source is a milvus-docs release. */
export function milvusDocsVersion(source: string): string | undefined {
  const path = /^https?:\/\//i.test(source) ? new URL(source).pathname : source;
  const version = MILVUS_DOCS_ZIP.exec(path)?.[1];
  return version === undefined ? undefined : version.startsWith('v') ? version : `v${version}`;
}

function fileName(source: string): string {
  return source.split('/').at(-1) ?? source;
}

/** `{path}`, `{name}`, `{anchor}` and `{line}` filled in; a `#` left with nothing after it is dropped. */
function fromTemplate(template: string, place: ChunkPlace): string {
  const anchor = place.heading === undefined || place.heading === '' ? '' : headingAnchor(place.heading);
  const filled = template
    .replaceAll('{path}', place.source.split('/').map(encodeURIComponent).join('/'))
    .replaceAll('{name}', encodeURIComponent(fileName(place.source)))
    .replaceAll('{anchor}', encodeURIComponent(anchor))
    .replaceAll('{line}', String(place.line ?? 1));
  return filled.replace(/#$/, '');
}

/**
 * Where a reader can check a chunk: on milvus.io for the milvus-docs release (the site flattens
 * folders: en/userGuide/manage-collections.md → /docs/v2.4.x/manage-collections.md, plus the
 * heading's anchor), the file itself for a local folder, a template's URL for other sites and
 * mirrors; undefined where ragoss cannot tell (another zip or URL, or a collection that does not
 * record its docs).
 */
export function chunkUrl(place: ChunkPlace, corpus: CorpusRecord | undefined, template: string | undefined): string | undefined {
  if (template === NO_LINKS) return undefined;
  if (template !== undefined) return fromTemplate(template, place);
  if (corpus === undefined) return undefined;
  const version = milvusDocsVersion(corpus.source);
  if (version !== undefined) return fromTemplate(`https://milvus.io/docs/${version}/{name}#{anchor}`, place);
  if (isAbsolute(corpus.source) && !/\.(zip|parquet)$/i.test(corpus.source)) return pathToFileURL(join(corpus.source, place.source)).href;
  return undefined;
}

/** How a link reads in plain text: a local file as path:line (what editors and terminals open), else the URL. */
export function linkLabel(url: string, line: number | undefined): string {
  if (!url.startsWith('file:')) return url;
  const path = decodeURIComponent(new URL(url).pathname);
  return line === undefined ? path : `${path}:${line}`;
}
