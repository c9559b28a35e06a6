#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One-stop set-up on Debian 12: installs the missing packages, configures, builds, then runs.
#   ./setup.sh demo   build and launch perfdash with the demo workload attached (Ctrl+C stops it)
#   ./setup.sh test   build and run every test (what CI runs): the suite, the suite again under
#                     AddressSanitizer + UndefinedBehaviorSanitizer, the client's threads under
#                     ThreadSanitizer, and each fuzz target for 30 seconds
#   ./setup.sh quick  build and run the suite once (the everyday loop)
#   ./setup.sh build  only install and build
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
    g++ cmake ninja-build pkg-config
    qt6-base-dev qt6-charts-dev libqt6sql6-sqlite libqt6svg6 libgl-dev desktop-file-utils
    libsimdjson-dev libbenchmark-dev
    xvfb xauth fonts-dejavu-core clang libclang-rt-dev sqlite3
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

suite() { # the test suite of one build directory; extra arguments go to ctest
    local dir=$1
    shift
    QT_QPA_PLATFORM=offscreen ctest --test-dir "$dir" --output-on-failure --no-tests=error \
        --parallel "$(nproc)" --timeout 600 "$@"
}

sanitized() {
    echo "setup: the suite under AddressSanitizer and UndefinedBehaviorSanitizer"
    local flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    cmake -S . -B "$BUILD_DIR-asan" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPERFDASH_BUILD_BENCH=OFF \
        -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
        -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
    cmake --build "$BUILD_DIR-asan" --parallel "$(nproc)"
    # Qt keeps global allocations until exit, which LeakSanitizer would call leaks; leaks are checked
    # where Qt is not in the way: by the fuzzers (the decoder) and ThreadSanitizer's client run.
    # Left out: the installed-package test (it links examples built without ASan against this
    # build) and the soak (a load test: under ASan the dashboard is slower than its clients).
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        suite "$BUILD_DIR-asan" -E '^(install_examples|soak_short)$'

    echo "setup: the client library's threads under ThreadSanitizer"
    cmake -S . -B "$BUILD_DIR-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFDASH_BUILD_BENCH=OFF \
        -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" > /dev/null
    cmake --build "$BUILD_DIR-tsan" --target client_threads
    TSAN_OPTIONS=halt_on_error=1 "$BUILD_DIR-tsan/bin/client_threads"
}

fuzz() {
    echo "setup: each fuzz target for ${PERFDASH_FUZZ_SECONDS:-30} seconds (libFuzzer, ASan, UBSan, LeakSanitizer)"
    CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFDASH_FUZZ=ON > /dev/null
    cmake --build "$BUILD_DIR-fuzz" --target fuzz_framedecoder fuzz_ndjson
    for target in fuzz_framedecoder fuzz_ndjson; do
        local corpus
        corpus=$(mktemp -d)
        cp ipc/fuzz/corpus/* "$corpus"/
        "$BUILD_DIR-fuzz/bin/$target" "$corpus" -dict="ipc/fuzz/$target.dict" -max_total_time="${PERFDASH_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
            -print_final_stats=1 2>&1 | tail -n 12
        rm -rf "$corpus"
    done
}

case "${1:-demo}" in
build)
    install_missing
    build
    ;;
test)
    install_missing
    build
    suite "$BUILD_DIR"
    sanitized
    fuzz
    ;;
quick)
    install_missing
    build
    suite "$BUILD_DIR"
    ;;
demo)
    install_missing
    build
    [ $# -gt 0 ] && shift # the rest goes to perfdash, e.g. --duration 30
    exec "$BUILD_DIR/bin/perfdash" --demo "$@"
    ;;
*)
    echo "usage: $0 [demo|test|quick|build]" >&2
    exit 2
    ;;
esac
