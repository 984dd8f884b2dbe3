#!/usr/bin/env node
import { main } from '../dist/cli.js';

const code = await main(process.argv);
// Let stdout drain before exiting: a script piping `--json` must get the whole object.
process.exitCode = code;
setImmediate(() => process.exit(code));
