import { describe, expect, it } from 'vitest';
import { baseEnv, runCli, tempHome } from '../helpers/cli.js';

describe('command-line usage', () => {
  const env = baseEnv({ RAGOSS_HOME: tempHome() });

  it.each([
    [['search'], /missing required argument 'question'/],
    [['bogus'], /unknown command 'bogus'/],
    [['search', 'x', '--bogus'], /unknown option '--bogus'/],
    [[], /Usage: ragoss/],
  ])('ragoss %j is a usage error (exit 2)', async (args, message) => {
    const result = await runCli(args, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).toBe('');
  });

  it('--help and --version succeed on stdout', async () => {
    const help = await runCli(['ask', '--help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--show-reasoning/);
    const version = await runCli(['--version'], env);
    expect(version.code).toBe(0);
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });
});
