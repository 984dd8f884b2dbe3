// The two 768-dim models side by side (BENCH_ONLY=models, run by bench/run.mjs): all-mpnet-base-v2
// (the default) and nomic-embed-text-v1.5 (scripts/build-nomic-onnx.sh), both fp32 ONNX through
// transformers.js. Each repetition ingests the same chunks with each model in turn (--full: every
// chunk embedded), so a burst of load elsewhere hits both alike. Reports embedding seconds,
// chunks/s, peak RSS and the model file's size; no target: the choice of default is made on
// retrieval quality (docs/embedding-and-rerank.md), this says what the other model costs.
//
//   BENCH_MODELS_GLOB  which files of the whole docs to embed (default: the FAQ and two small sections, 177 chunks)
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { median } from './stats.mjs';

const MODELS = ['Xenova/all-mpnet-base-v2', 'nomic-ai/nomic-embed-text-v1.5'];
const GLOB = process.env.BENCH_MODELS_GLOB ?? 'en/{faq,about,getstarted}/*.md';
const REPS = Math.max(1, Number(process.env.BENCH_REPS ?? 3));

export async function benchModels({ ragoss, childEnv, log }, { fullZip, modelDir, milvusUri }) {
  for (const model of MODELS) {
    if (!existsSync(join(modelDir, model, 'onnx', 'model.onnx'))) throw new Error(`${model} not found under ${modelDir} (scripts/build-mpnet-onnx.sh, scripts/build-nomic-onnx.sh build them)`);
  }
  const runs = Object.fromEntries(MODELS.map((model) => [model, []]));
  for (let rep = 0; rep < REPS; rep++) {
    for (const model of MODELS) {
      log(`models: ${model} ingest ${rep + 1}/${REPS}`);
      const env = childEnv({ MILVUS_URI: milvusUri, RAGOSS_COLLECTION: `bench_models_${MODELS.indexOf(model)}` });
      const result = await ragoss(['ingest', '--source', fullZip, '--glob', GLOB, '--chunker', 'markdown', '--embedding-model', model, '--json', '--quiet', '--replace', '--full'], env);
      if (result.code !== 0) throw new Error(`ragoss ingest with ${model} failed:\n${result.stderr.slice(-2000)}`);
      const report = JSON.parse(result.stdout.trim().split('\n').pop());
      runs[model].push({ chunks: report.embeddedChunks, embedSeconds: report.embedSeconds, wallSeconds: result.seconds, peakRssBytes: result.peakRssBytes });
    }
  }
  return {
    glob: GLOB,
    models: MODELS.map((model) => ({
      model,
      modelBytes: statSync(join(modelDir, model, 'onnx', 'model.onnx')).size,
      chunks: runs[model][0].chunks,
      embedSeconds: median(runs[model].map((run) => run.embedSeconds)),
      peakRssBytes: median(runs[model].map((run) => run.peakRssBytes)),
      runs: runs[model],
    })),
  };
}

export function modelsRows(r, { section, row, fmtMiB }) {
  section(`Embedding models: the same whole-docs files (${r.glob}), markdown chunker, fp32, median of ${r.models[0].runs.length} ingests each, alternating`);
  for (const m of r.models) {
    row(`${m.model}: embedding`, `${m.embedSeconds.toFixed(2)} s for ${m.chunks} chunks, ${(m.chunks / m.embedSeconds).toFixed(2)} chunks/s`);
    row(`${m.model}: peak RSS, model file`, `${fmtMiB(m.peakRssBytes)}, ${fmtMiB(m.modelBytes)}`);
  }
  const [base, other] = r.models;
  row(`${other.model} / ${base.model} embedding time`, `${(other.embedSeconds / base.embedSeconds).toFixed(2)}x`);
  return {};
}
