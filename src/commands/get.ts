import type { Command } from 'commander';
import { resolveCommonConfig, resolveLinkTemplate, type CommonFlags } from '../config.js';
import { UsageError } from '../errors.js';
import { progressFor } from '../progress.js';
import { withEngine } from '../cli/engine-for.js';
import type { CommandRunner } from '../cli/runtime.js';

interface GetFlags extends CommonFlags {
  heading?: string;
  chunk?: string;
  linkTemplate?: string;
}

function parseChunk(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const chunk = Number(value);
  if (!Number.isInteger(chunk) || chunk < 0 || value.trim() === '') throw new UsageError(`--chunk must be a chunk index (0 or more), got "${value}"`, 'search shows them after the source, e.g. en/faq/product_faq.md #5');
  return chunk;
}

export function registerGet(program: Command, run: CommandRunner): void {
  program
    .command('get')
    .description('print a page of the docs, one section or one chunk, exactly as the file has it (put back together from the collection)')
    .argument('<source>', 'a source as search prints it (en/faq/product_faq.md), its file name, or a link ragoss printed')
    .option('--heading <text>', 'only the section under this heading (its text or anchor), subsections included')
    .option('--chunk <n>', 'only the bytes of chunk N of the page')
    .option('--link-template <url>', 'link the result with this URL, filling {path} {name} {anchor} {line}, or none (env RAGOSS_LINK_TEMPLATE)')
    .action(async (source: string, flags: GetFlags) => {
      await run(flags, async (runtime) => {
        const { env, signal, stdout, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        if (flags.heading !== undefined && flags.chunk !== undefined) throw new UsageError('pass --heading or --chunk, not both');
        if (source.trim() === '') throw new UsageError('the source is empty', 'pass one as search prints it, e.g. ragoss get en/faq/product_faq.md');
        const chunk = parseChunk(flags.chunk);
        const linkTemplate = resolveLinkTemplate(flags.linkTemplate, env);
        const request = {
          collection: config.collection,
          source: source.trim(),
          ...(flags.heading === undefined ? {} : { heading: flags.heading }),
          ...(chunk === undefined ? {} : { chunk }),
          ...(linkTemplate === undefined ? {} : { linkTemplate }),
        };
        const progress = progressFor(stderr, { quiet: config.quiet || config.json });
        const result = await withEngine(config, runtime, progress, (engine) => engine.get(request, { progress, signal }));
        // The bytes as the file has them, nothing added: `ragoss get X > X` rebuilds the file.
        stdout.write(config.json ? `${JSON.stringify(result)}\n` : result.text);
      });
    });
}
