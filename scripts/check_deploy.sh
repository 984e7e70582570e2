#!/usr/bin/env bash
# Validates deploy/kubernetes/*.yaml against the Kubernetes API schemas
# (kubernetes-validate from PyPI, strict: unknown fields are errors),
# installed once into .cache/kubernetes-validate.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cache/kubernetes-validate
if [ ! -d "$dest/kubernetes_validate" ]; then
    echo "check-deploy: installing kubernetes-validate from PyPI" >&2
    rm -rf "$dest.partial"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --target "$dest.partial" "kubernetes-validate==1.37.0" >&2
    rm -rf "$dest"
    mv "$dest.partial" "$dest"
fi
PYTHONPATH="$dest" python3 -m kubernetes_validate --strict --quiet deploy/kubernetes/*.yaml
