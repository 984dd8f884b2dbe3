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
export const modelsDir = join(sharedDir, 'models');
export const tinyModel = 'testing/tiny-random-albert-768';
export const binPath = join(projectRoot, 'bin', 'ragoss.js');

export function milvusLiteExecutable(): string {
  const candidates = [process.env['RAGOSS_MILVUS_LITE'], join(projectRoot, '.venv', 'bin', 'milvus-lite')];
  const found = candidates.find((candidate): candidate is string => candidate !== undefined && existsSync(candidate));
  if (found === undefined) {
    throw new Error('milvus-lite not found: run `python3 -m venv .venv && .venv/bin/pip install -r requirements-test.txt` (or set RAGOSS_MILVUS_LITE)');
  }
  return found;
}
