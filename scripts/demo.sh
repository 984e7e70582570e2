#!/usr/bin/env bash
# The main demo (README Quickstart): build a graph, check its weights, dump
# it and run it on the CPU reference interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --example quickstart "$@"
