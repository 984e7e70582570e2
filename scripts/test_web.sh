#!/usr/bin/env bash
# The browser half of the tests (scripts/test.sh runs it): in headless
# Chromium through chromedriver, WebGPU on: the op table against the
# interpreter and MiniLM against sentence-transformers (graphs/web/tests,
# wasm-bindgen-test), then the demo page built as users get it, opened at
# /?texts=A|B|C, its embeddings and a screenshot of its similarity matrix
# checked (tools/web_page_check.py), and the bundle's size.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --browser
./scripts/fetch_minilm.sh >/dev/null

# The page server: the tests fetch MiniLM and its reference from it.
address_file=$(mktemp /tmp/wgraph-web-address.XXXXXX)
rm -f "$address_file"
python3 scripts/serve_web.py --port 0 --address-file "$address_file" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null || true; rm -f "$address_file"' EXIT
for _ in $(seq 100); do
    [ -s "$address_file" ] && break
    sleep 0.1
done
[ -s "$address_file" ] || { echo "test_web: the page server did not start" >&2; exit 1; }
address=$(cat "$address_file")

export CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver)}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT=600
# Release, like the page: the interpreter the op table compares against is
# several times faster, and the page's build below reuses the dependencies.
WGRAPH_WEB_BASE="$address" cargo test --release -p wgraph-web --target wasm32-unknown-unknown

./scripts/build_web.sh
limit=$((5 * 1024 * 1024))
bytes=$(cat target/web/pkg/wgraph_web_bg.wasm target/web/pkg/wgraph_web.js | gzip -9 | wc -c)
if [ "$bytes" -gt "$limit" ]; then
    echo "test_web: the wasm bundle is $bytes bytes gzipped, over the 5 MiB budget" >&2
    exit 1
fi
python3 tools/web_page_check.py "$address" --screenshot target/web/demo.png
