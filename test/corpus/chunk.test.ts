import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import AdmZip from 'adm-zip';
import { DEFAULT_CHUNKER, chunkHeading, chunkMarkdown, chunkSpans, chunkText, splitSeed as splitMarkdown, type TokenLimit } from '../../src/corpus/chunk.js';
import { headingsOf } from '../../src/corpus/outline.js';
import { faqDir, fullZip } from '../helpers/paths.js';

describe('splitMarkdown', () => {
  it('splits exactly like text.split("# "), keeping empty pieces', () => {
    expect(splitMarkdown('# A\nx\n## B\n')).toEqual(['', 'A\nx\n#', 'B\n']);
    expect(splitMarkdown('')).toEqual(['']);
  });

  it('gives the seed tutorial\'s 72 chunks for the FAQ', () => {
    const dir = join(faqDir, 'en', 'faq');
    const counts = readdirSync(dir)
      .sort()
      .map((name) => [name, splitMarkdown(readFileSync(join(dir, name), 'utf8')).length] as const);
    expect(Object.fromEntries(counts)).toEqual({ 'operational_faq.md': 19, 'performance_faq.md': 7, 'product_faq.md': 33, 'troubleshooting.md': 13 });
  });
});

/** A stand-in tokenizer: one token a word, plus the two special tokens a real one adds. */
const words: TokenLimit = { maxTokens: 40, countTokens: (text) => text.split(/\s+/).filter(Boolean).length + 2 };

describe('chunkMarkdown', () => {
  const page = [
    '---',
    'id: search.md',
    'title: Single-Vector Search',
    '---',
    '',
    '# Single-Vector Search',
    '',
    'Search finds the closest vectors.',
    '',
    '## Preparations',
    '',
    '```python',
    '# 1. Set up a Milvus client',
    'client = MilvusClient(uri=URI)',
    '## not a heading either',
    '```',
    '',
    '## Search types',
    '',
    '### Grouping search',
    '',
    'Grouping search groups results by a field.',
  ].join('\n');

  it('cuts at headings outside code fences only, and starts each chunk with its title path', () => {
    const chunks = chunkMarkdown(page, 'en/search.md', words);
    expect(chunks).toEqual([
      'Single-Vector Search\n\nSearch finds the closest vectors.',
      'Single-Vector Search › Preparations\n\n```python\n# 1. Set up a Milvus client\nclient = MilvusClient(uri=URI)\n## not a heading either\n```',
      // "## Search types" has nothing of its own: it joins the section it opens, through the path.
      'Single-Vector Search › Search types › Grouping search\n\nGrouping search groups results by a field.',
    ]);
    expect(chunks.map(chunkHeading)).toEqual(['Single-Vector Search', 'Preparations', 'Grouping search']);
  });

  it('takes the title from the first h1, then the file name, when there is no front matter', () => {
    expect(chunkMarkdown('intro\n\n# Install Guide\n\ntext', 'en/x.md', words)).toEqual(['Install Guide\n\nintro', 'Install Guide\n\ntext']);
    expect(chunkMarkdown('## Step one\n\ndo it', 'en/getting_started.md', words)).toEqual(['getting started › Step one\n\ndo it']);
  });

  it('splits a section longer than the model reads at paragraphs, path repeated, each part within the limit', () => {
    const paragraphs = Array.from({ length: 6 }, (_, index) => `Paragraph ${index} ${'word '.repeat(10).trim()}.`);
    const text = `# Guide\n\n## Limits\n\n${paragraphs.join('\n\n')}`;
    const chunks = chunkMarkdown(text, 'en/guide.md', words);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) {
      expect(chunk.startsWith('Guide › Limits\n\n')).toBe(true);
      expect(words.countTokens(chunk)).toBeLessThanOrEqual(words.maxTokens);
    }
    // Nothing lost, nothing cut inside a paragraph.
    expect(chunks.map((chunk) => chunk.slice('Guide › Limits\n\n'.length)).join('\n\n')).toBe(paragraphs.join('\n\n'));
  });

  it('keeps a code block whole where it fits, and cuts one too long for the model at lines', () => {
    const code = ['```', ...Array.from({ length: 12 }, (_, index) => `line ${index} of code`), '```'].join('\n');
    const chunks = chunkMarkdown(`# T\n\n## Code\n\nBefore.\n\n${code}`, 'en/t.md', words);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((chunk) => words.countTokens(chunk) <= words.maxTokens)).toBe(true);
    expect(chunks.map((chunk) => chunk.replace('T › Code\n\n', '')).join('\n')).toBe(`Before.\n${code}`);
    const small = chunkMarkdown('# T\n\n```\na\n\nb\n```', 'en/t.md', words);
    expect(small).toEqual(['T\n\n```\na\n\nb\n```']);
  });

  it('leaves no heading-only fragments in the whole docs (the seed split leaves 1,693 under 40 characters)', () => {
    const zip = new AdmZip(fullZip);
    const limit: TokenLimit = { maxTokens: 384, countTokens: (text) => Math.ceil(text.length / 4) + 2 };
    const chunks = zip
      .getEntries()
      .filter((entry) => entry.entryName.endsWith('.md'))
      .flatMap((entry) => chunkMarkdown(entry.getData().toString('utf8'), entry.entryName, limit));
    expect(chunks.filter((chunk) => chunk.length < 40).length).toBeLessThan(10);
    // Python comments in code are never chunk boundaries: no chunk path ends in one.
    expect(chunks.filter((chunk) => /› (Limit to top_k|1\. Set up a Milvus client)/.test(chunk.split('\n')[0] ?? ''))).toEqual([]);
  });
});

describe('chunkText', () => {
  it('is the seed split by default and the markdown chunker on request', () => {
    expect(chunkText('seed', '# A\nx', 'a.md', undefined)).toEqual(['', 'A\nx']);
    expect(chunkText('markdown', '# A\nx', 'a.md', words)).toEqual(['A\n\nx']);
  });
});

describe('chunkMarkdown details', () => {
  const md = (text: string, path = 'en/page.md', limit: TokenLimit = words) => chunkMarkdown(text, path, limit);

  it('takes a quoted front-matter title, ignores other keys, and drops the front matter from the text', () => {
    expect(md('---\nid: x.md\ntitle: "Quoted Title"\n---\n\nBody text.\n')).toEqual(['Quoted Title\n\nBody text.']);
    expect(md("---\ntitle: 'Single'\n---\nBody.\n")).toEqual(['Single\n\nBody.']);
    expect(md('\uFEFF---\r\nid: x\r\n---\r\n# From H1\r\nBody.\r\n')).toEqual(['From H1\n\nBody.']);
  });

  it('falls back to the file name without .md, with _ and - as spaces', () => {
    expect(md('Just text.\n', 'en/user_guide/manage-collections.MD')).toEqual(['manage collections\n\nJust text.']);
  });

  it('reads ATX headings with closing #s, needs a space after the #s, and does not repeat the title', () => {
    expect(md('# Page\n\nIntro.\n\n## Install ##\n\nSteps.\n\n#hashtag is text\n')).toEqual(['Page\n\nIntro.', 'Page › Install\n\nSteps.\n\n#hashtag is text']);
  });

  it('treats ~~~ and longer fences as code until the same fence closes them', () => {
    const text = ['# P', '', '~~~', '# not a heading', '```', '~~~', '', '````python', '```', '## still code', '````  ', '', '## Real', '', 'text'].join('\n');
    expect(md(text)).toEqual(['P\n\n~~~\n# not a heading\n```\n~~~\n\n````python\n```\n## still code\n````', 'P › Real\n\ntext']);
  });

  it('folds a heading with nothing under it into the child it opens, and keeps one with no child', () => {
    expect(md('# P\n\n## Install\n\n### On Linux\n\napt install\n\n## Notes\n\n## Next\n\nmore\n')).toEqual(['P › Install › On Linux\n\napt install', 'P › Notes', 'P › Next\n\nmore']);
  });

  it('packs paragraphs up to the budget exactly, then starts a new chunk with the path again', () => {
    // Budget: 40 - 2 special tokens - 1 for the header "P" = 37 words of content.
    const para = (count: number, word: string) => Array.from({ length: count }, () => word).join(' ');
    const fits = md(`# P\n\n${para(20, 'a')}\n\n${para(17, 'b')}\n`);
    expect(fits).toEqual([`P\n\n${para(20, 'a')}\n\n${para(17, 'b')}`]);
    const over = md(`# P\n\n${para(20, 'a')}\n\n${para(18, 'b')}\n`);
    expect(over).toEqual([`P\n\n${para(20, 'a')}`, `P\n\n${para(18, 'b')}`]);
  });

  it('cuts a block too long for the budget at its lines, never leaving an empty chunk', () => {
    const line = (word: string) => Array.from({ length: 15 }, () => word).join(' ');
    const block = ['```', line('a'), line('b'), line('c'), '```'].join('\n');
    const chunks = md(`# P\n\n${block}\n`);
    expect(chunks).toEqual([`P\n\n\`\`\`\n${line('a')}\n${line('b')}`, `P\n\n${line('c')}\n\`\`\``]);
  });

  it('keeps a code block with blank lines in it as one block when packing', () => {
    const para = (count: number, word: string) => Array.from({ length: count }, () => word).join(' ');
    // 28 words, then a 12-token block: together 40, over the 37 budget, so the block moves on whole.
    const code = ['```', para(5, 'x'), '', para(5, 'y'), '```'].join('\n');
    expect(md(`# P\n\n${para(28, 'a')}\n\n${code}\n\n${para(20, 'b')}\n`)).toEqual([`P\n\n${para(28, 'a')}`, `P\n\n${code}\n\n${para(20, 'b')}`]);
  });

  it('inside a ~~~ block, a ``` line is code, not a closing fence, even before a blank line', () => {
    const para = (count: number, word: string) => Array.from({ length: count }, () => word).join(' ');
    // 28 + 13 tokens is over the 37 budget: the whole block moves to the next chunk, unsplit.
    const code = ['~~~', '```', '', para(10, 'x'), '~~~'].join('\n');
    expect(md(`# P\n\n${para(28, 'a')}\n\n${code}\n`)).toEqual([`P\n\n${para(28, 'a')}`, `P\n\n${code}`]);
  });

  it('cutting a long block at lines, fills a chunk up to the budget exactly', () => {
    const line = (count: number, word: string) => Array.from({ length: count }, () => word).join(' ');
    // 1 + 21 + 15 = 37 tokens: exactly the budget; the closing fence starts the next chunk.
    const block = ['```', line(21, 'a'), line(15, 'b'), '```'].join('\n');
    expect(md(`# P\n\n${block}\n`)).toEqual([`P\n\n\`\`\`\n${line(21, 'a')}\n${line(15, 'b')}`, 'P\n\n```']);
  });

  it('finds the heading a chunk answers to, for either chunker', () => {
    expect(chunkHeading('Page › Section › Sub\n\nbody')).toBe('Sub');
    expect(chunkHeading('\n\nWhere does Milvus store data?\n\nbody')).toBe('Where does Milvus store data?');
    expect(chunkHeading('## Heading ##\nbody')).toBe('Heading ##');
    expect(chunkHeading('')).toBe('');
  });

  it('needs the model\'s token limit, and seed is the default chunker', () => {
    expect(() => chunkText('markdown', '# a', 'a.md', undefined)).toThrow("the markdown chunker needs the embedding model's token limit");
    expect(DEFAULT_CHUNKER).toBe('seed');
  });
});

describe('chunkSpans', () => {
  const zipPages = () =>
    new AdmZip(fullZip)
      .getEntries()
      .filter((entry) => entry.entryName.endsWith('.md'))
      .map((entry) => ({ path: entry.entryName, text: entry.getData().toString('utf8') }));
  const limit: TokenLimit = { maxTokens: 384, countTokens: (text) => Math.ceil(text.length / 4) + 2 };

  it('gives back every page of the whole docs byte for byte when the raws are joined, with either chunker', () => {
    for (const chunker of ['seed', 'markdown'] as const) {
      for (const page of zipPages()) {
        const spans = chunkSpans(chunker, page.text, page.path, limit);
        expect(spans.map((span) => span.raw).join(''), `${chunker} ${page.path}`).toBe(page.text);
        expect(spans.map((span) => span.text)).toEqual(chunkText(chunker, page.text, page.path, limit));
      }
    }
  });

  it('names, for every chunk, a heading that exists in its file at or above the chunk\'s line', () => {
    for (const chunker of ['seed', 'markdown'] as const) {
      for (const page of zipPages()) {
        const headings = headingsOf(page.text);
        for (const span of chunkSpans(chunker, page.text, page.path, limit)) {
          if (span.heading === '') {
            expect(headings.filter((heading) => heading.line < span.line), `${page.path}:${span.line}`).toEqual([]);
            continue;
          }
          const line = page.text.split('\n')[headings.filter((heading) => heading.line <= span.line).at(-1)!.line - 1] ?? '';
          expect(line, `${chunker} ${page.path}:${span.line}`).toMatch(/^\s{0,3}#{1,6}\s/);
          expect(line).toContain(span.heading);
        }
      }
    }
  });

  it('starts a seed chunk at its heading when the "# " it was split at opens one, and keeps a code comment\'s chunk under the section above', () => {
    const text = '# Title\n\nintro\n\n## Setup\n\n```python\n# install it\npip install x\n```\n';
    const spans = chunkSpans('seed', text, 'a.md', undefined);
    expect(spans.map(({ raw, line, heading }) => ({ raw, line, heading }))).toEqual([
      { raw: '', line: 1, heading: '' },
      { raw: '# Title\n\nintro\n\n#', line: 1, heading: 'Title' },
      { raw: '# Setup\n\n```python\n', line: 5, heading: 'Setup' },
      { raw: '# install it\npip install x\n```\n', line: 8, heading: 'Setup' },
    ]);
  });

  it('gives a markdown chunk the lines from its section heading (or an empty parent heading it absorbed) to the next chunk, front matter with the first', () => {
    const text = '---\ntitle: T\n---\n\nintro\n\n## Install\n### On Linux\n\napt install\n\n## Use\n\nrun\n';
    const spans = chunkSpans('markdown', text, 'a.md', words);
    expect(spans.map(({ text: chunk, raw, line, heading }) => ({ chunk, raw, line, heading }))).toEqual([
      { chunk: 'T\n\nintro', raw: '---\ntitle: T\n---\n\nintro\n\n', line: 5, heading: '' },
      { chunk: 'T › Install › On Linux\n\napt install', raw: '## Install\n### On Linux\n\napt install\n\n', line: 8, heading: 'On Linux' },
      { chunk: 'T › Use\n\nrun', raw: '## Use\n\nrun\n', line: 12, heading: 'Use' },
    ]);
  });

  it('keeps CRLF line ends in the raw text', () => {
    const text = '# A\r\n\r\none\r\n\r\n## B\r\n\r\ntwo\r\n';
    expect(chunkSpans('markdown', text, 'a.md', words).map((span) => span.raw).join('')).toBe(text);
  });
});
