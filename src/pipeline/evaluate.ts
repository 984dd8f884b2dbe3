import { readFile } from 'node:fs/promises';
import { RagossError, UsageError } from '../errors.js';
import type { RankedHit } from './retrieve.js';

export interface EvalQuestion {
  question: string;
  expected: string[];
}

export interface EvalMiss {
  question: string;
  expected: string[];
  retrieved: string[];
}

export interface EvalReport {
  questions: number;
  topK: number;
  recallAtK: number;
  mrr: number;
  misses: EvalMiss[];
}

export async function readEvalQuestions(path: string): Promise<EvalQuestion[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    throw new UsageError(`cannot read ${path}`, 'pass a JSONL file with one {"question", "expected": [...]} object a line');
  }
  const questions = text
    .split('\n')
    .map((line, index) => ({ line: line.trim(), number: index + 1 }))
    .filter(({ line }) => line !== '')
    .map(({ line, number }) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        throw new UsageError(`${path}:${number} is not valid JSON`);
      }
      const record = parsed as Partial<EvalQuestion>;
      if (typeof record.question !== 'string' || !Array.isArray(record.expected) || !record.expected.every((item) => typeof item === 'string')) {
        throw new UsageError(`${path}:${number} needs "question" (string) and "expected" (array of strings)`);
      }
      return { question: record.question, expected: record.expected };
    });
  if (questions.length === 0) throw new UsageError(`${path} has no questions`);
  return questions;
}

/** A hit answers the question when its text, leading whitespace stripped, starts with an expected heading. */
export function isRelevant(hitText: string, expected: readonly string[]): boolean {
  const text = hitText.trimStart();
  return expected.some((heading) => text.startsWith(heading));
}

export async function evaluate(questions: readonly EvalQuestion[], topK: number, search: (question: string) => Promise<RankedHit[]>): Promise<EvalReport> {
  let found = 0;
  let reciprocalRanks = 0;
  const misses: EvalMiss[] = [];
  for (const item of questions) {
    const hits = await search(item.question);
    const firstRelevant = hits.findIndex((hit) => isRelevant(hit.text, item.expected));
    if (firstRelevant >= 0) {
      found++;
      reciprocalRanks += 1 / (firstRelevant + 1);
    } else {
      misses.push({ question: item.question, expected: item.expected, retrieved: hits.map((hit) => hit.text.trimStart().split('\n')[0] ?? '') });
    }
  }
  if (questions.length === 0) throw new RagossError('no questions to evaluate');
  return { questions: questions.length, topK, recallAtK: found / questions.length, mrr: reciprocalRanks / questions.length, misses };
}
