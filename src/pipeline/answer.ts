import type { ChatDelta, ChatEndpoint, ReasoningEffort } from '../answerer/chat.js';
import { buildCitedMessages, buildMessages } from '../answerer/prompt.js';
import { RagossError } from '../errors.js';
import type { SearchHit } from '../store/store.js';

export interface AnswerOptions {
  model: string;
  maxTokens?: number;
  reasoningEffort?: ReasoningEffort;
  /** Numbered passages and a request to cite them (the seed prompt otherwise). */
  cite?: boolean;
  signal?: AbortSignal;
  onDelta?: (delta: ChatDelta) => void;
}

export interface Answer {
  answer: string;
  reasoning: string;
  model: string;
  finishReason: string | undefined;
}

/** Sends the seed prompt (or --cite's) with the passages (retrieved chunks, or the context builder's) and collects the streamed reply. */
export async function answerQuestion(question: string, hits: readonly Pick<SearchHit, 'text'>[], endpoint: ChatEndpoint, options: AnswerOptions): Promise<Answer> {
  let answer = '';
  let reasoning = '';
  const result = await endpoint.stream(
    { model: options.model, messages: options.cite === true ? buildCitedMessages(question, hits) : buildMessages(question, hits), maxTokens: options.maxTokens, reasoningEffort: options.reasoningEffort, signal: options.signal },
    (delta) => {
      if (delta.kind === 'answer') answer += delta.text;
      else reasoning += delta.text;
      options.onDelta?.(delta);
    },
  );
  if (answer.trim() === '' && result.finishReason === 'length') {
    throw new RagossError(
      'the model used its whole token budget on reasoning and wrote no answer (finish_reason: length)',
      'raise --max-tokens or lower --reasoning-effort',
    );
  }
  if (answer.trim() === '') {
    throw new RagossError(`the model returned an empty answer (finish_reason: ${result.finishReason ?? 'none'})`, 'try again, or try another --model');
  }
  return { answer, reasoning, model: result.model ?? options.model, finishReason: result.finishReason };
}
