import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { headingAnchor, headingsOf } from '../../src/corpus/outline.js';
// In-process through the CLI's entry (see runInProcess); what needs a process of its own spawns it.
import { baseEnv, runInProcess, tempHome } from '../helpers/cli.js';
import { cleanErrorLine } from '../helpers/errors.js';
import { chatRequests, messagesOf, startChatServer, type ChatServer } from '../helpers/chat-server.js';
import { faqDir, faqZip, tinyModel } from '../helpers/paths.js';
import { uniqueCollection } from '../helpers/names.js';
import { backendIndependent } from '../helpers/backend.js';

const QUESTION = 'How is data stored in milvus?';
const PRODUCT_FAQ = readFileSync(join(faqDir, 'en', 'faq', 'product_faq.md'), 'utf8');

interface JsonHit {
  text: string;
  source: string;
  chunkIndex: number;
  heading?: string;
  line?: number;
  url?: string;
}

interface Grounded {
  grounded: boolean;
  similarity: number | null;
  threshold: number | null;
  thresholdSource: string;
}


describe(`answers a reader can check (${inject('milvusBackend')})`, () => {
  const milvusUri = inject('milvusUri');
  const zipCollection = uniqueCollection('check_zip');
  const dirCollection = uniqueCollection('check_dir');
  let chat: ChatServer;
  let env: Record<string, string>;
  const on = (collection: string) => ['--milvus-uri', milvusUri, '--collection', collection];

  beforeAll(async () => {
    chat = await startChatServer();
    env = baseEnv({ RAGOSS_HOME: tempHome(), RAGOSS_EMBEDDING_MODEL: tinyModel, RAGOSS_BASE_URL: chat.baseUrl });
    const [zip, dir] = await Promise.all([runInProcess(['ingest', '--source', faqZip, ...on(zipCollection)], env), runInProcess(['ingest', '--source', faqDir, ...on(dirCollection)], env)]);
    expect(zip.code, zip.stderr).toBe(0);
    expect(dir.code, dir.stderr).toBe(0);
  });
  afterAll(async () => {
    await chat.close();
  });

  it('links every hit of the release to its milvus.io page and the anchor of a heading in that file', async () => {
    const result = await runInProcess(['search', QUESTION, '--json', '--top-k', '10', ...on(zipCollection)], env);
    expect(result.code, result.stderr).toBe(0);
    const { hits } = JSON.parse(result.stdout) as { hits: JsonHit[] };
    expect(hits).toHaveLength(10);
    for (const hit of hits) {
      const file = readFileSync(join(faqDir, hit.source), 'utf8');
      const name = hit.source.split('/').at(-1) as string;
      expect(hit.url, JSON.stringify(hit)).toMatch(new RegExp(`^https://milvus\\.io/docs/v2\\.4\\.x/${name.replace('.', '\\.')}(#|$)`));
      const anchor = new URL(hit.url as string).hash.slice(1);
      if (anchor !== '') expect(headingsOf(file).map((heading) => headingAnchor(heading.text))).toContain(anchor);
      expect(file.split('\n')[(hit.line as number) - 1]).toContain(hit.text.split('\n')[0]?.trim().slice(0, 20) ?? '');
    }
    const text = await runInProcess(['search', QUESTION, ...on(zipCollection)], env);
    // Piped, not a terminal: plain URLs, no escape codes.
    expect(text.stdout).toContain(`   ${hits[0]?.url}\n`);
    expect(text.stdout).not.toContain('\u001b]8;;');
    const forced = await runInProcess(['search', QUESTION, ...on(zipCollection)], { ...env, FORCE_HYPERLINK: '1' });
    expect(forced.stdout).toContain(`\u001b]8;;${hits[0]?.url}\u001b\\${hits[0]?.url}\u001b]8;;\u001b\\`);
  });

  it('links a local folder\'s hits to the file, printed as path:line', async () => {
    const result = await runInProcess(['search', QUESTION, '--json', ...on(dirCollection)], env);
    expect(result.code, result.stderr).toBe(0);
    const [hit] = (JSON.parse(result.stdout) as { hits: JsonHit[] }).hits;
    expect(hit?.url).toBe(`file://${join(faqDir, hit?.source ?? '')}`);
    const text = await runInProcess(['search', QUESTION, ...on(dirCollection)], env);
    expect(text.stdout).toContain(`   ${join(faqDir, hit?.source ?? '')}:${hit?.line}\n`);
  });

  it('get returns a page, a section and a chunk exactly as the file has them, by source, file name or link', async () => {
    const page = await runInProcess(['get', 'en/faq/product_faq.md', ...on(zipCollection)], env);
    expect(page.code, page.stderr).toBe(0);
    expect(page.stdout).toBe(PRODUCT_FAQ);
    const heading = 'Where does Milvus store data?';
    const start = PRODUCT_FAQ.indexOf('####  Where does Milvus store data?');
    const end = PRODUCT_FAQ.indexOf('\n#', start + 10) + 1;
    const section = await runInProcess(['get', 'product_faq.md', '--heading', heading, ...on(zipCollection)], env);
    expect(section.stdout).toBe(PRODUCT_FAQ.slice(start, end));
    const link = await runInProcess(['get', `https://milvus.io/docs/v2.4.x/product_faq.md#${headingAnchor(heading)}`, '--json', ...on(zipCollection)], env);
    const fromLink = JSON.parse(link.stdout) as { source: string; scope: string; heading: string; line: number; url: string; text: string };
    expect(fromLink).toMatchObject({ source: 'en/faq/product_faq.md', scope: 'section', heading, text: PRODUCT_FAQ.slice(start, end) });
    expect(fromLink.line).toBe(PRODUCT_FAQ.slice(0, start).split('\n').length);
    expect(fromLink.url).toBe('https://milvus.io/docs/v2.4.x/product_faq.md#Where-does-Milvus-store-data');
    // Seed chunk 5 is the text after its "# ": its bytes are that separator and the chunk.
    const search = JSON.parse((await runInProcess(['search', QUESTION, '--json', ...on(zipCollection)], env)).stdout) as { hits: JsonHit[] };
    const top = search.hits[0] as JsonHit;
    const chunk = await runInProcess(['get', top.source, '--chunk', String(top.chunkIndex), ...on(zipCollection)], env);
    expect(chunk.stdout).toBe(`# ${top.text}`);
  });

  it('get refuses an unknown page or heading with one line and exit 2', async () => {
    expect(cleanErrorLine(await runInProcess(['get', 'nope.md', ...on(zipCollection)], env), 2)).toMatch(/no page "nope\.md" in the collection — pass a source/);
    expect(cleanErrorLine(await runInProcess(['get', 'product_faq.md', '--heading', 'Sourdough', ...on(zipCollection)], env), 2)).toMatch(/en\/faq\/product_faq\.md has no heading "Sourdough" — its headings include/);
    expect(cleanErrorLine(await runInProcess(['get', 'product_faq.md', '--heading', 'x', '--chunk', '1', ...on(zipCollection)], env), 2)).toMatch(/pass --heading or --chunk, not both/);
  });

  it('search reports grounding in --json, and where its line came from', async () => {
    // The suite's RAGOSS_MIN_SCORE=-1 (see baseEnv): the synthetic model's own line would flag at random.
    const open = JSON.parse((await runInProcess(['search', QUESTION, '--json', ...on(zipCollection)], env)).stdout) as Grounded & { hits: Array<{ score: number }> };
    expect(open).toMatchObject({ grounded: true, threshold: -1, thresholdSource: 'min-score' });
    // Dense mode: the best similarity is the first hit's score.
    expect(open.similarity).toBe(open.hits[0]?.score);
    const strict = await runInProcess(['search', QUESTION, '--json', '--min-score', '1', '--mode', 'bm25', ...on(zipCollection)], env);
    const flagged = JSON.parse(strict.stdout) as Grounded & { mode: string };
    // In any mode the check reads the dense similarity (BM25 scores are not similarities).
    expect(flagged).toMatchObject({ grounded: false, threshold: 1, similarity: open.similarity });
    expect(strict.code).toBe(0);
    const text = await runInProcess(['search', QUESTION, '--min-score', '1', ...on(zipCollection)], env);
    expect(text.stderr).toMatch(/^note: the docs do not seem to cover this question \(best similarity 0\.\d{3}, below 1\.000\)$/m);
    expect(cleanErrorLine(await runInProcess(['search', QUESTION, '--min-score', 'high', ...on(zipCollection)], env), 2)).toMatch(/--min-score must be a similarity from -1 to 1/);
  });

  it('ask does not call the model when the docs do not cover the question: one line, exit 4; --force asks anyway', async () => {
    chat.requests.length = 0;
    const refused = await runInProcess(['ask', QUESTION, '--min-score', '1', ...on(zipCollection)], env);
    expect(refused.code, refused.stderr).toBe(4);
    expect(refused.stdout).toBe('');
    const lines = refused.stderr.split('\n').filter((line) => line !== '');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^ragoss: the docs do not seem to cover this question \(best similarity 0\.\d{3}, below 1\.000\); nearest: https:\/\/milvus\.io\/docs\/v2\.4\.x\/\S+(, https:\S+)? — rephrase it .*--force/);
    const json = await runInProcess(['ask', QUESTION, '--min-score', '1', '--json', ...on(zipCollection)], env);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toMatchObject({ answered: false, answer: '', grounded: false, threshold: 1 });
    expect(chatRequests(chat)).toHaveLength(0);
    const forced = await runInProcess(['ask', QUESTION, '--min-score', '1', '--force', '--json', ...on(zipCollection)], env);
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout)).toMatchObject({ answered: true, grounded: false });
    expect(chatRequests(chat)).toHaveLength(1);
  });

  backendIndependent('ask --cite numbers the passages, asks for [n], and lists the ones the answer cites', async () => {
    chat.setScenario({ kind: 'ok', answer: 'Object storage [2], metadata in etcd [1][2]; see also [9].' });
    chat.requests.length = 0;
    const result = await runInProcess(['ask', QUESTION, '--cite', '--json', ...on(zipCollection)], env);
    chat.setScenario({ kind: 'ok' });
    expect(result.code, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout) as { cited: number[]; hits: Array<{ text: string }> };
    expect(body.cited).toEqual([2, 1]);
    const user = messagesOf(chatRequests(chat)[0]!).find((message) => message.role === 'user')?.content ?? '';
    expect(user).toContain(`[1] ${body.hits[0]?.text.trim()}`);
    expect(user).toContain(`[3] ${body.hits[2]?.text.trim()}`);
    expect(user).toMatch(/Cite the passages you use as \[n\]/);
    const text = await runInProcess(['ask', QUESTION, '--cite', ...on(zipCollection)], env);
    expect(text.stdout).toMatch(/\nSources:\n {2}\[1\] https:\/\/milvus\.io\/docs\/v2\.4\.x\/\S+ \(en\/faq\/\S+ #\d+, score \d\.\d{4}\)\n/);
  });
});
