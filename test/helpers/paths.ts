import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MILVUS_LITE_REQUIREMENTS } from '../../src/store/milvus-lite-install.js';

export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** ../shared beside the checkout (CI has it too): test data and the tiny test model. */
export const sharedDir = process.env['RAGOSS_SHARED_DIR'] ?? resolve(projectRoot, '..', 'shared');
export const faqZip = join(sharedDir, 'data', 'milvus_docs_2.4.x_en.zip');
export const fullZip = join(sharedDir, 'data', 'milvus_docs_2.4.x_en_full.zip');
export const faqDir = join(sharedDir, 'data', 'milvus_docs_2.4.x_en');
export const devQuestions = join(sharedDir, 'data', 'faq_dev_questions.jsonl');
export const fullDocsQuestions = join(sharedDir, 'data', 'full_docs_dev_questions.jsonl');
export const modelsDir = join(sharedDir, 'models');
export const tinyModel = 'testing/tiny-random-albert-768';
export const binPath = join(projectRoot, 'bin', 'ragoss.js');
/** A tiny cross-encoder .ci/run builds beside the real model (scripts/build-tiny-cross-encoder.sh). */
export const tinyCrossEncoder = 'testing/tiny-mpnet-cross-encoder';

/**
 * Where the test setup keeps a venv it provisions: in the checkout by default (`.venv`,
 * `.venv-milvus`), or, with RAGOSS_TEST_VENV_DIR (CI sets it to its cache), in that directory under
 * a name that carries the pinned requirements, so a clean clone reuses them and a new pin gets a
 * new venv, never a stale one.
 */
export function venvPath(checkoutName: string, requirements: readonly string[]): string {
  const shared = process.env['RAGOSS_TEST_VENV_DIR'];
  if (shared === undefined || shared === '') return join(projectRoot, checkoutName);
  const pins = requirements.join(' ').replace(/[^A-Za-z0-9.=-]+/g, '_');
  return join(shared, `${checkoutName.replace(/^\./, '')}-${createHash('sha256').update(pins).digest('hex').slice(0, 12)}`);
}

/** The venv with Milvus Lite, which the test setup creates on first run (as ragoss creates its own). */
export const testVenv = venvPath('.venv', MILVUS_LITE_REQUIREMENTS);

/** RAGOSS_MILVUS_LITE when set, else the checkout's venv (provisioned by test/global-setup.ts). */
export function milvusLiteExecutable(): string {
  const explicit = process.env['RAGOSS_MILVUS_LITE'];
  return explicit !== undefined && existsSync(explicit) ? explicit : join(testVenv, 'bin', 'milvus-lite');
}
