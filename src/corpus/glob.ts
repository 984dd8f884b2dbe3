import { UsageError } from '../errors.js';

/**
 * Glob patterns over "/"-separated relative paths: `*` and `?` stay inside one path segment,
 * `**` crosses segments, `{a,b}` picks alternatives. Node 20 has no stable glob matcher.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  let braceDepth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*') {
      if (pattern[i + 1] === '*') {
        const followedBySlash = pattern[i + 2] === '/';
        source += followedBySlash ? '(?:.*/)?' : '.*';
        i += followedBySlash ? 2 : 1;
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '{') {
      braceDepth++;
      source += '(?:';
    } else if (char === '}' && braceDepth > 0) {
      braceDepth--;
      source += ')';
    } else if (char === ',' && braceDepth > 0) {
      source += '|';
    } else {
      source += char.replace(/[.+^$()|[\]\\]/g, '\\$&');
    }
  }
  // An unclosed "{" would leave an unterminated group: a SyntaxError the user would see as a crash.
  if (braceDepth > 0) {
    throw new UsageError(`glob "${pattern}" has an unclosed "{"`, 'close every "{" with "}" (e.g. "en/{faq,adminGuide}/*.md")');
  }
  return new RegExp(`^${source}$`);
}

export function matchGlob(pattern: string, path: string): boolean {
  return globToRegExp(pattern).test(path);
}
