// Loaded with `node --import`: after each write to stdout, tells stderr how many bytes the process
// has handed to stdout so far ("[stdout queued N]"), so a test can wait for the moment a command
// has queued all its output, instead of sleeping and hoping it got there.
let queued = 0;
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const accepted = write(chunk, ...rest);
  queued += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
  process.stderr.write(`[stdout queued ${queued}]\n`);
  return accepted;
};
