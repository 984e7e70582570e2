#!/usr/bin/env bash
# wgraph against llama.cpp on the same GGUF file, one after the other in one
# run (BENCHMARKS.md, "GGUF decoders vs llama.cpp"): llama.cpp's prebuilt
# binaries from npm (node-llama-cpp 3.22.1, installed into a scratch
# directory), its CPU backend at 2 threads and its Vulkan backend on the same
# device wgraph uses, then `wgraph bench` and `wgraph generate`. Prints one
# markdown table: decode tokens/s after a 16-token prompt, prefill tokens/s
# for 128 tokens, peak RSS of each whole process.
#
#   tools/llama_cpp_peer/run.sh MODEL.gguf [--generate G] [--reps R] [--no-vulkan]
#
# WGRAPH_PEER_DIR: the scratch directory (default .cache/llama-cpp-peer).
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
model="${1:?usage: tools/llama_cpp_peer/run.sh MODEL.gguf [--generate G] [--reps R] [--no-vulkan]}"
shift
generate=32 reps=3 vulkan=1
while [ $# -gt 0 ]; do
    case "$1" in
        --generate) generate="$2"; shift 2 ;;
        --reps) reps="$2"; shift 2 ;;
        --no-vulkan) vulkan=0; shift ;;
        *) echo "llama_cpp_peer: unknown flag $1" >&2; exit 2 ;;
    esac
done
[ -f "$model" ] || { echo "llama_cpp_peer: no file $model" >&2; exit 2; }
peer="${WGRAPH_PEER_DIR:-$here/.cache/llama-cpp-peer}"
version=3.22.1
if [ ! -f "$peer/node_modules/node-llama-cpp/package.json" ] \
    || ! grep -q "\"version\": \"$version\"" "$peer/node_modules/node-llama-cpp/package.json"; then
    echo "llama_cpp_peer: installing node-llama-cpp $version into $peer" >&2
    mkdir -p "$peer"
    (cd "$peer" && NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm install --no-audit --no-fund --silent \
        "node-llama-cpp@$version" "@node-llama-cpp/linux-x64@$version" "@node-llama-cpp/linux-x64-vulkan@$version")
fi
cp "$here/tools/llama_cpp_peer/bench.mjs" "$peer/bench.mjs"
source "$here/scripts/env.sh"
cargo build --quiet --release -p wgraph-cli --manifest-path "$here/Cargo.toml"
wgraph="$here/target/release/wgraph"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "llama_cpp_peer: llama.cpp CPU" >&2
node "$peer/bench.mjs" "$model" cpu --threads 2 --generate "$generate" --reps "$reps" > "$out/cpu.json"
if [ "$vulkan" = 1 ]; then
    # llama.cpp skips CPU Vulkan devices (lavapipe) unless told to use it; it
    # takes seconds per token there: one repetition, 8 tokens.
    echo "llama_cpp_peer: llama.cpp Vulkan" >&2
    GGML_VK_VISIBLE_DEVICES=0 node "$peer/bench.mjs" "$model" vulkan --threads 2 --generate 8 --reps 1 > "$out/vulkan.json"
fi
echo "llama_cpp_peer: wgraph" >&2
"$wgraph" bench "$model" --batch 1 --seq 16 --reps 2 --generate "$generate" --prompt-len 16 --gen-reps "$reps" --json > "$out/decode.json"
"$wgraph" bench "$model" --batch 1 --seq 16 --reps 2 --generate 2 --prompt-len 128 --gen-reps "$reps" --json > "$out/prefill.json"
# One generation as a user runs it: the process's peak alone (GNU time's %M, KiB).
ids=$(seq -s, 1 16)
/usr/bin/time -f "%M" -o "$out/generate.kib" "$wgraph" generate "$model" --input-ids "$ids" --max-new-tokens "$generate" >/dev/null
python3 "$here/tools/llama_cpp_peer/table.py" "$out"
