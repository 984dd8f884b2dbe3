import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { evaluate, groundingCurve, isRelevant, kindOf, parseEvalQuestion, readEvalQuestions, type EvalSearch } from '../../src/pipeline/evaluate.js';
import type { RankedHit } from '../../src/pipeline/retrieve.js';
import { tempHome } from '../helpers/cli.js';

function hits(...texts: string[]): RankedHit[] {
  return texts.map((text, index) => ({ rank: index + 1, score: 1 - index / 10, text, source: 's.md', chunkIndex: index }));
}

describe('evaluate', () => {
  it('counts a hit when a chunk, leading whitespace stripped, starts with an expected heading', () => {
    expect(isRelevant('  Where does Milvus store data?\n\nMilvus deals...', ['Where does Milvus store data?'])).toBe(true);
    expect(isRelevant('See: Where does Milvus store data?', ['Where does Milvus store data?'])).toBe(false);
  });

  it('computes recall@k and MRR and lists the misses', async () => {
    const answers: Record<string, RankedHit[]> = {
      first: hits('A heading\nbody', 'B'),
      second: hits('X', ' B heading'),
      missed: hits('X', 'Y'),
    };
    const report = await evaluate(
      [
        { question: 'first', expected: ['A heading'] },
        { question: 'second', expected: ['B heading', 'Other'] },
        { question: 'missed', expected: ['Z'] },
      ],
      2,
      async (question) => ({ hits: answers[question] ?? [], grounded: true, similarity: null }),
    );
    expect(report.questions).toBe(3);
    expect(report.recallAtK).toBeCloseTo(2 / 3, 10);
    expect(report.mrr).toBeCloseTo((1 + 0.5 + 0) / 3, 10);
    expect(report.misses).toEqual([{ question: 'missed', expected: ['Z'], retrieved: ['s.md › X', 's.md › Y'] }]);
    expect(report.page).toBeUndefined();
  });

  it('reads a markdown chunk\'s heading from the end of its path line', () => {
    expect(isRelevant('Product FAQ › Where does Milvus store data?\n\nMilvus deals...', ['Where does Milvus store data?'])).toBe(true);
    expect(isRelevant('Where does Milvus store data? › Other\n\ntext', ['Where does Milvus store data?'])).toBe(false);
  });

  it('scores gold questions by source and heading, whatever the chunker, and reports the page level', async () => {
    const gold = [{ source: 'en/limits.md', heading: 'Calculating the number of collections' }];
    const at = (source: string, text: string, rank: number): RankedHit => ({ rank, score: 1, text, source, chunkIndex: 0 });
    const answers: Record<string, RankedHit[]> = {
      // seed chunk: starts with the heading; found at rank 2
      seed: [at('en/other.md', 'Calculating the number of collections\nelsewhere', 1), at('en/limits.md', 'Calculating the number of collections\nbody', 2)],
      // markdown chunk: the heading is in its path; right page first, right section second
      markdown: [at('en/limits.md', 'Limits › Overview\n\ntext', 1), at('en/limits.md', 'Limits › Calculating the number of collections\n\nbody', 2)],
      // right page, wrong section: a page hit only
      page: [at('en/limits.md', 'Limits › Overview\n\ntext', 1), at('en/x.md', 'X', 2), at('en/y.md', 'Y', 3)],
      none: [at('en/x.md', 'X', 1)],
    };
    const questions = Object.keys(answers).map((question) => ({ question, expected: [], gold }));
    const report = await evaluate(questions, 3, async (question) => ({ hits: answers[question] ?? [], grounded: true, similarity: null }));
    expect(report.recallAtK).toBe(2 / 4);
    expect(report.mrr).toBe((1 / 2 + 1 / 2) / 4);
    expect(report.page).toEqual({ recallAtK: 3 / 4, mrr: (1 / 2 + 1 + 1) / 4 });
    expect(report.misses.map((miss) => miss.question)).toEqual(['page', 'none']);
    expect(report.misses[0]?.expected).toEqual(['en/limits.md › Calculating the number of collections']);
    expect(report.misses[0]?.retrieved).toEqual(['en/limits.md › Overview', 'en/x.md › X', 'en/y.md › Y']);
  });

  it('reports context recall: the answer inside what ask would send, and the median prompt', async () => {
    const gold = [{ source: 'en/limits.md', heading: 'Calculating the number of collections' }];
    const hit: RankedHit = { rank: 1, score: 1, text: 'Limits › Overview\n\ntext', source: 'en/limits.md', chunkIndex: 0 };
    const passages: Record<string, Array<{ source: string; text: string }>> = {
      // a sibling section the builder brought along holds it, though no top-k hit does
      sibling: [{ source: 'en/limits.md', text: 'Limits › Overview\n\ntext\n\n## Calculating the number of collections\n\nbody' }],
      // the heading on another page does not count
      elsewhere: [{ source: 'en/other.md', text: 'Calculating the number of collections' }],
      faq: [{ source: 'en/faq/product_faq.md', text: ' Where does Milvus store data?\n\nIn object storage.' }],
    };
    const promptChars: Record<string, number> = { sibling: 900, elsewhere: 100, faq: 500 };
    const questions = [
      { question: 'sibling', expected: [], gold },
      { question: 'elsewhere', expected: [], gold },
      { question: 'faq', expected: ['Where does Milvus store data?'] },
      { question: 'off topic', expected: [] },
    ];
    const report = await evaluate(questions, 3, async (question) => ({ hits: [hit], grounded: true, similarity: null, sent: { passages: passages[question] ?? [], promptChars: promptChars[question] ?? 99_999 } }));
    expect(report.recallAtK).toBe(0);
    // Real questions only: the off-topic one sends something too, but has no answer to find.
    expect(report.context).toEqual({ recall: 2 / 3, medianPromptChars: 500 });
    const without = await evaluate(questions, 3, async () => ({ hits: [hit], grounded: true, similarity: null }));
    expect(without.context).toBeUndefined();
  });

  it('reads the full-docs format (gold, no expected) and refuses a gold entry without source', async () => {
    const dir = tempHome();
    const file = join(dir, 'gold.jsonl');
    writeFileSync(file, '{"question": "q", "gold": [{"source": "en/a.md", "chunk_index": 3, "heading": "H"}]}\n');
    expect(await readEvalQuestions(file)).toEqual([{ question: 'q', expected: [], gold: [{ source: 'en/a.md', heading: 'H' }] }]);
    writeFileSync(file, '{"question": "q", "gold": [{"heading": "H"}]}\n');
    await expect(readEvalQuestions(file)).rejects.toThrow(/gold\.jsonl:1 needs "question"/);
    // An empty expected list is an off-topic question (the grounding check should flag it).
    writeFileSync(file, '{"question": "q", "expected": []}\n');
    expect(await readEvalQuestions(file)).toEqual([{ question: 'q', expected: [] }]);
  });

  it('reads JSONL and names the bad line', async () => {
    const dir = tempHome();
    const good = join(dir, 'good.jsonl');
    writeFileSync(good, '{"question": "q1", "expected": ["h1"]}\n\n{"question": "q2", "expected": ["h2", "h3"]}\n');
    expect(await readEvalQuestions(good)).toEqual([
      { question: 'q1', expected: ['h1'] },
      { question: 'q2', expected: ['h2', 'h3'] },
    ]);
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, '{"question": "q1", "expected": ["h1"]}\n{"question": 3}\n');
    await expect(readEvalQuestions(bad)).rejects.toThrow(/bad\.jsonl:2 needs "question"/);
    await expect(readEvalQuestions(join(dir, 'missing.jsonl'))).rejects.toBeInstanceOf(UsageError);
  });
});

describe('readEvalQuestions validation', () => {
  const write = (content: string) => {
    const file = join(tempHome(), 'q.jsonl');
    writeFileSync(file, content);
    return file;
  };
  const refusal = async (content: string) => {
    const error = await readEvalQuestions(write(content)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    return error as UsageError;
  };

  it('names the line of a malformed question and says which formats work', async () => {
    for (const line of ['{"question": "q"}', '{"question": "q", "expected": "h"}', '{"question": "q", "expected": [1]}', '{"expected": ["h"]}', '[1, 2]', '"text"', 'null', '{"question": "q", "gold": "en/a.md"}', '{"question": "q", "gold": [null]}', '{"question": "q", "gold": [{"source": "a.md"}]}', '{"question": "q", "gold": [{"source": 1, "heading": "H"}]}']) {
      const error = await refusal(`${line}\n`);
      expect(error.message, line).toMatch(/q\.jsonl:1 needs "question"/);
    }
    const empty = await refusal('\n  \n');
    expect(empty.message).toMatch(/q\.jsonl has no questions$/);
    expect(empty.hint).toBe('put one {"question", "expected": [headings]} or {"question", "gold": [{"source", "heading"}]} object a line ("expected": [] for a question the docs do not cover)');
    const broken = await refusal('{"question": "q", "expected": ["h"]}\n{oops\n');
    expect(broken.message).toMatch(/q\.jsonl:2 is not valid JSON$/);
    const unreadable = (await readEvalQuestions(join(tempHome(), 'absent.jsonl')).catch((caught: unknown) => caught)) as UsageError;
    expect(unreadable.message).toMatch(/^cannot read .*absent\.jsonl$/);
    expect(unreadable.hint).toMatch(/^pass a JSONL file with one \{"question"/);
  });

  it('keeps gold and expected together when a question has both', async () => {
    const file = write('{"question": " q ", "expected": ["h"], "gold": [{"source": "a.md", "heading": "H"}]}\n');
    expect(await readEvalQuestions(file)).toEqual([{ question: ' q ', expected: ['h'], gold: [{ source: 'a.md', heading: 'H' }] }]);
  });

  it('refuses to evaluate no questions', async () => {
    await expect(evaluate([], 3, async () => ({ hits: [], grounded: true, similarity: null }))).rejects.toThrow('no questions to evaluate');
  });

  it('needs the gold source and heading in the same hit, and a page hit only the source', async () => {
    const gold = [{ source: 'a.md', heading: 'H' }, { source: 'b.md', heading: 'K' }];
    const at = (source: string, text: string): RankedHit => ({ rank: 1, score: 1, text, source, chunkIndex: 0 });
    const report = await evaluate([{ question: 'q', expected: [], gold }], 3, async () => ({ hits: [at('a.md', 'K body'), at('c.md', 'H body'), at('b.md', 'K body')], grounded: true, similarity: null }));
    expect(report.recallAtK).toBe(1);
    expect(report.mrr).toBeCloseTo(1 / 3, 10);
    expect(report.page).toEqual({ recallAtK: 1, mrr: 1 });
  });
});

describe('evaluate with off-topic questions', () => {
  it('scores recall over the real questions only, and counts flagged off-topic questions and false alarms', async () => {
    const answers: Record<string, EvalSearch> = {
      real: { hits: hits('A heading\nbody'), grounded: true, similarity: 0.6 },
      'real but flagged': { hits: hits('X'), grounded: false, similarity: 0.2 },
      bread: { hits: hits('X'), grounded: false, similarity: 0.1 },
      football: { hits: hits('A heading'), grounded: true, similarity: 0.4 },
    };
    const report = await evaluate(
      [
        { question: 'real', expected: ['A heading'] },
        { question: 'real but flagged', expected: ['B heading'] },
        { question: 'bread', expected: [], kind: 'unrelated' },
        { question: 'football', expected: [], kind: 'unrelated' },
      ],
      3,
      async (question) => answers[question] as EvalSearch,
    );
    expect(report.questions).toBe(2);
    expect(report.recallAtK).toBe(1 / 2);
    expect(report.misses.map((miss) => miss.question)).toEqual(['real but flagged']);
    expect(report.grounding).toEqual({
      realQuestions: 2,
      realFlagged: ['real but flagged'],
      offTopicQuestions: 2,
      offTopicFlagged: 1,
      offTopicMissed: ['football'],
      refusedByProbe: [],
      byKind: [
        { kind: 'real', real: true, questions: 2, flagged: 1 },
        { kind: 'unrelated', real: false, questions: 2, flagged: 1 },
      ],
    });
    expect(report.grounding.curve).toBeUndefined();
  });

  it('with curve, gives the share of each kind below each line, every 0.01 across the similarities seen', async () => {
    const similarities: Record<string, number | null> = { a: 0.5, b: 0.3, c: 0.32, d: null };
    const report = await evaluate(
      [
        { question: 'a', expected: ['H'] },
        { question: 'b', expected: ['H'] },
        { question: 'c', expected: [], kind: 'programming' },
        { question: 'd', expected: [], kind: 'programming' },
      ],
      3,
      async (question) => ({ hits: [], grounded: true, similarity: similarities[question] ?? null }),
      { curve: true },
    );
    const curve = report.grounding.curve ?? [];
    expect(curve.map((point) => point.threshold)).toEqual(Array.from({ length: 21 }, (_, index) => Number((0.3 + index * 0.01).toFixed(2))));
    // At 0.30 nothing real is below the line; the off-topic question without a passage always is.
    expect(curve[0]).toEqual({ threshold: 0.3, flagged: { real: 0, programming: 0.5 } });
    expect(curve.find((point) => point.threshold === 0.33)).toEqual({ threshold: 0.33, flagged: { real: 0.5, programming: 1 } });
    expect(curve.at(-1)).toEqual({ threshold: 0.5, flagged: { real: 0.5, programming: 1 } });
  });

  it('names the questions the nearest probe refused, and counts them below every line of the curve', async () => {
    const searches: Record<string, { grounded: boolean; similarity: number; refusedBy: 'similarity' | 'nearest probe' | null; closerToProbe: boolean }> = {
      real: { grounded: true, similarity: 0.5, refusedBy: null, closerToProbe: false },
      sql: { grounded: false, similarity: 0.45, refusedBy: 'nearest probe', closerToProbe: true },
      bread: { grounded: false, similarity: 0.2, refusedBy: 'similarity', closerToProbe: false },
    };
    const report = await evaluate(
      [
        { question: 'real', expected: ['H'] },
        { question: 'sql', expected: [], kind: 'programming' },
        { question: 'bread', expected: [], kind: 'unrelated' },
      ],
      3,
      async (question) => ({ hits: [], ...(searches[question] as (typeof searches)['real']) }),
      { curve: true },
    );
    expect(report.grounding.refusedByProbe).toEqual(['sql']);
    expect(report.grounding.offTopicFlagged).toBe(2);
    // At 0.3 the line alone would let "sql" (0.45) through; the probe still catches it.
    expect(report.grounding.curve?.find((point) => point.threshold === 0.3)).toEqual({ threshold: 0.3, flagged: { real: 0, programming: 1, unrelated: 1 } });
  });

  it('reads a question\'s kind from "kind" or "topic"', () => {
    expect(parseEvalQuestion({ question: 'q', expected: [], topic: 'adjacent' }, 'line 1')).toEqual({ question: 'q', expected: [], kind: 'adjacent' });
    expect(parseEvalQuestion({ question: 'q', expected: ['H'], kind: 'real' }, 'line 1')).toEqual({ question: 'q', expected: ['H'], kind: 'real' });
  });

  it('counts a question with an empty gold list as off-topic too', async () => {
    const report = await evaluate([{ question: 'bread', expected: [], gold: [] }], 3, async () => ({ hits: [], grounded: false, similarity: null }));
    expect(report.grounding).toMatchObject({ realQuestions: 0, offTopicQuestions: 1, offTopicFlagged: 1 });
  });

  it('reports zeros, not NaN, for a file of off-topic questions only', async () => {
    const report = await evaluate([{ question: 'bread', expected: [] }], 3, async () => ({ hits: [], grounded: false, similarity: null }));
    expect(report).toMatchObject({ questions: 0, recallAtK: 0, mrr: 0, grounding: { offTopicQuestions: 1, offTopicFlagged: 1 } });
    expect(report.page).toBeUndefined();
  });
});

describe('context recall and kinds, to the letter', () => {
  const hit: RankedHit = { rank: 1, score: 1, text: 'X', source: 'en/x.md', chunkIndex: 0 };

  it('finds the answer in any passage sent, for any expected heading, and takes the middle of an even count', async () => {
    const questions = [
      // The second heading, in the second passage: any passage, any heading.
      { question: 'two headings', expected: ['Nowhere', 'Where does Milvus store data?'] },
      { question: 'gold', expected: [], gold: [{ source: 'en/limits.md', heading: 'Limits' }] },
    ];
    const sent: Record<string, EvalSearch['sent']> = {
      'two headings': { passages: [{ source: 'en/faq/a.md', text: 'Nothing here' }, { source: 'en/faq/b.md', text: 'Where does Milvus store data?' }], promptChars: 100 },
      gold: { passages: [{ source: 'en/other.md', text: 'Limits' }, { source: 'en/limits.md', text: 'Limits › Limits' }], promptChars: 301 },
    };
    const report = await evaluate(questions, 3, async (question) => ({ hits: [hit], grounded: false, similarity: 0.2, sent: sent[question] }));
    expect(report.context).toEqual({ recall: 1, medianPromptChars: 200.5 });
  });

  it('reads a kind only when it is a non-empty string, and names the default kinds', () => {
    expect(parseEvalQuestion({ question: 'q', expected: [], kind: '' }, 'x')).toEqual({ question: 'q', expected: [] });
    expect(parseEvalQuestion({ question: 'q', expected: [], kind: 7 }, 'x')).toEqual({ question: 'q', expected: [] });
    expect(parseEvalQuestion({ question: 'q', expected: [], topic: 'unrelated' }, 'x')).toEqual({ question: 'q', expected: [], kind: 'unrelated' });
    expect(kindOf({ question: 'q', expected: ['A'] })).toBe('real');
    expect(kindOf({ question: 'q', expected: [] })).toBe('off-topic');
  });

  it('counts flagged questions per kind, real kinds first', async () => {
    const questions = [
      { question: 'off', expected: [], kind: 'unrelated' },
      { question: 'real', expected: ['X'] },
      { question: 'off2', expected: [], kind: 'unrelated' },
    ];
    const grounded: Record<string, boolean> = { off: false, real: true, off2: true };
    const report = await evaluate(questions, 3, async (question) => ({ hits: [hit], grounded: grounded[question] ?? true, similarity: 0.5 }));
    expect(report.grounding.byKind).toEqual([
      { kind: 'real', real: true, questions: 1, flagged: 0 },
      { kind: 'unrelated', real: false, questions: 2, flagged: 1 },
    ]);
  });

  it('draws no curve without similarities, and counts a question with none as below every line', () => {
    expect(groundingCurve([{ kind: 'real', similarity: null }])).toEqual([]);
    const curve = groundingCurve([{ kind: 'real', similarity: 0.3 }, { kind: 'real', similarity: null }]);
    expect(curve).toEqual([{ threshold: 0.3, flagged: { real: 0.5 } }]);
  });
});

