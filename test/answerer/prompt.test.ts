import { describe, expect, it } from 'vitest';
import { CITE_SYSTEM_PROMPT, SYSTEM_PROMPT, buildCitedMessages, buildCitedUserPrompt, buildMessages, citedPassages } from '../../src/answerer/prompt.js';

const hits = [{ text: '  Milvus stores data in object storage.\n' }, { text: 'Segments are sealed, then flushed.' }];

describe('the seed prompt', () => {
  it('joins the passages with newlines inside <context>, the question inside <question>', () => {
    expect(buildMessages('Where?', hits)).toEqual([
      { role: 'system', content: SYSTEM_PROMPT },
      {
        role: 'user',
        content:
          'Use the following pieces of information enclosed in <context> tags to provide an answer to the question enclosed in <question> tags.\n<context>\n  Milvus stores data in object storage.\n\nSegments are sealed, then flushed.\n</context>\n<question>\nWhere?\n</question>',
      },
    ]);
  });
});

describe("--cite's prompt", () => {
  it('numbers the trimmed passages from 1, a blank line apart, and asks for [n]', () => {
    expect(buildCitedUserPrompt('Where?', hits)).toBe(
      'Use the following numbered passages enclosed in <context> tags to answer the question enclosed in <question> tags. Cite the passages you use as [n].\n<context>\n[1] Milvus stores data in object storage.\n\n[2] Segments are sealed, then flushed.\n</context>\n<question>\nWhere?\n</question>',
    );
    expect(buildCitedMessages('Where?', hits)).toEqual([
      { role: 'system', content: CITE_SYSTEM_PROMPT },
      { role: 'user', content: buildCitedUserPrompt('Where?', hits) },
    ]);
    expect(CITE_SYSTEM_PROMPT).toContain('cite the passages it comes from as [n]');
    expect(CITE_SYSTEM_PROMPT).toContain('say so instead of answering from memory');
  });

  it('reads the passages an answer cites, in order of first citation, within range', () => {
    expect(citedPassages('Object storage [2]. Sealed first [1][3].', 3)).toEqual([2, 1, 3]);
    expect(citedPassages('Both [1, 3] and again [3;1] and [ 2 ].', 3)).toEqual([1, 3]);
    expect(citedPassages('See [1,2 ; 3].', 3)).toEqual([1, 2, 3]);
    expect(citedPassages('Beyond [4], zero [0], and [2].', 3)).toEqual([2]);
    expect(citedPassages('No citations here, only [a] and (1).', 3)).toEqual([]);
    expect(citedPassages('[1] [1] [1]', 1)).toEqual([1]);
  });
});
