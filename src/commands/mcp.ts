import type { Command } from 'commander';
import { embeddingTarget, resolveChatConfig, resolveCommonConfig, resolveLinkTemplate, resolveRerank, resolveMinScore, resolveMode, resolveTopK, type CommonFlags } from '../config.js';
import { lineProgress, silentProgress } from '../progress.js';
import { serviceVersion } from '../service/identity.js';
import { withEngine } from '../cli/engine-for.js';
import type { CommandRunner } from '../cli/runtime.js';

export function registerMcp(program: Command, run: CommandRunner): void {
  program
    .command('mcp')
    .description('serve the docs to MCP clients (Claude Desktop, Cursor, agents) over stdio: tools search, ask and get')
    .action(async (flags: CommonFlags) => {
      await run(flags, async (runtime) => {
        const { env, signal, stderr } = runtime;
        const config = resolveCommonConfig(flags, env);
        // stdout is the protocol's: progress and warnings go to stderr, or nowhere with -q.
        const progress = config.quiet ? silentProgress : lineProgress((line) => stderr.write(`${line}\n`));
        // The warm service when there is (or may be) one; otherwise an engine kept warm in this process.
        await withEngine(config, runtime, progress, async (engine) => {
          const [{ StdioServerTransport }, { createMcpServer }] = await Promise.all([import('@modelcontextprotocol/sdk/server/stdio.js'), import('../mcp/server.js')]);
          const server = createMcpServer(
            engine,
            {
              collection: config.collection,
              ...embeddingTarget(config),
              topK: resolveTopK(undefined, env),
              mode: resolveMode(undefined, env),
              chat: resolveChatConfig({}, env),
              minScore: resolveMinScore(undefined, env),
              linkTemplate: resolveLinkTemplate(undefined, env),
              rerank: resolveRerank({}, env),
              secrets: config.secrets,
            },
            serviceVersion(),
          );
          const transport = new StdioServerTransport();
          let endSession = () => {};
          const closed = new Promise<void>((resolveClosed) => (endSession = resolveClosed));
          // The client went away (stdin ended) or Ctrl-C: either ends the session.
          process.stdin.once('end', endSession);
          signal.addEventListener('abort', endSession, { once: true });
          try {
            await server.connect(transport);
            server.server.onclose = endSession;
            progress.step(`MCP server ready on stdio (collection ${config.collection})`);
            await closed;
          } finally {
            await server.close().catch(() => undefined);
          }
        });
      });
    });
}
