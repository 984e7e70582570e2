#!/usr/bin/env bash
# The main demo (README Quickstart): build a graph, check its weights, dump
# it, run it on the CPU reference interpreter and on the GPU (installing
# lavapipe, Mesa's CPU Vulkan driver, when no Vulkan driver is present).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
cargo run --quiet --release --example quickstart "$@"
