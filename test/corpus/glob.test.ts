import { describe, expect, it } from 'vitest';
import { matchGlob } from '../../src/corpus/glob.js';
import { UsageError } from '../../src/errors.js';

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

describe('matchGlob edge cases', () => {
  it.each([
    // `**` at the end crosses every segment; `**` not followed by "/" matches within the name too.
    ['en/**', 'en/a/b.md', true],
    ['en/a**.md', 'en/a/b.md', true],
    ['en/**/x.md', 'en/x.md', true],
    ['en/**/x.md', 'enx.md', false],
    ['*.md', 'a/b.md', false],
    // "}" and "," outside braces are literal characters.
    ['a}b,c.md', 'a}b,c.md', true],
    ['a,b.md', 'a.md', false],
    ['{a,b}}.md', 'a}.md', true],
    // Regex metacharacters in names are literal.
    ['en/(x)+[y].md', 'en/(x)+[y].md', true],
    ['en/a.md', 'en/a.md', true],
  ])('%s matches %s: %s', (pattern, path, expected) => {
    expect(matchGlob(pattern, path)).toBe(expected);
  });

  it('refuses an unclosed brace with a usage error that shows a closed one', () => {
    expect(() => matchGlob('en/{faq,admin/*.md', 'x')).toThrow(UsageError);
    try {
      matchGlob('en/{faq', 'x');
    } catch (error) {
      expect((error as UsageError).message).toBe('glob "en/{faq" has an unclosed "{"');
      expect((error as UsageError).hint).toBe('close every "{" with "}" (e.g. "en/{faq,adminGuide}/*.md")');
    }
  });
});
