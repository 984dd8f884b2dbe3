import type { Command } from 'commander';
import { DEFAULT_GLOB, DEFAULT_SOURCE_URL, describeLocation, pick, resolveCommonConfig, type CommonFlags } from '../config.js';
import { displayUrl } from '../corpus/download.js';
import { isUrl, loadCorpus } from '../corpus/source.js';
import { chunkDocuments, ingestChunks } from '../pipeline/ingest.js';
import { progressFor } from '../progress.js';
import type { Runtime } from '../cli/runtime.js';
import { ingestModelName, loadEmbedder, withStore } from '../cli/session.js';

interface IngestFlags extends CommonFlags {
  source?: string;
  glob?: string;
  refresh?: boolean;
  dryRun?: boolean;
  replace?: boolean;
}

/** Rows inserted per Milvus call; also how many chunks are held in memory at once. */
const INSERT_BATCH = 256;

export function registerIngest(program: Command, run: (flags: CommonFlags, body: (runtime: Runtime) => Promise<void>) => Promise<void>): void {
  program
    .command('ingest')
    .description('download the Milvus docs, split, embed and store them in Milvus')
    .option('--source <url|zip|dir>', 'docs to ingest: a URL, a local .zip or a directory (env RAGOSS_SOURCE)')
    .option('--glob <pattern>', `files to read inside the source (env RAGOSS_GLOB; default "${DEFAULT_GLOB}")`)
    .option('--refresh', 'download again even if the file is cached')
    .option('--dry-run', 'report files and chunk counts without loading a model or writing to Milvus')
    .option('--replace', 'rebuild a collection that was made with another embedding model')
    .action(async (flags: IngestFlags) => {
      await run(flags, (runtime) => ingestCommand(flags, runtime));
    });
}

async function ingestCommand(flags: IngestFlags, { env, signal, stdout, stderr }: Runtime): Promise<void> {
  const started = performance.now();
  const config = resolveCommonConfig(flags, env);
  const source = pick(flags.source, env, 'RAGOSS_SOURCE') ?? DEFAULT_SOURCE_URL;
  const glob = pick(flags.glob, env, 'RAGOSS_GLOB') ?? DEFAULT_GLOB;
  const progress = progressFor(stderr, { quiet: config.quiet });
  const documents = await loadCorpus({ source, glob, home: config.home, progress, refresh: flags.refresh, signal });
  const chunks = chunkDocuments(documents);
  const shownSource = isUrl(source) ? displayUrl(source) : source;
  if (flags.dryRun) {
    const files = documents.map((document) => ({ path: document.path, chunks: chunks.filter((chunk) => chunk.source === document.path).length }));
    if (config.json) {
      stdout.write(`${JSON.stringify({ dryRun: true, source: shownSource, glob, files, totalFiles: files.length, totalChunks: chunks.length })}\n`);
    } else {
      for (const file of files) stdout.write(`${String(file.chunks).padStart(6)}  ${file.path}\n`);
      stdout.write(`${String(chunks.length).padStart(6)}  chunks in ${files.length} files (dry run: nothing written)\n`);
    }
    return;
  }
  const modelName = ingestModelName(config);
  // The model loads while Milvus connects: each takes about a second.
  const loading = loadEmbedder(config, modelName, progress);
  loading.catch(() => undefined);
  try {
    await withStore(config, progress, signal, async (store) => {
      const embedder = await loading;
      const stats = await ingestChunks(chunks, { collection: config.collection, embedder, store, progress, replace: flags.replace === true, batchSize: INSERT_BATCH, signal });
      const seconds = (performance.now() - started) / 1000;
      const summary = {
        source: shownSource,
        files: documents.length,
        chunks: stats.chunks,
        collection: config.collection,
        milvus: describeLocation(config.location),
        embeddingModel: embedder.modelName,
        dimension: embedder.dimension,
        seconds: Number(seconds.toFixed(2)),
        embedSeconds: Number(stats.embedSeconds.toFixed(2)),
        insertSeconds: Number(stats.insertSeconds.toFixed(2)),
      };
      if (config.json) {
        stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        stdout.write(
          [
            `ingested ${summary.chunks} chunks from ${summary.files} files into ${summary.collection}`,
            `  model       ${summary.embeddingModel} (${summary.dimension} dims)`,
            `  milvus      ${summary.milvus}`,
            `  time        ${summary.seconds}s (embedding ${summary.embedSeconds}s, storing ${summary.insertSeconds}s)`,
            '',
          ].join('\n'),
        );
      }
    });
  } finally {
    await (await loading.catch(() => undefined))?.close();
  }
}
