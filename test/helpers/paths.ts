import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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

/** The checkout's own venv, which the test setup creates on first run (as ragoss creates its own). */
export const testVenv = join(projectRoot, '.venv');

/** RAGOSS_MILVUS_LITE when set, else the checkout's venv (provisioned by test/global-setup.ts). */
export function milvusLiteExecutable(): string {
  const explicit = process.env['RAGOSS_MILVUS_LITE'];
  return explicit !== undefined && existsSync(explicit) ? explicit : join(testVenv, 'bin', 'milvus-lite');
}
