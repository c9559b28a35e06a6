#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One-stop set-up on Debian 12: installs the missing packages, configures, builds, then runs.
#   ./setup.sh demo   build and launch perfdash with the demo workload attached (Ctrl+C stops it)
#   ./setup.sh test   build and run every test (what CI runs)
#   ./setup.sh build  only install and build
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
    g++ cmake ninja-build pkg-config
    qt6-base-dev qt6-charts-dev libqt6sql6-sqlite libgl-dev
    libsimdjson-dev libbenchmark-dev
    xvfb xauth fonts-dejavu-core
    prometheus nodejs
)
BUILD_DIR=${PERFDASH_BUILD_DIR:-build}

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "setup: installing ${missing[*]}"
    local sudo=()
    [ "$(id -u)" -ne 0 ] && sudo=(sudo)
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFDASH_WERROR=ON
    cmake --build "$BUILD_DIR" --parallel "$(nproc)"
}

case "${1:-demo}" in
build)
    install_missing
    build
    ;;
test)
    install_missing
    build
    QT_QPA_PLATFORM=offscreen ctest --test-dir "$BUILD_DIR" --output-on-failure --no-tests=error \
        --parallel "$(nproc)" --timeout 600
    ;;
demo)
    install_missing
    build
    [ $# -gt 0 ] && shift # the rest goes to perfdash, e.g. --duration 30
    exec "$BUILD_DIR/bin/perfdash" --demo "$@"
    ;;
*)
    echo "usage: $0 [demo|test|build]" >&2
    exit 2
    ;;
esac
