#!/usr/bin/env node
// npm pack's prepack/postpack hooks: the tarball bundles onnxruntime-node without its postinstall.
//
// Why: onnxruntime-node's postinstall downloads CUDA binaries on Linux x64 (from GitHub or NuGet),
// which fails on machines that reach only the npm registry, and a CPU tool has no use for them. The
// project's .npmrc skips it here, but nothing in a package can skip a dependency's install script
// for `npm install -g ragoss-*.tgz`: npm ignores a dependency's overrides, shrinkwrap and .npmrc
// there, and runs bundled packages' scripts too. So the bundled copy (exactly the version
// transformers.js pins, so npm dedupes onto it) goes into the tarball with that one script removed,
// and postpack puts it back.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));
const ortManifestPath = join(root, 'node_modules', 'onnxruntime-node', 'package.json');
const saved = join(root, 'node_modules', '.onnxruntime-node-scripts.json');

function prepack() {
  const ours = readJson(join(root, 'package.json'));
  const pinned = readJson(join(root, 'node_modules', '@huggingface', 'transformers', 'package.json')).dependencies['onnxruntime-node'];
  const bundled = readJson(ortManifestPath);
  if (ours.dependencies['onnxruntime-node'] !== pinned || bundled.version !== pinned) {
    throw new Error(
      `onnxruntime-node must be the version @huggingface/transformers pins (${pinned}): package.json asks for ${ours.dependencies['onnxruntime-node']}, node_modules has ${bundled.version}. ` +
        'Otherwise npm installs a second copy, postinstall and all. Update package.json and run npm install.',
    );
  }
  if (bundled.scripts?.postinstall === undefined) return;
  writeFileSync(saved, JSON.stringify(bundled.scripts));
  const { postinstall, ...rest } = bundled.scripts;
  writeFileSync(ortManifestPath, `${JSON.stringify({ ...bundled, scripts: rest }, null, 2)}\n`);
  process.stderr.write(`pack: bundling onnxruntime-node ${bundled.version} without its postinstall ("${postinstall}")\n`);
}

function postpack() {
  let scripts;
  try {
    scripts = readJson(saved);
  } catch {
    return;
  }
  writeFileSync(ortManifestPath, `${JSON.stringify({ ...readJson(ortManifestPath), scripts }, null, 2)}\n`);
  writeFileSync(saved, '');
}

const mode = process.argv[2];
if (mode === 'prepack') prepack();
else if (mode === 'postpack') postpack();
else throw new Error('usage: pack-hooks.mjs prepack|postpack');
