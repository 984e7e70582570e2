#!/usr/bin/env bash
# Makes sure wgpu finds a Vulkan device. Machines without a GPU get Mesa's
# CPU Vulkan driver, lavapipe (Debian package mesa-vulkan-drivers); and a
# TrueType font for `wgraph compare --plot` (fonts-dejavu-core).
#
# With --web, also what the browser build needs: Rust's wasm32 target and
# wasm-bindgen-cli of exactly the version the wasm-bindgen crate is pinned
# to in graphs/web/Cargo.toml (the two must match). With --browser, that and
# what the browser tests need: Chromium and its WebDriver (Debian packages
# chromium, chromium-driver).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--browser" ]; then
    ./scripts/setup.sh --web
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
        echo "setup: installing chromium chromium-driver (headless WebGPU for the browser tests)" >&2
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || {
            $SUDO apt-get update >/dev/null
            $SUDO apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null
        }
    fi
    exit 0
fi

if [ "${1:-}" = "--web" ]; then
    ./scripts/setup.sh
    targets=$(rustup target list --installed)
    if [[ "$targets" != *wasm32-unknown-unknown* ]]; then
        echo "setup: adding Rust's wasm32-unknown-unknown target" >&2
        rustup target add wasm32-unknown-unknown >/dev/null
    fi
    want=$(sed -n 's/^wasm-bindgen = "=\(.*\)"/\1/p' graphs/web/Cargo.toml)
    have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
    if [ "$have" != "$want" ]; then
        echo "setup: installing wasm-bindgen-cli $want (found: ${have:-none}; takes a few minutes once)" >&2
        cargo install --quiet wasm-bindgen-cli --version "$want" >/dev/null
    fi
    exit 0
fi

have_vulkan_driver() {
    # The loader plus at least one installable client driver (ICD).
    # (No `grep -q` on a pipe: under pipefail its early exit fails the pipe.)
    local libs icds
    libs=$(ldconfig -p 2>/dev/null || true)
    [[ "$libs" == *libvulkan.so.1* ]] || return 1
    icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null || true)
    [ -n "$icds" ]
}

# `wgraph compare --plot` labels its charts with a system TrueType font.
have_font() {
    [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]
}

if have_vulkan_driver && have_font; then
    exit 0
fi

packages=()
have_vulkan_driver || packages+=(mesa-vulkan-drivers libvulkan1)
have_font || packages+=(fonts-dejavu-core)
echo "setup: installing ${packages[*]} (no Vulkan driver or no DejaVu font found)" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update >/dev/null
    $SUDO apt-get install -y --no-install-recommends "${packages[@]}" >/dev/null
}
have_vulkan_driver || { echo "setup: Vulkan driver still missing after install" >&2; exit 1; }
have_font || { echo "setup: DejaVu font still missing after install" >&2; exit 1; }
