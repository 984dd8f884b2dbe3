import type { SearchHit } from '../store/store.js';

/** The seed tutorial's prompt, word for word: answers are compared against it. */
export const SYSTEM_PROMPT =
  'Human: You are an AI assistant. You are able to find answers to the questions from the contextual passage snippets provided.';

export interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

export function buildUserPrompt(question: string, hits: readonly Pick<SearchHit, 'text'>[]): string {
  const context = hits.map((hit) => hit.text).join('\n');
  return `Use the following pieces of information enclosed in <context> tags to provide an answer to the question enclosed in <question> tags.\n<context>\n${context}\n</context>\n<question>\n${question}\n</question>`;
}

export function buildMessages(question: string, hits: readonly Pick<SearchHit, 'text'>[]): ChatMessage[] {
  return [
    { role: 'system', content: SYSTEM_PROMPT },
    { role: 'user', content: buildUserPrompt(question, hits) },
  ];
}

/** --cite's prompt: the seed's instruction, plus numbered passages to cite as [n]. */
export const CITE_SYSTEM_PROMPT =
  'You are an AI assistant. You answer questions from the numbered passages of documentation provided. After each statement, cite the passages it comes from as [n]. If the passages do not answer the question, say so instead of answering from memory.';

export function buildCitedUserPrompt(question: string, hits: readonly Pick<SearchHit, 'text'>[]): string {
  const context = hits.map((hit, index) => `[${index + 1}] ${hit.text.trim()}`).join('\n\n');
  return `Use the following numbered passages enclosed in <context> tags to answer the question enclosed in <question> tags. Cite the passages you use as [n].\n<context>\n${context}\n</context>\n<question>\n${question}\n</question>`;
}

export function buildCitedMessages(question: string, hits: readonly Pick<SearchHit, 'text'>[]): ChatMessage[] {
  return [
    { role: 'system', content: CITE_SYSTEM_PROMPT },
    { role: 'user', content: buildCitedUserPrompt(question, hits) },
  ];
}

/** The passage numbers an answer cites ([2], [1][3], [1, 3]), in order of first citation; numbers beyond the passages are left out. */
export function citedPassages(answer: string, passages: number): number[] {
  const cited: number[] = [];
  for (const group of answer.matchAll(/\[(\d+(?:\s*[,;]\s*\d+)*)\]/g)) {
    for (const number of (group[1] as string).split(/[,;]/).map((item) => Number(item.trim()))) {
      if (number >= 1 && number <= passages && !cited.includes(number)) cited.push(number);
    }
  }
  return cited;
}
