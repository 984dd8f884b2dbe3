import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAIChatEndpoint, type ChatDelta } from '../../src/answerer/chat.js';
import { answerQuestion } from '../../src/pipeline/answer.js';
import type { SearchHit } from '../../src/store/store.js';
import { ragossRejection } from '../helpers/errors.js';
import { chatRequests, messagesOf, startChatServer, type ChatServer, type Scenario } from '../helpers/chat-server.js';

const QUESTION = 'How is data stored in milvus?';

/** Shaped like real FAQ chunks: the splitter keeps the blank lines around each heading. */
const HITS: SearchHit[] = [
  { score: 0.91, source: 'en/faq/product_faq.md', chunkIndex: 3, text: '\n\nWhere does Milvus store data?\n\nMilvus deals with two types of data, inserted data and metadata.' },
  { score: 0.84, source: 'en/faq/operational_faq.md', chunkIndex: 7, text: 'Why is my data lost after restart?\n\nCheck the MinIO volume.\n' },
  { score: 0.8, source: 'en/faq/product_faq.md', chunkIndex: 11, text: 'How does Milvus flush data?\n\nMilvus returns success when inserted data are loaded to the message queue.' },
];

// Written out by hand (not rebuilt with buildUserPrompt) so a change to the seed format shows up here.
const EXPECTED_SYSTEM =
  'Human: You are an AI assistant. You are able to find answers to the questions from the contextual passage snippets provided.';
const EXPECTED_USER = `Use the following pieces of information enclosed in <context> tags to provide an answer to the question enclosed in <question> tags.
<context>


Where does Milvus store data?

Milvus deals with two types of data, inserted data and metadata.
Why is my data lost after restart?

Check the MinIO volume.

How does Milvus flush data?

Milvus returns success when inserted data are loaded to the message queue.
</context>
<question>
How is data stored in milvus?
</question>`;

describe('answerQuestion against a local OpenRouter-style SSE server', () => {
  let server: ChatServer;
  let endpoint: OpenAIChatEndpoint;

  beforeAll(async () => {
    server = await startChatServer();
    endpoint = new OpenAIChatEndpoint({ baseUrl: server.baseUrl, apiKey: undefined, timeoutMs: 10_000, maxRetries: 0 });
  });
  afterAll(async () => {
    await server.close();
  });

  function use(scenario: Scenario): void {
    server.setScenario(scenario);
    server.requests.length = 0;
  }

  it('sends exactly the seed prompt with the chunks as context and collects the streamed reply', async () => {
    use({ kind: 'ok', reasoning: 'The first chunk answers it.', answer: 'In MinIO/S3, with metadata in etcd.' });
    const deltas: ChatDelta[] = [];
    const answer = await answerQuestion(QUESTION, HITS, endpoint, { model: 'openai/gpt-oss-120b', onDelta: (delta) => deltas.push(delta) });
    const requests = chatRequests(server);
    expect(requests).toHaveLength(1);
    expect(messagesOf(requests[0]!)).toEqual([
      { role: 'system', content: EXPECTED_SYSTEM },
      { role: 'user', content: EXPECTED_USER },
    ]);
    expect(requests[0]?.body).toMatchObject({ model: 'openai/gpt-oss-120b', stream: true });
    expect(answer).toEqual({ answer: 'In MinIO/S3, with metadata in etcd.', reasoning: 'The first chunk answers it.', model: 'openai/gpt-oss-120b', finishReason: 'stop' });
    expect(deltas.map((delta) => delta.text).join('')).toBe('The first chunk answers it.In MinIO/S3, with metadata in etcd.');
  });

  it('explains an answer cut off by the token budget during reasoning', async () => {
    use({ kind: 'length' });
    const error = await ragossRejection(answerQuestion(QUESTION, HITS, endpoint, { model: 'openai/gpt-oss-20b', maxTokens: 64 }));
    expect(error.message).toMatch(/whole token budget on reasoning/);
    expect(error.message).toContain('finish_reason: length');
    expect(error.hint).toMatch(/--max-tokens/);
    expect(error.hint).toMatch(/--reasoning-effort/);
    expect(chatRequests(server)[0]?.body).toMatchObject({ max_tokens: 64 });
  });

  it('rejects an empty answer that was not cut off', async () => {
    use({ kind: 'ok', answer: '' });
    const error = await ragossRejection(answerQuestion(QUESTION, HITS, endpoint, { model: 'openai/gpt-oss-20b' }));
    expect(error.message).toBe('the model returned an empty answer (finish_reason: stop)');
  });
});
