import { describe, expect, it } from 'vitest';
import { chunkSpans } from '../../src/corpus/chunk.js';
import { buildContext, type ContextParts } from '../../src/pipeline/context.js';
import type { RankedHit } from '../../src/pipeline/retrieve.js';
import type { PageChunk } from '../../src/store/store.js';

/** A page cut by the markdown chunker with a small token window (words stand for tokens). */
const PAGE = [
  '---',
  'title: Manage Collections',
  '---',
  '',
  '# Manage Collections',
  '',
  'Intro about collections.',
  '',
  '## Set TTL',
  '',
  'Set a TTL to expire entities.',
  '',
  'The TTL is in seconds and applies to every entity.',
  '',
  'Expired entities vanish from searches.',
  '',
  '## Release a collection',
  '',
  'Release frees the memory a loaded collection uses.',
  '',
].join('\n');

const countWords = (text: string) => text.split(/\s+/).filter((word) => word !== '').length;

function pageChunks(text: string, maxTokens: number): PageChunk[] {
  return chunkSpans('markdown', text, 'en/userGuide/manage-collections.md', { maxTokens, countTokens: countWords }).map((span, chunkIndex) => ({
    chunkIndex,
    text: span.text,
    raw: span.raw,
    heading: span.heading,
    line: span.line,
  }));
}

function hit(chunkIndex: number, rank: number, source = 'en/userGuide/manage-collections.md'): RankedHit {
  return { rank, score: 1 / rank, source, chunkIndex, text: '' };
}

function parts(pages: Record<string, PageChunk[]>): ContextParts & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    pageChunks: async (source) => {
      reads.push(source);
      return pages[source] ?? [];
    },
    countTokens: countWords,
    urlOf: (place) => `https://milvus.io/docs/${place.source.split('/').at(-1)}#L${place.line}`,
  };
}

describe('the context builder', () => {
  const chunks = pageChunks(PAGE, 16);
  const ttl = chunks.filter((chunk) => chunk.heading === 'Set TTL').map((chunk) => chunk.chunkIndex);

  it('brings a hit\'s short section whole, in file order, with its lines and link, and reads each page once', async () => {
    expect(ttl.length).toBeGreaterThan(1);
    const source = parts({ 'en/userGuide/manage-collections.md': chunks });
    const built = await buildContext([hit(ttl.at(-1) as number, 1), hit(ttl[0] as number, 2)], { tokens: 200, maxHits: 10 }, source);
    expect(built.passages).toHaveLength(1);
    const [passage] = built.passages;
    expect(passage).toMatchObject({ rank: 1, source: 'en/userGuide/manage-collections.md', heading: 'Set TTL', line: 9, lineEnd: 15, chunks: ttl });
    expect(passage?.url).toBe('https://milvus.io/docs/manage-collections.md#L9');
    // The heading path once, then every chunk's body in file order.
    expect(passage?.text.match(/Set TTL/g)).toHaveLength(1);
    expect(passage?.text.indexOf('Set a TTL')).toBeLessThan(passage?.text.indexOf('Expired entities') as number);
    expect(built.tokens).toBe(countWords(passage?.text as string));
    expect(source.reads).toEqual(['en/userGuide/manage-collections.md']);
  });

  it('keeps to the budget and --top-k, best first; a section too long for its share sends the hit alone', async () => {
    const release = chunks.findIndex((chunk) => chunk.heading === 'Release a collection');
    const other = pageChunks(PAGE.replace('Manage Collections', 'Other Page'), 16).map((chunk) => chunk);
    const source = parts({ 'en/userGuide/manage-collections.md': chunks, 'en/other.md': other });
    const hits = [hit(release, 1), hit(ttl[1] as number, 2), hit(0, 3, 'en/other.md')];
    const roomy = await buildContext(hits, { tokens: 500, maxHits: 10 }, source);
    expect(roomy.passages.map((passage) => passage.rank)).toEqual([1, 2, 3]);
    expect(roomy.hitsUsed).toBe(3);
    // A cap of two hits: the third brings nothing.
    const capped = await buildContext(hits, { tokens: 500, maxHits: 2 }, source);
    expect(capped.passages.map((passage) => passage.source)).toEqual(['en/userGuide/manage-collections.md', 'en/userGuide/manage-collections.md']);
    // A budget the TTL section overflows: its hit chunk alone.
    const releaseCost = countWords(chunks[release]?.text as string);
    const tight = await buildContext(hits.slice(0, 2), { tokens: releaseCost + countWords(chunks[ttl[1] as number]?.text as string), maxHits: 10 }, source);
    expect(tight.passages[1]?.chunks).toEqual([ttl[1]]);
    expect(tight.tokens).toBeLessThanOrEqual(releaseCost + countWords(chunks[ttl[1] as number]?.text as string));
  });

  it('sends no chunk twice and skips a passage that does not fit for smaller ones further down', async () => {
    const source = parts({ 'en/userGuide/manage-collections.md': chunks });
    const built = await buildContext([hit(ttl[0] as number, 1), hit(ttl[1] as number, 2), hit(ttl[0] as number, 3)], { tokens: 500, maxHits: 10 }, source);
    const sent = built.passages.flatMap((passage) => passage.chunks);
    expect(new Set(sent).size).toBe(sent.length);
    const first = chunks[0] as PageChunk;
    const small = await buildContext([hit(ttl[0] as number, 1), hit(0, 2)], { tokens: countWords(first.text), maxHits: 10 }, source);
    expect(small.passages.map((passage) => passage.chunks)).toEqual([[0]]);
  });
});
