#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// A reader that went away (EPIPE, as in `ragoss search ... | head -1`) ends the command quietly,
// as it does other Unix tools: no stack trace for output nobody reads.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => process.exit(error.code === 'EPIPE' ? (process.exitCode ?? 0) : 1));
}

const code = await main(process.argv);
process.exitCode = code;

// process.exit drops what is still queued for a pipe, so exit only once stdout and stderr have
// handed everything to the OS: a script piping `--json` gets the whole object, however slowly it
// reads. (Exiting at all is needed: the model's and gRPC's threads would keep the process alive.)
let pending = 2;
for (const stream of [process.stdout, process.stderr]) {
  stream.write('', () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  });
}
