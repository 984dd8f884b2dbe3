"""MPNet as an ONNX graph, written op by op from a safetensors state dict: numpy, onnx and
safetensors only, no torch (its wheels are most of a fresh machine's model build).

The graph follows transformers' modeling_mpnet.py (MPNetModel, MPNetForSequenceClassification)
and names its nodes as torch.onnx.export does (/encoder/layer.N/output/dense/MatMul, ...): the
quantization steps select MatMuls by those names. It is checked against torch's own outputs for
fixed inputs (mpnet-reference.json, made by `python mpnet_onnx.py references`, which needs torch).

  python mpnet_onnx.py encoder SRC_DIR OUT.onnx          all-mpnet-base-v2: last_hidden_state
  python mpnet_onnx.py tiny-cross-encoder OUT_DIR        random weights (seeded), safetensors + onnx
  python mpnet_onnx.py references MPNET_SRC_DIR TOKENIZER_DIR   torch's outputs (writes the JSON)
"""
import json
import math
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PAD_ID = 1  # MPNet's padding_idx: positions count from it, as in create_position_ids_from_input_ids
OPSET = 17
REFERENCE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpnet-reference.json")

# Inputs for the checks against torch: short, long enough to use the far position buckets, one word.
ENCODER_TEXTS = ["How is data stored in milvus?", "Milvus persists sealed segments and their indexes to object storage. " * 12, "hi"]
CROSS_QUESTION = "Where does Milvus store data?"
CROSS_PASSAGES = ["Milvus stores inserted data in object storage such as MinIO or S3.", "How does Milvus flush data?", "Is Docker the only way to install Milvus?",
                  "Milvus supports Binary, Float32, Float16 and BFloat16 vectors.", "pip install pymilvus"]
TINY_SEED = 20261130
TINY_CONFIG = {
    "architectures": ["MPNetForSequenceClassification"], "attention_probs_dropout_prob": 0.1, "bos_token_id": 0, "dtype": "float32",
    "eos_token_id": 2, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 64, "id2label": {"0": "LABEL_0"},
    "initializer_range": 0.3, "intermediate_size": 128, "label2id": {"LABEL_0": 0}, "layer_norm_eps": 1e-12,
    "max_position_embeddings": 514, "model_type": "mpnet", "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 1,
    "relative_attention_num_buckets": 32, "tie_word_embeddings": True, "vocab_size": 30527,
}


def relative_position_buckets(max_positions, num_buckets=32, max_distance=128):
    """MPNetEncoder.relative_position_bucket for every offset memory - context in (-max, max), in float32 as torch computes it."""
    relative = np.arange(-(max_positions - 1), max_positions, dtype=np.int64)
    n = -relative
    half = num_buckets // 2
    buckets = (n < 0).astype(np.int64) * half
    n = np.abs(n)
    max_exact = half // 2
    with np.errstate(divide="ignore"):
        scaled = np.log(n.astype(np.float32) / np.float32(max_exact)) / np.float32(math.log(max_distance / max_exact)) * np.float32(half - max_exact)
    large = max_exact + np.where(n < max_exact, 0, scaled).astype(np.int64)
    return buckets + np.where(n < max_exact, n, np.minimum(large, half - 1))


class GraphWriter:
    """Collects nodes and initializers; each op gets torch's export-style name and one output."""

    def __init__(self):
        self.nodes, self.initializers, self.names = [], [], set()

    def const(self, name, array):
        self.initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))
        return name

    def op(self, op_type, name, inputs, **attrs):
        assert name not in self.names, name
        self.names.add(name)
        self.nodes.append(helper.make_node(op_type, inputs, [name + "_output_0"], name=name, **attrs))
        return name + "_output_0"

    def linear(self, scope, x, weights, key):
        # nn.Linear: x @ W.T + b, the weight stored transposed as the exporter does.
        product = self.op("MatMul", f"{scope}/MatMul", [x, self.const(f"{key}.weight.T", weights[f"{key}.weight"].T)])
        return self.op("Add", f"{scope}/Add", [self.const(f"{key}.bias", weights[f"{key}.bias"]), product])

    def layer_norm(self, scope, x, weights, key, eps):
        return self.op("LayerNormalization", f"{scope}/LayerNormalization", [x, self.const(f"{key}.weight", weights[f"{key}.weight"]), self.const(f"{key}.bias", weights[f"{key}.bias"])], axis=-1, epsilon=eps)


def build_mpnet(weights, config, prefix="", head="hidden"):
    """The graph: input_ids, attention_mask (int64 [batch, sequence]) -> last_hidden_state or logits."""
    g = GraphWriter()
    w = {key[len(prefix):]: np.asarray(value, np.float32) for key, value in weights.items() if key.startswith(prefix)}
    if head == "classification":
        w.update({key: np.asarray(value, np.float32) for key, value in weights.items() if key.startswith("classifier.")})
    hidden, heads, eps = config["hidden_size"], config["num_attention_heads"], config["layer_norm_eps"]
    head_size = hidden // heads
    i64 = lambda name, values: g.const(name, np.array(values, np.int64))

    # Embeddings: word + position (positions count non-padding tokens from PAD_ID + 1), then LayerNorm.
    words = g.op("Gather", "/embeddings/word_embeddings/Gather", [g.const("embeddings.word_embeddings.weight", w["embeddings.word_embeddings.weight"]), "input_ids"])
    not_pad = g.op("Cast", "/embeddings/Cast", [g.op("Not", "/embeddings/Not", [g.op("Equal", "/embeddings/Equal", ["input_ids", i64("pad_id", PAD_ID)])])], to=TensorProto.INT64)
    counted = g.op("CumSum", "/embeddings/CumSum", [not_pad, i64("axis_1", 1)])
    positions = g.op("Add", "/embeddings/Add", [g.op("Mul", "/embeddings/Mul", [counted, not_pad]), "pad_id"])
    position_vectors = g.op("Gather", "/embeddings/position_embeddings/Gather", [g.const("embeddings.position_embeddings.weight", w["embeddings.position_embeddings.weight"]), positions])
    x = g.layer_norm("/embeddings/LayerNorm", g.op("Add", "/embeddings/Add_1", [words, position_vectors]), w, "embeddings.LayerNorm", eps)

    # Relative position bias, one [1, heads, q, k] for all layers: offsets k - q index a bucket table.
    max_positions = config["max_position_embeddings"]
    length = g.op("Gather", "/encoder/Gather", [g.op("Shape", "/encoder/Shape", ["input_ids"]), i64("index_1", 1)], axis=0)
    steps = g.op("Range", "/encoder/Range", [i64("zero", 0), length, i64("one", 1)])
    offsets = g.op("Sub", "/encoder/Sub", [g.op("Unsqueeze", "/encoder/Unsqueeze", [steps, i64("axes_0", [0])]), g.op("Unsqueeze", "/encoder/Unsqueeze_1", [steps, i64("axes_1", [1])])])
    table = g.const("relative_position_buckets", relative_position_buckets(max_positions))
    buckets = g.op("Gather", "/encoder/Gather_1", [table, g.op("Add", "/encoder/Add", [offsets, i64("offset_origin", max_positions - 1)])])
    bias = g.op("Gather", "/encoder/relative_attention_bias/Gather", [g.const("encoder.relative_attention_bias.weight", w["encoder.relative_attention_bias.weight"]), buckets])
    position_bias = g.op("Unsqueeze", "/encoder/Unsqueeze_2", [g.op("Transpose", "/encoder/Transpose", [bias], perm=[2, 0, 1]), "axes_0"])

    # Padding mask: 0 where attended, float32's minimum where padded, as transformers' bidirectional mask.
    mask_float = g.op("Cast", "/Cast", ["attention_mask"], to=TensorProto.FLOAT)
    inverted = g.op("Sub", "/Sub", [g.const("one_f", np.array(1.0, np.float32)), mask_float])
    mask = g.op("Mul", "/Mul", [g.op("Unsqueeze", "/Unsqueeze", [inverted, i64("axes_12", [1, 2])]), g.const("float_min", np.array(np.finfo(np.float32).min, np.float32))])

    split_heads = i64("split_heads", [0, 0, heads, head_size])
    merge_heads = i64("merge_heads", [0, 0, hidden])
    scale = g.const("head_scale", np.array(math.sqrt(head_size), np.float32))
    for i in range(config["num_hidden_layers"]):
        s, k = f"/encoder/layer.{i}", f"encoder.layer.{i}"

        def heads_of(name, perm):
            projected = g.linear(f"{s}/attention/attn/{name}", x, w, f"{k}.attention.attn.{name}")
            return g.op("Transpose", f"{s}/attention/attn/Transpose_{name}", [g.op("Reshape", f"{s}/attention/attn/Reshape_{name}", [projected, split_heads])], perm=perm)

        q, kt, v = heads_of("q", [0, 2, 1, 3]), heads_of("k", [0, 2, 3, 1]), heads_of("v", [0, 2, 1, 3])
        scores = g.op("Div", f"{s}/attention/attn/Div", [g.op("MatMul", f"{s}/attention/attn/MatMul", [q, kt]), scale])
        scores = g.op("Add", f"{s}/attention/attn/Add_1", [g.op("Add", f"{s}/attention/attn/Add", [scores, position_bias]), mask])
        probs = g.op("Softmax", f"{s}/attention/attn/Softmax", [scores], axis=-1)
        context = g.op("Transpose", f"{s}/attention/attn/Transpose", [g.op("MatMul", f"{s}/attention/attn/MatMul_1", [probs, v])], perm=[0, 2, 1, 3])
        attended = g.linear(f"{s}/attention/attn/o", g.op("Reshape", f"{s}/attention/attn/Reshape", [context, merge_heads]), w, f"{k}.attention.attn.o")
        x = g.layer_norm(f"{s}/attention/LayerNorm", g.op("Add", f"{s}/attention/Add", [attended, x]), w, f"{k}.attention.LayerNorm", eps)
        # GELU, exact (erf), as config hidden_act "gelu": 0.5 * y * (1 + erf(y / sqrt 2))
        y = g.linear(f"{s}/intermediate/dense", x, w, f"{k}.intermediate.dense")
        erf = g.op("Erf", f"{s}/intermediate/intermediate_act_fn/Erf", [g.op("Div", f"{s}/intermediate/intermediate_act_fn/Div", [y, g.const(f"sqrt2_{i}", np.array(math.sqrt(2), np.float32))])])
        gelu = g.op("Mul", f"{s}/intermediate/intermediate_act_fn/Mul_1", [g.op("Mul", f"{s}/intermediate/intermediate_act_fn/Mul", [y, g.op("Add", f"{s}/intermediate/intermediate_act_fn/Add", [erf, "one_f"])]), g.const(f"half_{i}", np.array(0.5, np.float32))])
        out = g.linear(f"{s}/output/dense", gelu, w, f"{k}.output.dense")
        x = g.layer_norm(f"{s}/output/LayerNorm", g.op("Add", f"{s}/output/Add", [out, x]), w, f"{k}.output.LayerNorm", eps)

    if head == "hidden":
        output_name, output_shape = "last_hidden_state", ["batch_size", "sequence_length", hidden]
        g.nodes.append(helper.make_node("Identity", [x], [output_name], name="/Identity"))
    else:
        # MPNetClassificationHead: the <s> token -> dense -> tanh -> out_proj.
        first = g.op("Gather", "/classifier/Gather", [x, i64("index_0", 0)], axis=1)
        dense = g.op("Tanh", "/classifier/Tanh", [g.linear("/classifier/dense", first, w, "classifier.dense")])
        output_name, output_shape = "logits", ["batch_size", w["classifier.out_proj.weight"].shape[0]]
        g.nodes.append(helper.make_node("Identity", [g.linear("/classifier/out_proj", dense, w, "classifier.out_proj")], [output_name], name="/Identity"))

    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch_size", "sequence_length"]) for name in ("input_ids", "attention_mask")]
    graph = helper.make_graph(g.nodes, "mpnet", inputs, [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, output_shape)], g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ragoss scripts/mpnet_onnx.py")
    model.ir_version = 8  # what onnxruntime-node 1.21 reads
    onnx.checker.check_model(model, full_check=True)
    return model


def tiny_cross_encoder_weights(config, seed=TINY_SEED):
    """Random weights under transformers' names. RandomState: numpy keeps its stream fixed across versions."""
    rng = np.random.RandomState(seed)
    hidden, inner, std = config["hidden_size"], config["intermediate_size"], config["initializer_range"]
    normal = lambda *shape, scale=std: rng.normal(0.0, scale, shape).astype(np.float32)
    w = {"mpnet.embeddings.word_embeddings.weight": normal(config["vocab_size"], hidden),
         "mpnet.embeddings.position_embeddings.weight": normal(config["max_position_embeddings"], hidden),
         "mpnet.encoder.relative_attention_bias.weight": normal(config["relative_attention_num_buckets"], config["num_attention_heads"])}
    # nn.Embedding(padding_idx=1) keeps that row at zero.
    w["mpnet.embeddings.word_embeddings.weight"][PAD_ID] = 0
    w["mpnet.embeddings.position_embeddings.weight"][PAD_ID] = 0
    norms = ["mpnet.embeddings.LayerNorm"]
    linears = {"classifier.dense": (hidden, hidden), "classifier.out_proj": (config.get("num_labels", 1), hidden)}
    for i in range(config["num_hidden_layers"]):
        k = f"mpnet.encoder.layer.{i}"
        linears.update({f"{k}.attention.attn.{name}": (hidden, hidden) for name in "qkvo"})
        linears.update({f"{k}.intermediate.dense": (inner, hidden), f"{k}.output.dense": (hidden, inner)})
        norms += [f"{k}.attention.LayerNorm", f"{k}.output.LayerNorm"]
    for key, shape in linears.items():
        w[f"{key}.weight"], w[f"{key}.bias"] = normal(*shape), normal(shape[0], scale=0.1)
    for key in norms:
        # Not 1 and 0, so that the scales and shifts are checked too.
        w[f"{key}.weight"], w[f"{key}.bias"] = 1 + normal(hidden, scale=0.1), normal(hidden, scale=0.1)
    return w


def _tokenizer(tokenizer_dir, max_length):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(os.path.join(tokenizer_dir, "tokenizer.json"))
    tok.enable_padding(pad_id=PAD_ID, pad_token="<pad>")
    tok.enable_truncation(max_length)
    return tok


def _ids_and_mask(rows):
    return np.array([r.ids for r in rows], np.int64), np.array([r.attention_mask for r in rows], np.int64)


def encode_pairs(tokenizer_dir, question, passages):
    return _ids_and_mask(_tokenizer(tokenizer_dir, 512).encode_batch([(question, passage) for passage in passages]))


def encode_texts(tokenizer_dir, texts, max_length=384):
    return _ids_and_mask(_tokenizer(tokenizer_dir, max_length).encode_batch(texts))


def mean_pooled(hidden, mask):
    m = mask[..., None].astype(np.float32)
    v = (hidden * m).sum(1) / m.sum(1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def load_reference():
    with open(REFERENCE_FILE) as f:
        return json.load(f)


def cmd_encoder(src, out):
    from safetensors.numpy import load_file
    with open(os.path.join(src, "config.json")) as f:
        config = json.load(f)
    model = build_mpnet(load_file(os.path.join(src, "model.safetensors")), config)
    onnx.save(model, out)


def cmd_tiny_cross_encoder(out):
    from safetensors.numpy import save_file
    weights = tiny_cross_encoder_weights(TINY_CONFIG)
    save_file(weights, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(TINY_CONFIG, f, indent=2)
    onnx.save(build_mpnet(weights, TINY_CONFIG, prefix="mpnet.", head="classification"), os.path.join(out, "onnx", "model.onnx"))


def cmd_references(mpnet_src, tokenizer_dir):
    """torch's outputs for the checks: all-mpnet-base-v2's pooled vectors, the tiny cross-encoder's logits."""
    import torch
    from transformers import AutoModel, MPNetConfig, MPNetForSequenceClassification
    ids, mask = encode_texts(tokenizer_dir, ENCODER_TEXTS)
    with torch.no_grad():
        hidden = AutoModel.from_pretrained(mpnet_src).eval()(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask)).last_hidden_state.numpy()
    vectors = mean_pooled(hidden, mask)
    config = {key: value for key, value in TINY_CONFIG.items() if key not in ("architectures", "dtype", "model_type")}
    tiny = MPNetForSequenceClassification(MPNetConfig(**config)).eval()
    state = {key: torch.from_numpy(value) for key, value in tiny_cross_encoder_weights(TINY_CONFIG).items()}
    missing, unexpected = tiny.load_state_dict(state, strict=False)
    assert not unexpected and all("position_ids" in key for key in missing), (missing, unexpected)
    pair_ids, pair_mask = encode_pairs(tokenizer_dir, CROSS_QUESTION, CROSS_PASSAGES)
    with torch.no_grad():
        logits = tiny(input_ids=torch.tensor(pair_ids), attention_mask=torch.tensor(pair_mask)).logits[:, 0].tolist()
    reference = {"made_by": f"torch {torch.__version__}, transformers' MPNet, `python scripts/mpnet_onnx.py references`",
                 "encoder": {"texts": ENCODER_TEXTS, "vectors": [[round(float(v), 7) for v in row] for row in vectors]},
                 "cross_encoder": {"seed": TINY_SEED, "question": CROSS_QUESTION, "passages": CROSS_PASSAGES, "logits": [round(v, 6) for v in logits]}}
    with open(REFERENCE_FILE, "w") as f:
        json.dump(reference, f)
        f.write("\n")
    print("wrote", REFERENCE_FILE, "logits", reference["cross_encoder"]["logits"])


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"encoder": cmd_encoder, "tiny-cross-encoder": cmd_tiny_cross_encoder, "references": cmd_references}[command](*args)
