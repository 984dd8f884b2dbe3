import { describe, expect, it } from 'vitest';
import { matchGlob } from '../../src/corpus/glob.js';

describe('matchGlob', () => {
  it.each([
    ['en/faq/*.md', 'en/faq/product_faq.md', true],
    ['en/faq/*.md', 'en/faq/sub/x.md', false],
    ['en/faq/*.md', 'en/faqs/x.md', false],
    ['en/**/*.md', 'en/faq/x.md', true],
    ['en/**/*.md', 'en/x.md', true],
    ['en/**/*.md', 'en/a/b/c.md', true],
    ['**/*.md', 'x.md', true],
    ['en/{faq,adminGuide}/*.md', 'en/adminGuide/a.md', true],
    ['en/{faq,adminGuide}/*.md', 'en/userGuide/a.md', false],
    ['en/faq/?.md', 'en/faq/a.md', true],
    ['en/faq/a.md', 'en/faq/aamd', false],
  ])('%s matches %s: %s', (pattern, path, expected) => {
    expect(matchGlob(pattern, path)).toBe(expected);
  });
});
