import type { Command } from 'commander';
import { resolve } from 'node:path';
import { DEFAULT_GLOB, DEFAULT_SOURCE_URL, embeddingTarget, pick, resolveChunker, resolveCommonConfig, type CommonFlags } from '../config.js';
import { DEFAULT_CHUNKER } from '../corpus/chunk.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import { formatIngest, formatJobStarted } from '../cli/format.js';
import { RagossError, UsageError } from '../errors.js';
import type { CommandRunner } from '../cli/runtime.js';

interface IngestFlags extends CommonFlags {
  source?: string;
  glob?: string;
  chunker?: string;
  refresh?: boolean;
  dryRun?: boolean;
  replace?: boolean;
  full?: boolean;
  detach?: boolean;
}

export function registerIngest(program: Command, run: CommandRunner): void {
  program
    .command('ingest')
    .description('download the Milvus docs, split, embed and store them in Milvus')
    .option('--source <url|zip|dir>', 'docs to ingest: a URL, a local .zip or a directory (env RAGOSS_SOURCE)')
    .option('--glob <pattern>', `files to read inside the source (env RAGOSS_GLOB; default "${DEFAULT_GLOB}")`)
    .option('--chunker <name>', `seed (the tutorial's split("# ")) or markdown (sections with their heading path; for the whole docs) (env RAGOSS_CHUNKER; default ${DEFAULT_CHUNKER})`)
    .option('--refresh', 'download again even if the file is cached')
    .option('--dry-run', 'report files and chunk counts without writing to Milvus (the markdown chunker loads the model\'s tokenizer)')
    .option('--replace', 'rebuild a collection that was made with another embedding model')
    .option('--full', 'embed every chunk again (by default unchanged chunks keep their vectors from the current collection)')
    .option('--detach', 'hand the ingest to the ragoss service and return at once; `ragoss doctor` shows its progress')
    .action(async (flags: IngestFlags) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        const source = pick(flags.source, env, 'RAGOSS_SOURCE') ?? DEFAULT_SOURCE_URL;
        const request = {
          // The service does not share our working directory: local paths travel absolute.
          source: /^https?:\/\//i.test(source) ? source : resolve(source),
          glob: pick(flags.glob, env, 'RAGOSS_GLOB') ?? DEFAULT_GLOB,
          chunker: resolveChunker(flags.chunker, env),
          collection: config.collection,
          ...embeddingTarget(config),
          refresh: flags.refresh === true,
          replace: flags.replace === true,
          full: flags.full === true,
          dryRun: flags.dryRun === true,
        };
        if (flags.detach === true) {
          if (config.daemon === 'off') throw new UsageError('--detach hands the ingest to the ragoss service, which --no-daemon / RAGOSS_DAEMON=0 turns off', 'drop one of them');
          const progress = progressFor(stderr, { quiet: config.quiet });
          // Asking to detach is asking for the service: start one even where commands would not (CI, a server URI).
          const job = await withEngine({ ...config, daemon: 'use-or-start' }, runtime, progress, (engine) => {
            if (engine.startIngest === undefined) throw new RagossError('the ragoss service could not be started, so the ingest cannot be detached', 'run `ragoss doctor`, or ingest without --detach');
            return engine.startIngest(request, { progress, signal });
          });
          stdout.write(config.json ? `${JSON.stringify(job)}\n` : formatJobStarted(job));
          return;
        }
        // Ingest is long: its progress shows even with --json (stdout still gets one object).
        const progress = progressFor(stderr, { quiet: config.quiet, heartbeat: true });
        const result = await withEngine(config, runtime, progress, (engine) => engine.ingest(request, { progress, signal }));
        stdout.write(config.json ? `${JSON.stringify(result)}\n` : formatIngest(result));
      });
    });
}
