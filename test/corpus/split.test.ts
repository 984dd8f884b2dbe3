import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { splitMarkdown } from '../../src/corpus/split.js';
import { faqDir } from '../helpers/paths.js';

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
