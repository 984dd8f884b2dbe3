"""The Python seed ragoss is measured against: the Milvus "Build RAG with Milvus" tutorial with
all-mpnet-base-v2, in one of two forms:
- onnxruntime (the default): the embedding swapped for the same ONNX model ragoss uses;
- sentence-transformers: the tutorial as written, SentenceTransformer(...).encode on PyTorch.

Follows the tutorial step by step: read en/faq/*.md out of the docs zip, split every file on "# ",
embed each line with emb_text() (one text at a time, as the tutorial does), MilvusClient on a
local file (embedded Milvus Lite), create the collection (IP metric, Strong consistency), insert
all rows, run one search. Prints one JSON object of stage timings (seconds) on stdout.

Usage: seed.py ZIP MODEL_DIR [onnxruntime|sentence-transformers]
  onnxruntime: MODEL_DIR holds onnx/model.onnx and tokenizer.json (ragoss's model directory);
  sentence-transformers: MODEL_DIR is the sentence-transformers folder (scripts/fetch-mpnet-source.sh).
Run it with the current directory where ./bench-seed.db may be created.
"""
import time

T0 = time.perf_counter()
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import zipfile  # noqa: E402
from glob import glob  # noqa: E402

import numpy as np  # noqa: E402
from pymilvus import MilvusClient  # noqa: E402

zip_path, model_dir = sys.argv[1], sys.argv[2]
embedder = sys.argv[3] if len(sys.argv) > 3 else "onnxruntime"
if embedder == "sentence-transformers":
    from sentence_transformers import SentenceTransformer
else:
    import onnxruntime as ort
    from tokenizers import Tokenizer

timings = {"imports": time.perf_counter() - T0}


def stage(name, started):
    timings[name] = time.perf_counter() - started


# 1. Prepare the data: unzip the docs, read the FAQ files, split on "# ".
t = time.perf_counter()
shutil.rmtree("milvus_docs", ignore_errors=True)
with zipfile.ZipFile(zip_path) as archive:
    archive.extractall("milvus_docs")
text_lines = []
for file_path in sorted(glob("milvus_docs/en/faq/*.md", recursive=True)):
    with open(file_path, "r") as file:
        file_text = file.read()
    text_lines += file_text.split("# ")
stage("unzip_split", t)

# 2. The embedding model: all-mpnet-base-v2 (mean pooling, L2-normalized), as ragoss uses it.
t = time.perf_counter()
if embedder == "sentence-transformers":
    embedding_model = SentenceTransformer(model_dir, device="cpu")

    def emb_text(text):
        # emb_text as the Milvus tutorials write it for sentence-transformers.
        return embedding_model.encode([text], normalize_embeddings=True).tolist()[0]

else:
    tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tokenizer.enable_truncation(384)  # sentence-transformers' max_seq_length; transformers.js truncates there too
    session = ort.InferenceSession(os.path.join(model_dir, "onnx", "model.onnx"), providers=["CPUExecutionProvider"])

    def emb_text(text):
        encoding = tokenizer.encode(text)
        input_ids = np.array([encoding.ids], dtype=np.int64)
        attention_mask = np.array([encoding.attention_mask], dtype=np.int64)
        (hidden,) = session.run(None, {"input_ids": input_ids, "attention_mask": attention_mask})
        mask = attention_mask[..., None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        vector = pooled[0] / max(np.linalg.norm(pooled[0]), 1e-12)
        return vector.tolist()
stage("model_load", t)


t = time.perf_counter()
test_embedding = emb_text("This is a test")
embedding_dim = len(test_embedding)
stage("first_embedding", t)

# 3. Load data into Milvus (embedded Milvus Lite in a local file).
t = time.perf_counter()
milvus_client = MilvusClient("./bench-seed.db")
collection_name = "my_rag_collection"
if milvus_client.has_collection(collection_name):
    milvus_client.drop_collection(collection_name)
milvus_client.create_collection(
    collection_name=collection_name,
    dimension=embedding_dim,
    metric_type="IP",  # Inner product distance
    consistency_level="Strong",  # Strong consistency level
)
stage("milvus_start_create", t)

t = time.perf_counter()
data = []
for i, line in enumerate(text_lines):
    data.append({"id": i, "vector": emb_text(line), "text": line})
stage("embed", t)

t = time.perf_counter()
insert_res = milvus_client.insert(collection_name=collection_name, data=data)
stage("insert", t)

# 4. Retrieve data for a query.
t = time.perf_counter()
question = "How is data stored in milvus?"
search_res = milvus_client.search(
    collection_name=collection_name,
    data=[emb_text(question)],
    limit=3,
    search_params={"metric_type": "IP", "params": {}},
    output_fields=["text"],
)
stage("search", t)
timings["ingest_total"] = time.perf_counter() - T0 - timings["search"]
timings["total"] = time.perf_counter() - T0
milvus_client.close()

top = search_res[0][0]
print(json.dumps({
    "embedder": embedder,
    "chunks": len(text_lines),
    "inserted": int(insert_res["insert_count"]),
    "top_hit": {"distance": round(float(top["distance"]), 4), "text": top["entity"]["text"][:80]},
    "top3": [hit["entity"]["text"] for hit in search_res[0]],
    "seconds": {key: round(value, 3) for key, value in timings.items()},
}))
