#!/usr/bin/env python3
"""The table of tools/llama_cpp_peer/run.sh from its JSON files (one directory)."""
import json
import os
import sys

d = sys.argv[1]
load = lambda name: json.load(open(os.path.join(d, name))) if os.path.exists(os.path.join(d, name)) else None
cpu, vulkan, decode, prefill = load("cpu.json"), load("vulkan.json"), load("decode.json"), load("prefill.json")
wg_decode = decode["tokens_per_s"]
wg_prefill = 128 / (prefill["prefill_ms"] / 1e3)
wg_rss = max(decode.get("peak_rss_mb") or 0, prefill.get("peak_rss_mb") or 0)
print(f"{decode['model']}; {decode.get('cpu')}; {decode['adapter']}")
print()
print("| measure | wgraph | llama.cpp CPU (2 threads) | wgraph / CPU | llama.cpp Vulkan (same device) | wgraph / Vulkan |")
print("|---|---:|---:|---:|---:|---:|")
def row(name, ours, key, fmt):
    c = cpu[key]
    v = vulkan[key] if vulkan else None
    ratio = lambda x: f"{ours / x:.2f}x" if x else "—"
    cells = [name, fmt.format(ours), fmt.format(c), ratio(c), fmt.format(v) if v else "—", ratio(v) if v else "—"]
    print("| " + " | ".join(cells) + " |")
row(f"decode tokens/s (after {decode.get('prompt_len', 16)} tokens)", wg_decode, "tokens_per_s", "{:.1f}")
row("prefill tokens/s (128 tokens)", wg_prefill, "prefill_tokens_per_s", "{:.0f}")
vk_rss = f"{vulkan['peak_rss_mb']:.0f}" if vulkan else "—"
print(f"| peak RSS MB, the benchmark process (wgraph: forward and generation) | {wg_rss:.0f} | {cpu['peak_rss_mb']:.0f} | — | {vk_rss} | — |")
kib = os.path.join(d, "generate.kib")
if os.path.exists(kib):
    gen = int(open(kib).read().split()[-1]) / 1024
    print(f"| peak RSS MB, one generation (`wgraph generate`; llama.cpp: as above) | {gen:.0f} | {cpu['peak_rss_mb']:.0f} | — | {vk_rss} | — |")
