#!/usr/bin/env bash
# The instructions lavapipe's JIT spends a workload's time in: samples a
# running command with perf, disassembles the hottest region of JIT code
# with gdb (from the live process), and prints the instruction mix
# weighted by samples plus the hottest instructions with their context.
# CPU drivers only; needs perf and gdb.
#
#   tools/jit_hot.sh [--wait S] [--for S] -- COMMAND ARGS...
#   tools/jit_hot.sh -- target/release/wgraph bench .cache/all-MiniLM-L6-v2 --batch 8 --seq 128 --reps 40
#
# Reading it: a per-lane storage-buffer load shows as a loop over the lanes
# that stores one value into a stack slot and reloads the whole vector
# (`mov %r,0x..(%rsp,%rsi,4)` then `vmovdqa 0x..(%rsp),%ymm`), the reload
# stalling on store forwarding; the samples pile on the `jmp` after it. A
# texel fetch is eight 16-byte loads (`vmovdqa`/`vinserti128`) and a
# transpose (`vpunpck*`).
set -euo pipefail
wait_s=8
for_s=5
while [ $# -gt 0 ]; do
  case "$1" in
    --wait) wait_s="$2"; shift 2 ;;
    --for) for_s="$2"; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: tools/jit_hot.sh [--wait S] [--for S] -- COMMAND ARGS..." >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: tools/jit_hot.sh [--wait S] [--for S] -- COMMAND ARGS..." >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$@" >/dev/null 2>&1 &
pid=$!
sleep "$wait_s"
kill -0 "$pid" 2>/dev/null || { echo "jit_hot: the command ended within --wait $wait_s s" >&2; exit 1; }
perf record -q -p "$pid" -o "$work/perf.data" -- sleep "$for_s" 2>/dev/null
perf script -i "$work/perf.data" -F ip,dso 2>/dev/null | grep -E "perf-|JIT" | awk '{print $1}' \
  | sort | uniq -c | awk '{print $2, $1}' > "$work/ips.txt"
[ -s "$work/ips.txt" ] || { echo "jit_hot: no samples in JIT code" >&2; kill "$pid" 2>/dev/null; exit 1; }
read -r lo hi < <(python3 - "$work/ips.txt" <<'PY'
import sys
c = [(int(a, 16), int(n)) for a, n in (l.split() for l in open(sys.argv[1]))]
best = max(c, key=lambda x: x[1])[0]
near = [a for a, _ in c if abs(a - best) < 8000]
print(f"{min(near):x} {max(near):x}")
PY
)
gdb -p "$pid" -batch -ex "disassemble 0x$lo,0x$hi" 2>/dev/null | grep -E "^ *0x" > "$work/dis.txt" || true
kill "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
python3 - "$work/ips.txt" "$work/dis.txt" <<'PY'
import collections, re, sys
counts = {int(a, 16): int(n) for a, n in (l.split() for l in open(sys.argv[1]))}
lines = []
for l in open(sys.argv[2]):
    m = re.match(r"\s*0x([0-9a-f]+)[^:]*:\s+(\S+)\s*(.*)", l)
    if m:
        lines.append((int(m.group(1), 16), m.group(2), m.group(3)))
total = sum(counts.get(a, 0) for a, _, _ in lines)
print(f"hottest JIT region: {len(lines)} instructions, {total} of {sum(counts.values())} JIT samples")
mix, weight = collections.Counter(), collections.Counter()
for a, op, args in lines:
    kind = op + ("[stack]" if "rsp" in args or "rbp" in args else "")
    mix[kind] += 1
    weight[kind] += counts.get(a, 0)
for kind, w in weight.most_common(16):
    print(f"  {kind:24s} {100 * w / max(total, 1):5.1f}% of samples  ({mix[kind]} in the code)")
for c, i in sorted(((counts.get(a, 0), i) for i, (a, _, _) in enumerate(lines)), reverse=True)[:2]:
    print(f"--- {c} samples at:")
    for a, op, args in lines[max(0, i - 12): i + 2]:
        print(f"  {counts.get(a, 0):5d}  {op} {args}")
PY
