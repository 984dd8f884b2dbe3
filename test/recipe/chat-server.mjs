#!/usr/bin/env node
// A local OpenAI-compatible chat endpoint for the CI recipe (run.sh): it streams a gpt-oss style
// answer (reasoning deltas, then content) on 127.0.0.1, so `ragoss ask` runs its real HTTP path
// in CI, where no model endpoint is reachable. Prints its base URL on stdout, then serves until killed.
import { createServer } from 'node:http';

const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'recipe', object: 'chat.completion.chunk', model: 'openai/gpt-oss-20b', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;

const server = createServer((request, response) => {
  let body = '';
  request.on('data', (part) => (body += part));
  request.on('end', () => {
    if (request.method !== 'POST' || !request.url?.endsWith('/chat/completions')) {
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
      return;
    }
    // The answer quotes the start of the context it was sent, so the recipe can tell it was used.
    const prompt = JSON.parse(body).messages.at(-1).content;
    const context = /<context>\n([\s\S]*?)\n<\/context>/.exec(prompt)?.[1] ?? '';
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(chunk({ role: 'assistant', reasoning: 'Reading the passages. ' }));
    response.write(chunk({ content: 'From the docs: ' }));
    response.write(chunk({ content: context.trim().split('\n')[0].slice(0, 120) }));
    response.write(chunk({}, 'stop'));
    response.end('data: [DONE]\n\n');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`http://127.0.0.1:${server.address().port}/v1\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
