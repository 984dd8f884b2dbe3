import AdmZip from 'adm-zip';
import { describe, expect, it } from 'vitest';
import { chunkSpans, type TokenLimit } from '../../src/corpus/chunk.js';
import { headingAnchor, headingsOf } from '../../src/corpus/outline.js';
import { UsageError } from '../../src/errors.js';
import { assemblePage, pagePart, resolveSource } from '../../src/pipeline/pages.js';
import type { PageChunk } from '../../src/store/store.js';
import { fullZip } from '../helpers/paths.js';

const limit: TokenLimit = { maxTokens: 384, countTokens: (text) => Math.ceil(text.length / 4) + 2 };

function stored(text: string, path: string, chunker: 'seed' | 'markdown'): PageChunk[] {
  return chunkSpans(chunker, text, path, limit).map((span, chunkIndex) => ({ chunkIndex, text: span.text, raw: span.raw, heading: span.heading, line: span.line }));
}

describe('pagePart', () => {
  const page = ['# Guide', '', 'intro', '', '## Install', '', 'pip install x', '', '```bash', '# not a heading', '```', '', '### On Linux', '', 'apt', '', '## Use', '', 'run it', ''].join('\n');

  it('gives the page, a section (subsections included, fenced # lines not headings) or a chunk, byte for byte', () => {
    for (const chunker of ['seed', 'markdown'] as const) {
      const chunks = stored(page, 'en/guide.md', chunker);
      expect(pagePart('en/guide.md', chunks, {})).toEqual({ scope: 'page', line: 1, text: page });
      const install = pagePart('en/guide.md', chunks, { heading: 'Install' });
      expect(install).toEqual({ scope: 'section', heading: 'Install', line: 5, text: '## Install\n\npip install x\n\n```bash\n# not a heading\n```\n\n### On Linux\n\napt\n\n' });
      // By anchor (as a link carries it), case aside.
      expect(pagePart('en/guide.md', chunks, { heading: 'on-linux' }).text).toBe('### On Linux\n\napt\n\n');
      expect(pagePart('en/guide.md', chunks, { heading: '#Use' }).text).toBe('## Use\n\nrun it\n');
      const last = chunks.length - 1;
      expect(pagePart('en/guide.md', chunks, { chunk: last })).toMatchObject({ scope: 'chunk', chunk: last, text: chunks[last]?.raw });
    }
  });

  it('puts every page of the whole docs back together, and every section of it is the file\'s own bytes', () => {
    const zip = new AdmZip(fullZip);
    for (const entry of zip.getEntries().filter((item) => item.entryName.endsWith('.md'))) {
      const text = entry.getData().toString('utf8');
      const chunks = stored(text, entry.entryName, 'markdown');
      expect(assemblePage(entry.entryName, chunks)).toBe(text);
      for (const heading of headingsOf(text).slice(0, 3)) {
        const section = pagePart(entry.entryName, chunks, { heading: heading.text });
        expect(text.includes(section.text), `${entry.entryName} ${heading.text}`).toBe(true);
        expect(section.text.split('\n')[0]).toMatch(/^\s{0,3}#{1,6}\s/);
      }
    }
  });

  it('gives what a link points at: the section around its line, its anchor\'s section, else the page', () => {
    const chunks = stored(page, 'en/guide.md', 'markdown');
    expect(pagePart('en/guide.md', chunks, { line: 15 })).toMatchObject({ scope: 'section', heading: 'On Linux', line: 13 });
    expect(pagePart('en/guide.md', chunks, { anchor: 'Use' })).toMatchObject({ scope: 'section', heading: 'Use' });
    // A heading since renamed: the page, not an error.
    expect(pagePart('en/guide.md', chunks, { anchor: 'Removed-heading' })).toMatchObject({ scope: 'page', text: page });
  });

  it('will not put a page back from a chunk Milvus may have cut at its 64 KiB limit', () => {
    const long = `# Big\n\n${'字'.repeat(21_845)}\n`;
    expect(Buffer.byteLength(long)).toBeGreaterThan(65_532);
    expect(() => assemblePage('en/big.md', [{ chunkIndex: 0, text: long, raw: long, heading: 'Big', line: 1 }])).toThrow(/longer than Milvus stores/);
  });

  it('refuses what it cannot give, with the fix', () => {
    const chunks = stored(page, 'en/guide.md', 'markdown');
    expect(() => pagePart('en/guide.md', chunks, { heading: 'Nope' })).toThrow(/en\/guide\.md has no heading "Nope"/);
    expect(() => pagePart('en/guide.md', chunks, { chunk: 99 })).toThrow(/has chunks 0 to \d+, not 99/);
    expect(() => pagePart('en/guide.md', [], {})).toThrow(/no page "en\/guide\.md"/);
    expect(() => assemblePage('en/guide.md', chunks.slice(1))).toThrow(/missing chunk 0/);
  });
});

describe('resolveSource', () => {
  const sources = ['en/faq/product_faq.md', 'en/userGuide/manage-collections.md', 'en/a/overview.md', 'en/b/overview.md'];

  it('takes a source, a file name, a milvus.io link with its anchor, or a local file link or path:line', () => {
    expect(resolveSource('en/faq/product_faq.md', sources)).toEqual({ source: 'en/faq/product_faq.md' });
    expect(resolveSource('product_faq.md', sources)).toEqual({ source: 'en/faq/product_faq.md' });
    expect(resolveSource('https://milvus.io/docs/v2.4.x/manage-collections.md#Load--Release-Collection', sources)).toEqual({ source: 'en/userGuide/manage-collections.md', anchor: 'Load--Release-Collection' });
    expect(resolveSource('file:///home/me/docs/en/a/overview.md', sources)).toEqual({ source: 'en/a/overview.md' });
    expect(resolveSource('/home/me/docs/en/b/overview.md:12', sources)).toEqual({ source: 'en/b/overview.md', line: 12 });
    // A template's line anchor (#L37) is a line, not a heading.
    expect(resolveSource('https://github.com/milvus-io/milvus-docs/blob/v2.4.x/site/en/faq/product_faq.md#L37', sources)).toEqual({ source: 'en/faq/product_faq.md', line: 37 });
    expect(headingAnchor('Load & Release Collection')).toBe('Load--Release-Collection');
  });

  it('refuses a link it cannot read with a usage error, not a crash', () => {
    expect(() => resolveSource('https://milvus.io/docs/v2.4.x/a.md#100%', sources)).toThrow(UsageError);
    expect(() => resolveSource('http://', sources)).toThrow(/is not a link ragoss can read/);
  });

  it('refuses an unknown or ambiguous page, naming the candidates', () => {
    expect(() => resolveSource('missing.md', sources)).toThrow(/no page "missing\.md" in the collection/);
    expect(() => resolveSource('overview.md', sources)).toThrow(/matches 2 pages: en\/a\/overview\.md, en\/b\/overview\.md/);
  });
});
