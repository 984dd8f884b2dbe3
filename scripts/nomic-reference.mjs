// llama.cpp's own vectors for nomic-embed-text-v1.5's GGUF, the reference that scripts/nomic_onnx.py's
// graph is checked against (scripts/nomic-reference.json). Run once by hand, where node-llama-cpp is
// installed (it is not a dependency of ragoss: 730 MB of prebuilt binaries):
//   npm i -E node-llama-cpp@3.21.1 --prefix /tmp/nlc
//   NODE_PATH=/tmp/nlc/node_modules node scripts/nomic-reference.mjs nomic-embed-text-v1.5.f16.gguf
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const gguf = process.argv[2];
if (!gguf) throw new Error('usage: node scripts/nomic-reference.mjs MODEL.gguf');
const require = createRequire(join(process.env.NODE_PATH ?? process.cwd(), 'x.js'));
const { getLlama } = await import(require.resolve('node-llama-cpp'));

// Prefixed as ragoss embeds (search_query: / search_document: ), short and long, with words the
// WordPiece splits, punctuation, digits, an accent and a CJK character.
const TEXTS = [
  'search_query: How is data stored in milvus?',
  'search_document: Milvus persists sealed segments and their indexes to object storage such as MinIO or S3. '.repeat(10),
  'search_document: hi',
  'search_query: Set queryNode.cache.warmup to "sync" — vectors load when a collection loads (v2.4.6, 100%).',
  'search_document: Café 数据 pymilvus==2.4.4; `client.search(collection_name="demo", data=[[0.1, 0.2]], limit=3)`',
];

const llama = await getLlama({ gpu: false });
const model = await llama.loadModel({ modelPath: gguf });
const context = await model.createEmbeddingContext({ contextSize: 2048, batchSize: 2048 });
const vectors = [];
const tokenIds = [];
for (const text of TEXTS) {
  tokenIds.push([...model.tokenize(text, true)].map(Number));
  vectors.push([...(await context.getEmbeddingFor(text)).vector].map((value) => Number(value.toFixed(7))));
}
const out = join(dirname(fileURLToPath(import.meta.url)), 'nomic-reference.json');
const made_by = `llama.cpp through node-llama-cpp ${JSON.parse(readFileSync(join(dirname(require.resolve('node-llama-cpp')), '..', 'package.json'), 'utf8')).version}, mean pooling, \`node scripts/nomic-reference.mjs\``;
writeFileSync(out, `${JSON.stringify({ made_by, texts: TEXTS, token_ids: tokenIds, vectors })}\n`);
console.log('wrote', out, vectors.map((vector) => vector.length));
await context.dispose();
await model.dispose();
