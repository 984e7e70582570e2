#!/usr/bin/env bash
# The whole-model table of BENCHMARKS.md (issue 11): each row runs
# `wgraph bench` and then HF transformers on PyTorch (tools/bench_torch.py),
# one after the other, so the two never share the cores.
#
#   tools/bench_models.sh PYTHON MINILM_DIR [DISTILBERT_DIR] [WHISPER_DIR] [LLAMA_DIR]
#
# PYTHON has torch + transformers (a venv outside the repo); the model
# directories are HF checkpoints (see BENCHMARKS.md for how the random
# ones were made). Missing optional directories are skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:?usage: tools/bench_models.sh PYTHON MINILM_DIR [DISTILBERT_DIR] [WHISPER_DIR] [LLAMA_DIR]}"
minilm="${2:?MiniLM directory}"
distilbert="${3:-}"
whisper="${4:-}"
llama="${5:-}"
source "$here/scripts/env.sh"
cargo build --release -p wgraph-cli --manifest-path "$here/Cargo.toml" >&2
wgraph="$here/target/release/wgraph"
row() { "$python" "$here/tools/bench_torch.py" "$@" --wgraph "$wgraph" 2>/dev/null; echo; }
# Short runs get more repetitions: on a shared machine a 70 ms median of 5
# moved by 50% between runs, a median of 20 by 15%.
reps() { case "$1" in 1) echo 20 ;; 8) echo 10 ;; *) echo 5 ;; esac; }
for b in 1 8 32; do row "$minilm" --batch "$b" --seq 128 --reps "$(reps "$b")"; done
if [ -n "$distilbert" ]; then for b in 1 8; do row "$distilbert" --batch "$b" --seq 128 --reps "$(reps "$b")"; done; fi
if [ -n "$whisper" ]; then row "$whisper" --batch 1 --seq 3000 --reps 3; fi
if [ -n "$llama" ]; then row "$llama" --batch 1 --seq 16 --reps 5 --generate 64 --prompt-len 16; fi
