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
