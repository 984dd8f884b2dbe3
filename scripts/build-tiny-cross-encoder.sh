#!/usr/bin/env bash
# Builds a tiny cross-encoder for tests of the rerank stage: an MPNetForSequenceClassification with
# one output, random weights (seeded) and all-mpnet-base-v2's tokenizer, as a Hugging Face folder
# (safetensors: what a rerank server such as Infinity loads) with onnx/model.onnx beside it (what
# transformers.js runs). Its scores mean nothing; the tests check wire formats, order, budgets and
# that the server's scores and ragoss's own agree on the same weights.
# Also writes reference.json: torch's logits on these weights for a fixed question and passages
# (recorded in mpnet-reference.json by `mpnet_onnx.py references`), which the ONNX graph must give.
# Usage: build-tiny-cross-encoder.sh OUT_DIR VENV_DIR TOKENIZER_DIR
#   VENV_DIR: a venv with numpy, onnx, onnxruntime, safetensors, tokenizers (build-mpnet-onnx.sh's); TOKENIZER_DIR: the built all-mpnet-base-v2
set -euo pipefail
OUT=${1:?usage: build-tiny-cross-encoder.sh OUT_DIR VENV_DIR TOKENIZER_DIR}; VENV=${2:?}; TOK=${3:?}
OUT=$(realpath -m "$OUT"); HERE=$(dirname "$(realpath "$0")")
# .complete holds a digest of this recipe: a cross-encoder another version made is rebuilt.
RECIPE=$(cat "$0" "$HERE/mpnet_onnx.py" "$HERE/mpnet-reference.json" | sha256sum | cut -c1-16)
if [ "$(cat "$OUT/.complete" 2>/dev/null)" = "$RECIPE" ]; then echo "cross-encoder already complete: $OUT"; exit 0; fi
rm -rf "$OUT"
rm -rf "$OUT.tmp"; mkdir -p "$OUT.tmp/onnx"
trap 'rm -rf "$OUT.tmp"' EXIT
for f in tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do cp "$TOK/$f" "$OUT.tmp/"; done
"$VENV/bin/python" - "$OUT.tmp" "$HERE" <<'PYEOF'
import sys, json, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import numpy as np, onnxruntime as ort
out = sys.argv[1]; sys.path.insert(0, sys.argv[2]); import mpnet_onnx
mpnet_onnx.cmd_tiny_cross_encoder(out)
reference = mpnet_onnx.load_reference()["cross_encoder"]
assert reference["seed"] == mpnet_onnx.TINY_SEED, "mpnet-reference.json was made from other weights: run mpnet_onnx.py references"
ids, mask = mpnet_onnx.encode_pairs(out, reference["question"], reference["passages"])
logits = ort.InferenceSession(f"{out}/onnx/model.onnx", providers=["CPUExecutionProvider"]).run(None, {"input_ids": ids, "attention_mask": mask})[0][:, 0]
assert np.allclose(logits, reference["logits"], atol=1e-4), (logits.tolist(), reference["logits"])
json.dump({key: reference[key] for key in ("question", "passages", "logits")}, open(f"{out}/reference.json", "w"), indent=1)
print("tiny cross-encoder logits", [round(float(v), 4) for v in logits], "torch", reference["logits"])
PYEOF
echo "$RECIPE" >"$OUT.tmp/.complete"
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"; mv "$OUT.tmp" "$OUT"
echo "cross-encoder ready: $OUT"
