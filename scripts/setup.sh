#!/usr/bin/env bash
# Makes sure wgpu finds a Vulkan device. Machines without a GPU get Mesa's
# CPU Vulkan driver, lavapipe (Debian package mesa-vulkan-drivers); and a
# TrueType font for `wgraph compare --plot` (fonts-dejavu-core).
set -euo pipefail

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
