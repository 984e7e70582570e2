#!/usr/bin/env bash
# The project's test command (README Quickstart, and CI through .ci/run):
# formatting, lints, then every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
