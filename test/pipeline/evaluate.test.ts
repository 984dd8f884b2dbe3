import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { evaluate, isRelevant, readEvalQuestions } from '../../src/pipeline/evaluate.js';
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
      async (question) => answers[question] ?? [],
    );
    expect(report.questions).toBe(3);
    expect(report.recallAtK).toBeCloseTo(2 / 3, 10);
    expect(report.mrr).toBeCloseTo((1 + 0.5 + 0) / 3, 10);
    expect(report.misses).toEqual([{ question: 'missed', expected: ['Z'], retrieved: ['X', 'Y'] }]);
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
