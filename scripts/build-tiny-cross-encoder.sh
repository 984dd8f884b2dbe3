#!/usr/bin/env bash
# Builds a tiny cross-encoder for tests of the rerank stage: an MPNetForSequenceClassification with
# one output, random weights (seeded) and all-mpnet-base-v2's tokenizer, as a Hugging Face folder
# (safetensors: what a rerank server such as Infinity loads) with onnx/model.onnx beside it (what
# transformers.js runs). Its scores mean nothing; the tests check wire formats, order, budgets and
# that the server's scores and ragoss's own agree on the same weights.
# Also writes reference.json: torch's logits for a fixed question and passages, to check against.
# Usage: build-tiny-cross-encoder.sh OUT_DIR VENV_DIR TOKENIZER_DIR
#   VENV_DIR: a venv with torch, transformers, onnx (build-mpnet-onnx.sh's); TOKENIZER_DIR: the built all-mpnet-base-v2
set -euo pipefail
OUT=${1:?usage: build-tiny-cross-encoder.sh OUT_DIR VENV_DIR TOKENIZER_DIR}; VENV=${2:?}; TOK=${3:?}
OUT=$(realpath -m "$OUT")
if [ -f "$OUT/.complete" ]; then echo "cross-encoder already complete: $OUT"; exit 0; fi
rm -rf "$OUT.tmp"; mkdir -p "$OUT.tmp/onnx"
trap 'rm -rf "$OUT.tmp"' EXIT
for f in tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt; do cp "$TOK/$f" "$OUT.tmp/"; done
"$VENV/bin/python" - "$OUT.tmp" <<'PYEOF'
import sys, json, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import torch
from transformers import AutoTokenizer, MPNetConfig, MPNetForSequenceClassification
out = sys.argv[1]
torch.manual_seed(20261130)
config = MPNetConfig(vocab_size=30527, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                     max_position_embeddings=514, num_labels=1, initializer_range=0.3, architectures=["MPNetForSequenceClassification"])
# initializer_range 0.3 (not 0.02): scores spread widely enough that float rounding between runtimes never swaps two
model = MPNetForSequenceClassification(config).eval()
model.save_pretrained(out, safe_serialization=True)
tok = AutoTokenizer.from_pretrained(out)
class Wrap(torch.nn.Module):
    def __init__(s, m): super().__init__(); s.m = m
    def forward(s, input_ids, attention_mask): return s.m(input_ids=input_ids, attention_mask=attention_mask).logits
enc = tok(["a question"], ["a passage to score"], padding=True, return_tensors="pt")
torch.onnx.export(Wrap(model).eval(), (enc["input_ids"], enc["attention_mask"]), f"{out}/onnx/model.onnx", dynamo=False, opset_version=17,
    input_names=["input_ids", "attention_mask"], output_names=["logits"],
    dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}})
model.eval()
question = "Where does Milvus store data?"
passages = ["Milvus stores inserted data in object storage such as MinIO or S3.", "How does Milvus flush data?", "Is Docker the only way to install Milvus?",
            "Milvus supports Binary, Float32, Float16 and BFloat16 vectors.", "pip install pymilvus"]
with torch.no_grad():
    e = tok([question] * len(passages), passages, padding=True, truncation=True, return_tensors="pt")
    logits = model(**e).logits[:, 0].tolist()
json.dump({"question": question, "passages": passages, "logits": logits}, open(f"{out}/reference.json", "w"), indent=1)
print("tiny cross-encoder logits", [round(v, 4) for v in logits])
PYEOF
touch "$OUT.tmp/.complete"
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"; mv "$OUT.tmp" "$OUT"
echo "cross-encoder ready: $OUT"
