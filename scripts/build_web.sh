#!/usr/bin/env bash
# Builds wgraph-web for the browser into target/web/pkg/ (wgraph_web.js and
# wgraph_web_bg.wasm, the ES module examples/web/main.js imports) and prints
# the bundle's gzipped size. Assumes `scripts/setup.sh --web` ran.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --release -p wgraph-web --target wasm32-unknown-unknown
wasm=target/wasm32-unknown-unknown/release/wgraph_web.wasm
wasm-bindgen --target web --no-typescript --out-dir target/web/pkg "$wasm"
bytes=$(cat target/web/pkg/wgraph_web_bg.wasm target/web/pkg/wgraph_web.js | gzip -9 | wc -c)
echo "web: target/web/pkg built, $((bytes / 1024)) KiB gzipped" >&2
