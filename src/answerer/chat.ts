import { ExitCode, RagossError, errorMessage, networkProblem } from '../errors.js';
import type { ChatMessage } from './prompt.js';

/** How hard gpt-oss thinks before it answers (the `reasoning` setting of OpenRouter and others). */
export type ReasoningEffort = 'low' | 'medium' | 'high';
export const REASONING_EFFORTS: readonly ReasoningEffort[] = ['low', 'medium', 'high'];

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  reasoningEffort?: ReasoningEffort;
  signal?: AbortSignal;
}

/** One piece of a streamed reply: gpt-oss sends its reasoning apart from the answer. */
export type ChatDelta = { kind: 'reasoning'; text: string } | { kind: 'answer'; text: string };

export interface ChatResult {
  finishReason: string | undefined;
  model: string | undefined;
}

/** An OpenAI-compatible chat endpoint (OpenRouter, Ollama, vLLM, LM Studio, ...). */
export interface ChatEndpoint {
  readonly baseUrl: string;
  stream(request: ChatRequest, onDelta: (delta: ChatDelta) => void): Promise<ChatResult>;
  listModels(signal?: AbortSignal): Promise<string[]>;
}

export interface OpenAIChatOptions {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  maxRetries: number;
}

/** Hosted endpoints that never work without a key: fail before any retrieval work. */
const KEYED_HOSTS = /(^|\.)(openrouter\.ai|openai\.com|groq\.com|together\.xyz|fireworks\.ai)$/i;

export function endpointNeedsKey(baseUrl: string): boolean {
  try {
    return KEYED_HOSTS.test(new URL(baseUrl).hostname);
  } catch {
    return false;
  }
}

/** Hosted endpoints fail without a key: say so before any retrieval work (exit 2). */
export function requireChatKey(baseUrl: string, apiKey: string | undefined): void {
  if (apiKey === undefined && endpointNeedsKey(baseUrl)) {
    throw new RagossError(`${baseUrl} needs an API key and none is set`, 'export OPENROUTER_API_KEY=... (or OPENAI_API_KEY), or use a local endpoint with --base-url', ExitCode.usage);
  }
}

function reasoningOf(delta: Record<string, unknown>): string | undefined {
  const reasoning = delta['reasoning'] ?? delta['reasoning_content'];
  return typeof reasoning === 'string' && reasoning !== '' ? reasoning : undefined;
}

export class OpenAIChatEndpoint implements ChatEndpoint {
  private clientPromise: Promise<import('openai').OpenAI> | undefined;

  constructor(private readonly options: OpenAIChatOptions) {}

  get baseUrl(): string {
    return this.options.baseUrl;
  }

  private client(): Promise<import('openai').OpenAI> {
    this.clientPromise ??= import('openai').then(
      ({ OpenAI }) =>
        new OpenAI({
          baseURL: this.options.baseUrl,
          // Local servers take any key; the SDK insists on one.
          apiKey: this.options.apiKey ?? 'no-key',
          timeout: this.options.timeoutMs,
          maxRetries: this.options.maxRetries,
        }),
    );
    return this.clientPromise;
  }

  async stream(request: ChatRequest, onDelta: (delta: ChatDelta) => void): Promise<ChatResult> {
    const client = await this.client();
    let finishReason: string | undefined;
    let model: string | undefined;
    let stalled = false;
    let idle: NodeJS.Timeout | undefined;
    try {
      const stream = await client.chat.completions.create(
        {
          model: request.model,
          messages: request.messages,
          stream: true,
          ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
          ...(request.reasoningEffort !== undefined ? { reasoning_effort: request.reasoningEffort } : {}),
        },
        { signal: request.signal },
      );
      // The SDK's timeout stops at the response headers: a body that goes silent would hang forever.
      const rearm = () => {
        clearTimeout(idle);
        idle = setTimeout(() => {
          stalled = true;
          stream.controller.abort();
        }, this.options.timeoutMs);
      };
      rearm();
      for await (const chunk of stream) {
        rearm();
        model ??= chunk.model;
        const choice = chunk.choices[0];
        if (choice === undefined) continue;
        const delta = choice.delta as unknown as Record<string, unknown>;
        const reasoning = reasoningOf(delta);
        if (reasoning !== undefined) onDelta({ kind: 'reasoning', text: reasoning });
        if (typeof delta['content'] === 'string' && delta['content'] !== '') onDelta({ kind: 'answer', text: delta['content'] });
        if (choice.finish_reason) finishReason = choice.finish_reason;
      }
    } catch (error) {
      if (request.signal?.aborted) throw error;
      throw await this.explain(error, request.model);
    } finally {
      clearTimeout(idle);
    }
    if (stalled) {
      throw new RagossError(`chat endpoint ${this.options.baseUrl} sent nothing for ${this.options.timeoutMs / 1000}s mid-answer`, 'try again, or raise --timeout');
    }
    // The SDK ends the iteration quietly when aborted: without this a cancelled answer would pass as complete.
    request.signal?.throwIfAborted();
    return { finishReason, model };
  }

  async listModels(signal?: AbortSignal): Promise<string[]> {
    const client = await this.client();
    try {
      const page = await client.models.list({ signal, maxRetries: 0 });
      return page.data.map((model) => model.id);
    } catch (error) {
      throw await this.explain(error, undefined);
    }
  }

  private async explain(error: unknown, model: string | undefined): Promise<RagossError> {
    const { APIError, APIConnectionError, APIConnectionTimeoutError } = await import('openai');
    const where = this.options.baseUrl;
    // Keep the original error so --verbose can show it (reportError redacts keys).
    const fail = (message: string, hint?: string) => new RagossError(message, hint, ExitCode.failure, { cause: error });
    if (error instanceof APIConnectionTimeoutError) {
      return fail(`chat endpoint ${where} did not answer within ${this.options.timeoutMs / 1000}s`, 'check the endpoint, or raise --timeout');
    }
    if (error instanceof APIConnectionError) {
      return fail(`cannot reach chat endpoint ${where}: ${networkProblem(error.cause ?? error)}`, 'check --base-url and that the server is running');
    }
    if (error instanceof APIError) {
      const detail = (error.error as { message?: string } | undefined)?.message ?? error.message;
      switch (error.status) {
        case 401:
        case 403:
          return fail(`chat endpoint ${where} refused the API key (HTTP ${error.status})`, 'set a valid OPENROUTER_API_KEY or OPENAI_API_KEY');
        case 404:
          return fail(`chat endpoint ${where} has no model ${model ?? ''} (HTTP 404)`.replace('  ', ' '), 'check --model (e.g. openai/gpt-oss-20b on OpenRouter, gpt-oss:20b on Ollama)');
        case 429:
          return fail(`chat endpoint ${where} is rate limiting us (HTTP 429) and retries did not help`, 'wait a minute and try again, or use another --model');
        case undefined:
          return fail(`chat endpoint ${where} reported an error mid-answer: ${detail}`, 'try again; if it persists, try another --model');
        default:
          return fail(`chat endpoint ${where} failed (HTTP ${error.status}): ${detail}`, 'try again later');
      }
    }
    // undici reports a response body cut off by the server as TypeError('terminated').
    if (error instanceof TypeError && error.message === 'terminated') {
      return fail(`connection to chat endpoint ${where} dropped mid-answer`, 'try again; if it persists, try another --model');
    }
    return fail(`chat request to ${where} failed: ${errorMessage(error)}`);
  }
}
