import AdmZip from 'adm-zip';
import { describe, expect, it } from 'vitest';
import { chunkSpans, type TokenLimit } from '../../src/corpus/chunk.js';
import { NO_LINKS, chunkUrl, linkLabel, milvusDocsVersion } from '../../src/corpus/links.js';
import { headingAnchor, headingsOf } from '../../src/corpus/outline.js';
import { fullZip } from '../helpers/paths.js';

const RELEASE = 'https://github.com/milvus-io/milvus-docs/releases/download/v2.4.6-preview/milvus_docs_2.4.x_en.zip';
const corpus = (source: string) => ({ source, glob: 'en/**/*.md', digest: 'd' });

describe('headingAnchor', () => {
  // Each row: a heading as a file of the v2.4.6-preview docs writes it, and the anchor the docs' own
  // cross-links use for it (or, where no link targets it, the rule's result: punctuation dropped,
  // every space a dash, case kept).
  const table: Array<[string, string, string]> = [
    ['en/faq/product_faq.md', 'Where does Milvus store data?', 'Where-does-Milvus-store-data'],
    ['en/userGuide/manage-collections.md', 'Load & Release Collection', 'Load--Release-Collection'],
    ['en/reference/sys_config/configure_querycoord.md', '`queryCoord.autoBalance`', 'queryCoordautoBalance'],
    ['en/getstarted/run-milvus-k8s/install_cluster-helm.md', '2. Check Milvus cluster status', '2-Check-Milvus-cluster-status'],
    ['en/getstarted/run-milvus-k8s/prerequisite-helm.md', 'How can I start a K8s cluster locally for test purposes?', 'How-can-I-start-a-K8s-cluster-locally-for-test-purposes'],
    ['en/adminGuide/dynamic_config.md', 'Applicable configuration items', 'Applicable-configuration-items'],
    ['en/userGuide/search-query-get/single-vector-search.md', 'Use the `like` operator', 'Use-the-like-operator'],
    ['en/userGuide/insert-update-delete.md', 'Insert, Upsert & Delete', 'Insert-Upsert--Delete'],
    ['en/userGuide/load_balance.md', "What's next", 'Whats-next'],
    ['en/integrations/integrate_with_langchain.md', 'Retrieval-Augmented Generation (RAG) with Milvus and LangChain', 'Retrieval-Augmented-Generation-RAG-with-Milvus-and-LangChain'],
    ['en/release_notes.md', 'Multi Embedding &  Hybrid Search', 'Multi-Embedding---Hybrid-Search'],
    ['en/userGuide/tools/install_cli.md', 'Install Milvus_CLI', 'Install-Milvus_CLI'],
  ];

  it('matches the anchors of real headings of the docs, code spans and punctuation included', () => {
    const zip = new AdmZip(fullZip);
    for (const [file, heading, anchor] of table) {
      const headings = headingsOf(zip.getEntry(file)?.getData().toString('utf8') ?? '').map((item) => item.text);
      expect(headings, file).toContain(heading);
      expect(headingAnchor(heading), heading).toBe(anchor);
    }
  });

  it('keeps letters and digits of any script, and trims the ends', () => {
    expect(headingAnchor('Überblick für Anfänger')).toBe('Überblick-für-Anfänger');
    expect(headingAnchor('数据 存储？')).toBe('数据-存储');
    expect(headingAnchor(' Allocate resources by setting configuration file ')).toBe('Allocate-resources-by-setting-configuration-file');
  });

  it('gives a repeated heading the same anchor each time: links go to its first occurrence', () => {
    const page = '# CLI\n\n## create\n\n### Options\n\na\n\n## delete\n\n### Options\n\nb\n';
    expect(headingsOf(page).map((heading) => headingAnchor(heading.text))).toEqual(['CLI', 'create', 'Options', 'delete', 'Options']);
  });
});

describe('chunkUrl', () => {
  const place = { source: 'en/userGuide/manage-collections.md', heading: 'Load & Release Collection', line: 1614 };

  it('links the milvus-docs release to milvus.io: the version from the asset, folders flattened, the heading as anchor', () => {
    expect(milvusDocsVersion(RELEASE)).toBe('v2.4.x');
    expect(chunkUrl(place, corpus(RELEASE), undefined)).toBe('https://milvus.io/docs/v2.4.x/manage-collections.md#Load--Release-Collection');
    // The same asset downloaded by hand, and the full-docs stand-in the tests use.
    expect(chunkUrl(place, corpus('/data/milvus_docs_2.4.x_en.zip'), undefined)).toBe('https://milvus.io/docs/v2.4.x/manage-collections.md#Load--Release-Collection');
    expect(chunkUrl(place, corpus(fullZip), undefined)).toMatch(/^https:\/\/milvus\.io\/docs\/v2\.4\.x\/manage-collections\.md#/);
    // No heading (text above the first one), or a collection that never recorded it: the page.
    expect(chunkUrl({ source: place.source, heading: '' }, corpus(RELEASE), undefined)).toBe('https://milvus.io/docs/v2.4.x/manage-collections.md');
    expect(chunkUrl({ source: place.source }, corpus(RELEASE), undefined)).toBe('https://milvus.io/docs/v2.4.x/manage-collections.md');
  });

  it('links a local folder to the file, shown as path:line', () => {
    const url = chunkUrl(place, corpus('/home/me/docs site'), undefined) as string;
    expect(url).toBe('file:///home/me/docs%20site/en/userGuide/manage-collections.md');
    expect(linkLabel(url, place.line)).toBe('/home/me/docs site/en/userGuide/manage-collections.md:1614');
    expect(linkLabel('https://milvus.io/docs/v2.4.x/a.md', 3)).toBe('https://milvus.io/docs/v2.4.x/a.md');
  });

  it('gives no link where it cannot tell where the docs live', () => {
    expect(chunkUrl(place, undefined, undefined)).toBeUndefined();
    expect(chunkUrl(place, corpus('https://example.com/other-docs.zip'), undefined)).toBeUndefined();
    expect(chunkUrl(place, corpus('/tmp/other-docs.zip'), undefined)).toBeUndefined();
    expect(chunkUrl(place, corpus(RELEASE), NO_LINKS)).toBeUndefined();
  });

  it('fills a template for other sites and mirrors, dropping a # left empty', () => {
    const github = 'https://github.com/milvus-io/milvus-docs/blob/v2.4.x/site/{path}#L{line}';
    expect(chunkUrl(place, undefined, github)).toBe('https://github.com/milvus-io/milvus-docs/blob/v2.4.x/site/en/userGuide/manage-collections.md#L1614');
    const mirror = 'https://docs.example.com/milvus/{name}#{anchor}';
    expect(chunkUrl(place, corpus(RELEASE), mirror)).toBe('https://docs.example.com/milvus/manage-collections.md#Load--Release-Collection');
    expect(chunkUrl({ source: 'en/a b.md', heading: '' }, undefined, mirror)).toBe('https://docs.example.com/milvus/a%20b.md');
  });

  it('gives every chunk of the whole docs, either chunker, a link to an existing page of the release and an anchor of a heading in that file', () => {
    const zip = new AdmZip(fullZip);
    const pages = zip.getEntries().filter((entry) => entry.entryName.endsWith('.md'));
    const byName = new Map(pages.map((entry) => [entry.entryName.split('/').at(-1) as string, entry.getData().toString('utf8')]));
    expect(byName.size).toBe(pages.length);
    const limit: TokenLimit = { maxTokens: 384, countTokens: (text) => Math.ceil(text.length / 4) + 2 };
    const anchorsOf = new Map([...byName].map(([name, text]) => [name, headingsOf(text).map((heading) => headingAnchor(heading.text))]));
    let anchored = 0;
    for (const chunker of ['seed', 'markdown'] as const) {
      for (const entry of pages) {
        const text = entry.getData().toString('utf8');
        for (const span of chunkSpans(chunker, text, entry.entryName, limit)) {
          const url = new URL(chunkUrl({ source: entry.entryName, heading: span.heading, line: span.line }, corpus(RELEASE), undefined) as string);
          const name = url.pathname.replace('/docs/v2.4.x/', '');
          expect(byName.has(name), url.href).toBe(true);
          if (url.hash === '') continue;
          anchored++;
          expect(anchorsOf.get(name), url.href).toContain(decodeURIComponent(url.hash.slice(1)));
        }
      }
    }
    // Nearly all: only text above a page's first heading links to the page alone.
    expect(anchored).toBeGreaterThan(7500);
  });
});
