#!/usr/bin/env bash
# The project's test command (README Quickstart, and CI through .ci/run):
# a Vulkan driver (lavapipe when there is no GPU), formatting, lints, then
# every test in the workspace, then the browser tests (scripts/test_web.sh:
# installs Chromium, the wasm32 target and wasm-bindgen-cli when missing).
# GPU tests never skip: without an adapter they fail and say why.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
source scripts/env.sh
./scripts/fetch_minilm.sh >/dev/null   # the real model the MiniLM tests compare
./scripts/fetch_smollm2.sh >/dev/null  # the real GGUF decoder graphs/tests/smollm2.rs compares
./scripts/check_deploy.sh             # deploy/kubernetes against the Kubernetes API schemas
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
./scripts/test_web.sh                  # the browser: WebGPU in headless Chromium (wasm32 build, demo page)
