import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MILVUS_LITE_REQUIREMENTS } from '../../src/store/milvus-lite-install.js';
import { baseEnv, runCli, tempHome } from '../helpers/cli.js';
import { tinyModel } from '../helpers/paths.js';

/** A PATH that has python3 and nothing else, so ragoss cannot find a milvus-lite to borrow. */
function pathWithOnlyPython(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ragoss-path-'));
  const python = execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
  symlinkSync(python, join(dir, 'python3'));
  return dir;
}

describe('first use of embedded mode on a machine without milvus-lite', () => {
  it('creates its own venv, installs the pinned Milvus Lite once, and runs the command', async () => {
    const home = tempHome();
    // pip's own settings (index, certificates) pass through, as they would on a user's machine.
    const pipSettings = Object.fromEntries(Object.entries(process.env).filter(([name]) => name.startsWith('PIP_')));
    const env = baseEnv({ ...pipSettings, RAGOSS_HOME: home, RAGOSS_EMBEDDING_MODEL: tinyModel, PATH: pathWithOnlyPython() });
    const first = await runCli(['search', 'How is data stored in milvus?'], env, { timeoutMs: 600_000 });
    expect(first.stderr).toContain(`installing Milvus Lite into ${join(home, 'venv')}`);
    // Steps a person can read, not a bar counting "2 files".
    expect(first.stderr).toContain('ragoss: creating a Python venv\n');
    expect(first.stderr).toContain(`ragoss: pip install ${MILVUS_LITE_REQUIREMENTS.join(' ')}\n`);
    expect(first.stderr).not.toMatch(/files/);
    // Milvus came up from the fresh venv and answered: the collection simply is not there yet.
    expect(first.code).toBe(3);
    expect(first.stderr).toMatch(/collection ragoss_milvus_faq not found/);
    expect(existsSync(join(home, 'venv', 'bin', 'milvus-lite'))).toBe(true);
    const pinned = execFileSync(join(home, 'venv', 'bin', 'pip'), ['freeze'], { encoding: 'utf8' });
    for (const requirement of MILVUS_LITE_REQUIREMENTS) expect(pinned).toContain(requirement);

    const second = await runCli(['search', 'How is data stored in milvus?'], env);
    expect(second.stderr).not.toContain('installing Milvus Lite');
    expect(second.code).toBe(3);
  }, 600_000);
});
