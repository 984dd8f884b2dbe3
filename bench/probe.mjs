#!/usr/bin/env node
// In-process probes for bench/run.mjs: each runs in a fresh `node` so import and load costs are
// counted the way the CLI pays them. Imports ragoss's built modules from dist/ (run `npm run build`).
// Usage: node bench/probe.mjs MODE '{json args}'   -> prints one JSON object on stdout.
//   ingest-split   unzip/split, Milvus connect, model load, embedding and insert of one corpus
//   search-split   the pieces of `ragoss search`: connect+describe, model load, query embedding, search
//   embed          TransformersEmbedder.embedDocuments vs raw onnxruntime-node on the same token batches

const started = performance.now();
const [mode, rawArgs] = process.argv.slice(2);
const args = JSON.parse(rawArgs ?? '{}');
const since = (t) => (performance.now() - t) / 1000;
const MODEL_NAME = args.modelName ?? 'Xenova/all-mpnet-base-v2';

async function timed(into, key, work) {
  const t = performance.now();
  const value = await work();
  into[key] = since(t);
  return value;
}

function embedderOptions(silentProgress) {
  return {
    modelName: MODEL_NAME,
    modelDir: args.modelDir,
    cacheDir: args.cacheDir ?? `${args.home}/models`,
    offline: true,
    dtype: args.dtype ?? 'fp32',
    batchSize: args.batchSize ?? 16,
    progress: silentProgress,
  };
}

async function ingestSplit() {
  const s = {};
  const [{ loadCorpus }, { chunkDocuments, ingestChunks }, { openStore }, { silentProgress }, { parseMilvusUri }] = await timed(s, 'importRagoss', () =>
    Promise.all([import('../dist/corpus/source.js'), import('../dist/pipeline/ingest.js'), import('../dist/store/open.js'), import('../dist/progress.js'), import('../dist/store/location.js')]),
  );
  const documents = await timed(s, 'unzipRead', () => loadCorpus({ source: args.zip, glob: args.glob, home: args.home, progress: silentProgress }));
  const chunks = await timed(s, 'split', async () => chunkDocuments(documents));
  const store = await timed(s, 'milvusConnect', () =>
    openStore({ location: parseMilvusUri(args.uri, args.home, undefined), home: args.home, progress: silentProgress, timeoutMs: 60_000 }),
  );
  try {
    await timed(s, 'importTransformers', () => import('@huggingface/transformers'));
    const { TransformersEmbedder } = await import('../dist/embedder/transformers.js');
    const embedder = await timed(s, 'modelSession', () => TransformersEmbedder.load(embedderOptions(silentProgress)));
    s.modelLoad = s.importTransformers + s.modelSession;
    if (args.embed !== false) {
      const stats = await ingestChunks(chunks, { collection: args.collection, embedder, store, progress: silentProgress, replace: true, chunker: 'seed', batchSize: 256 });
      s.embed = stats.embedSeconds;
      s.insert = stats.insertSeconds;
    }
    await embedder.close();
  } finally {
    await store.close();
  }
  s.total = since(started);
  return { files: documents.length, chunks: chunks.length, seconds: s };
}

async function searchSplit() {
  const s = {};
  const [{ openStore }, { silentProgress }, { parseMilvusUri }] = await timed(s, 'importRagoss', () =>
    Promise.all([import('../dist/store/open.js'), import('../dist/progress.js'), import('../dist/store/location.js')]),
  );
  const store = await timed(s, 'milvusConnect', () =>
    openStore({ location: parseMilvusUri(args.uri, args.home, undefined), home: args.home, progress: silentProgress, timeoutMs: 60_000 }),
  );
  let hits;
  try {
    const info = await timed(s, 'describeCollection', () => store.describe(args.collection));
    if (info === undefined) throw new Error(`collection ${args.collection} not found`);
    await timed(s, 'importTransformers', () => import('@huggingface/transformers'));
    const { TransformersEmbedder } = await import('../dist/embedder/transformers.js');
    const embedder = await timed(s, 'modelSession', () => TransformersEmbedder.load({ ...embedderOptions(silentProgress), modelName: info.embeddingModel }));
    const vector = await timed(s, 'embedQuery', () => embedder.embedQuery(args.question));
    hits = await timed(s, 'search', () => store.search(args.collection, { text: args.question, vector }, 3, 'dense'));
    await timed(s, 'closeModel', () => embedder.close());
  } finally {
    await timed(s, 'closeStore', () => store.close());
  }
  s.modelLoad = s.importTransformers + s.modelSession;
  s.total = since(started);
  return { hits: hits.length, seconds: s };
}

/** Mean pooling + L2 normalization over an ORT output, as sentence-transformers does it. */
function meanPoolNormalize(hidden, mask) {
  const [batch, length, width] = hidden.dims;
  const out = [];
  for (let b = 0; b < batch; b++) {
    const vector = new Float32Array(width);
    let count = 0;
    for (let t = 0; t < length; t++) {
      if (mask[b * length + t] === 0n) continue;
      count++;
      const offset = (b * length + t) * width;
      for (let k = 0; k < width; k++) vector[k] += hidden.data[offset + k];
    }
    let norm = 0;
    for (let k = 0; k < width; k++) {
      vector[k] /= Math.max(count, 1);
      norm += vector[k] * vector[k];
    }
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < width; k++) vector[k] /= norm;
    out.push(vector);
  }
  return out;
}

async function embedThroughput() {
  const ort = await import('onnxruntime-node');
  const [{ loadCorpus }, { chunkDocuments }, { silentProgress }, { TransformersEmbedder }] = await Promise.all([
    import('../dist/corpus/source.js'),
    import('../dist/pipeline/ingest.js'),
    import('../dist/progress.js'),
    import('../dist/embedder/transformers.js'),
  ]);
  // Every ORT session.run in this process goes through here: transformers.js and the raw session
  // share this onnxruntime-node. While `recording` is set the ragoss embedder's feeds are kept, so
  // the raw run replays exactly its batches (composition, order, padding).
  const proto = ort.InferenceSession.prototype;
  const originalRun = proto.run;
  let recording;
  let ortSeconds = 0;
  proto.run = async function run(feeds, ...rest) {
    if (recording !== undefined) recording.push(feeds);
    const t = performance.now();
    try {
      return await originalRun.call(this, feeds, ...rest);
    } finally {
      ortSeconds += since(t);
    }
  };

  const sets = [];
  for (const set of args.sets) {
    const documents = await loadCorpus({ source: set.zip, glob: set.glob, home: args.home, progress: silentProgress });
    let texts = chunkDocuments(documents).map((chunk) => chunk.text);
    if (set.every !== undefined) texts = texts.filter((_, index) => index % set.every === (set.offset ?? 0));
    sets.push({ name: set.name, texts });
  }
  const loadStarted = performance.now();
  const embedder = await TransformersEmbedder.load(embedderOptions(silentProgress));
  const ragossLoad = since(loadStarted);
  const modelPath = `${args.modelDir}/${MODEL_NAME}/onnx/model.onnx`;
  const rawStarted = performance.now();
  const raw = await ort.InferenceSession.create(modelPath);
  const rawLoad = since(rawStarted);
  await embedder.embedQuery('warm up');
  await raw.run({ input_ids: new ort.Tensor('int64', new BigInt64Array([0n, 2n]), [1, 2]), attention_mask: new ort.Tensor('int64', new BigInt64Array([1n, 1n]), [1, 2]) });

  // Embeds like `ragoss ingest` calls the embedder: 256 chunks per embedDocuments call.
  const ragossPass = async (texts) => {
    const vectors = [];
    ortSeconds = 0;
    const t = performance.now();
    for (let start = 0; start < texts.length; start += 256) vectors.push(...(await embedder.embedDocuments(texts.slice(start, start + 256))));
    return { seconds: since(t), ortSeconds, vectors };
  };
  const rawPass = async (feeds) => {
    const t = performance.now();
    let runSeconds = 0;
    const vectors = [];
    for (const feed of feeds) {
      const r = performance.now();
      const output = await originalRun.call(raw, { input_ids: feed.input_ids, attention_mask: feed.attention_mask });
      runSeconds += since(r);
      vectors.push(...meanPoolNormalize(output[raw.outputNames[0]], feed.attention_mask.data));
    }
    return { seconds: since(t), runSeconds, vectors };
  };

  const results = [];
  for (const { name, texts } of sets) {
    recording = [];
    const first = await ragossPass(texts);
    const feeds = recording;
    recording = undefined;
    let realTokens = 0;
    let paddedTokens = 0;
    for (const feed of feeds) {
      paddedTokens += feed.attention_mask.data.length;
      for (const bit of feed.attention_mask.data) realTokens += Number(bit);
    }
    const ragossRuns = [first.seconds];
    const ragossOrt = [first.ortSeconds];
    const rawRuns = [];
    const rawRunOnly = [];
    let rawVectors;
    // Interleaved, so a burst of load from elsewhere on the machine hits both sides alike.
    for (let rep = 0; rep < (args.reps ?? 3); rep++) {
      const r = await rawPass(feeds);
      rawRuns.push(r.seconds);
      rawRunOnly.push(r.runSeconds);
      rawVectors ??= r.vectors;
      if (rep + 1 < (args.reps ?? 3)) {
        const g = await ragossPass(texts);
        ragossRuns.push(g.seconds);
        ragossOrt.push(g.ortSeconds);
      }
    }
    // Same vectors on both sides (the raw ones come out in batch order, so compare as sets of norms of sums).
    const sum = (vectors) => vectors.reduce((acc, v) => acc.map((x, k) => x + v[k]), new Float32Array(vectors[0].length));
    const a = sum(first.vectors);
    const b = sum(rawVectors);
    let dot = 0, na = 0, nb = 0;
    for (let k = 0; k < a.length; k++) { dot += a[k] * b[k]; na += a[k] * a[k]; nb += b[k] * b[k]; }
    results.push({
      name,
      chunks: texts.length,
      batches: feeds.length,
      realTokens,
      paddedTokens,
      ragossSeconds: ragossRuns,
      ragossOrtSeconds: ragossOrt,
      rawSeconds: rawRuns,
      rawRunSeconds: rawRunOnly,
      vectorAgreement: dot / Math.sqrt(na * nb),
    });
  }
  await embedder.close();
  return { ragossLoadSeconds: ragossLoad, rawLoadSeconds: rawLoad, sets: results };
}

const modes = { 'ingest-split': ingestSplit, 'search-split': searchSplit, embed: embedThroughput };
if (!(mode in modes)) {
  console.error(`usage: probe.mjs ${Object.keys(modes).join('|')} '{json}'`);
  process.exit(2);
}
const result = await modes[mode]();
process.stdout.write(`${JSON.stringify(result)}\n`);
setImmediate(() => process.exit(0));
