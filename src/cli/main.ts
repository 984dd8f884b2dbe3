import { Command, CommanderError, Option } from 'commander';
import { resolveCommonConfig, type CommonFlags } from '../config.js';
import { ExitCode } from '../errors.js';
import { packageVersion } from '../version.js';
import { processIo, runCommand, type CliIo, type Runtime } from './runtime.js';
import { registerAsk } from '../commands/ask.js';
import { registerCalibrate } from '../commands/calibrate.js';
import { registerDoctor } from '../commands/doctor.js';
import { registerEval } from '../commands/eval.js';
import { registerExport } from '../commands/export.js';
import { registerGet } from '../commands/get.js';
import { registerIngest } from '../commands/ingest.js';
import { registerSearch } from '../commands/search.js';
import { registerServe } from '../commands/serve.js';
import { registerMcp } from '../commands/mcp.js';

function addCommonOptions(command: Command): void {
  command
    .option('--milvus-uri <uri>', 'Milvus server (http://host:19530) or embedded Milvus Lite data path (env MILVUS_URI; default ~/.ragoss/milvus)')
    .option('--collection <name>', 'collection name (env RAGOSS_COLLECTION; default ragoss_milvus_faq)')
    .option('--embedding-model <name>', 'embedding model (env RAGOSS_EMBEDDING_MODEL; default Xenova/all-mpnet-base-v2)')
    .option('--embedding-url <url>', 'embed through this OpenAI-compatible server (TEI, vLLM, Infinity, Ollama, OpenAI) instead of a local model (env RAGOSS_EMBEDDING_URL)')
    .option('--model-dir <dir>', 'read the embedding model from DIR/NAME, never download (env RAGOSS_MODEL_DIR)')
    .option('--offline', 'never download; use cached or local models only (env RAGOSS_OFFLINE=1)')
    .option('--json', 'print one JSON object on stdout')
    .option('-q, --quiet', 'no progress output on stderr')
    .option('--no-daemon', 'work in this process; never use or start the ragoss service (env RAGOSS_DAEMON=0)')
    .addOption(new Option('-v, --verbose', 'show stack traces on errors'));
}

export function buildProgram(onExitCode: (code: number) => void, io: CliIo = processIo()): Command {
  const program = new Command('ragoss')
    .description('Ask the Milvus docs questions: retrieval from Milvus, answers from gpt-oss.')
    .version(packageVersion())
    .showHelpAfterError('(run ragoss --help for usage)')
    // Set before the commands are added: each inherits it.
    .configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) })
    .exitOverride();
  const run = async (flags: CommonFlags, body: (runtime: Runtime) => Promise<void>) => {
    const secrets = () => {
      try {
        return resolveCommonConfig({}, io.env).secrets;
      } catch {
        return [];
      }
    };
    onExitCode(await runCommand(body, { verbose: flags.verbose === true, secrets, io }));
  };
  registerIngest(program, run);
  registerExport(program, run);
  registerSearch(program, run);
  registerAsk(program, run);
  registerGet(program, run);
  registerEval(program, run);
  registerCalibrate(program, run);
  registerDoctor(program, run);
  registerServe(program, run);
  registerMcp(program, run);
  for (const command of program.commands) {
    addCommonOptions(command);
    command.exitOverride();
  }
  return program;
}

/** Runs one command line (`argv` as process.argv has it) and returns its exit code; exits nothing. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const program = buildProgram((code) => {
    exitCode = code;
  }, io);
  try {
    await program.parseAsync(argv as string[]);
  } catch (error) {
    if (error instanceof CommanderError) {
      // Asked-for help and --version are successes; help shown because no command was given is a usage error.
      const fine = ['commander.helpDisplayed', 'commander.version'].includes(error.code);
      return fine ? ExitCode.ok : ExitCode.usage;
    }
    throw error;
  }
  return exitCode;
}
