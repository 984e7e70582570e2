#!/usr/bin/env bash
# The browser demo (README "In the browser"): installs what is missing
# (Chromium for the tests, the wasm32 target, wasm-bindgen-cli), builds
# wgraph-web for WebGPU, fetches all-MiniLM-L6-v2 into .cache/ as the CLI
# demo does, and serves examples/web on 127.0.0.1:P (default 8000). Open the
# printed address in a browser with WebGPU (Chrome/Edge, Safari 26, Firefox
# 141+ on Windows).
#
#   ./scripts/web.sh [--port P]
set -euo pipefail
cd "$(dirname "$0")/.."
port=8000
while [ $# -gt 0 ]; do
    case "$1" in
        --port) port="${2:?--port needs a number}"; shift 2 ;;
        --port=*) port="${1#--port=}"; shift ;;
        *) echo "usage: scripts/web.sh [--port P]" >&2; exit 2 ;;
    esac
done
./scripts/setup.sh --web
./scripts/fetch_minilm.sh >/dev/null
./scripts/build_web.sh
exec python3 scripts/serve_web.py --port "$port"
