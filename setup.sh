#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# One-stop set-up on Debian 12: installs the missing packages, configures, builds, then runs.
#   ./setup.sh demo   build and launch perfdash with the demo workload attached (Ctrl+C stops it)
#   ./setup.sh test   check the code's format, build and run every test (what CI runs): the suite, the suite again under
#                     AddressSanitizer + UndefinedBehaviorSanitizer, the client's threads under
#                     ThreadSanitizer, and each fuzz target for 30 seconds
#   ./setup.sh quick  build and run the suite once (the everyday loop)
#   ./setup.sh build  only install and build
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(
    g++ cmake ninja-build pkg-config
    qt6-base-dev qt6-charts-dev libqt6opengl6-dev libqt6sql6-sqlite libqt6svg6 libgl-dev desktop-file-utils
    qt6-httpserver-dev qt6-websockets-dev libsimdjson-dev libbenchmark-dev libdw-dev libelf-dev
    libprotobuf-dev protobuf-compiler zlib1g-dev libgrpc++-dev
    xvfb xauth fonts-dejavu-core clang libclang-rt-dev sqlite3
    prometheus nodejs debuginfod libjemalloc2 libtcmalloc-minimal4 clang-format
    g++-aarch64-linux-gnu qemu-user musl-tools
)
BUILD_DIR=${PERFDASH_BUILD_DIR:-build}

install_missing() {
    local missing=()
    for p in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    # Debian ships npm apart from nodejs; Node.js builds from elsewhere bundle it.
    command -v npm > /dev/null || missing+=(npm)
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo > /dev/null; then
            echo "setup: these Debian packages are missing: ${missing[*]}" >&2
            echo "setup: installing them needs root, and there is no sudo here. As root, run:" >&2
            echo "    apt-get update && apt-get install --no-install-recommends ${missing[*]}" >&2
            echo "setup: then run $0 $1 again as yourself." >&2
            exit 1
        fi
        sudo=(sudo)
    fi
    echo "setup: installing ${missing[*]}"
    "${sudo[@]}" apt-get update -q
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
    cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFDASH_WERROR=ON
    cmake --build "$BUILD_DIR" --parallel "$(nproc)"
}

otel_packages() { # the OpenTelemetry Node packages of examples/otel (the otel_e2e test), from npm
    [ -d examples/otel/node_modules/@opentelemetry/sdk-node ] && return 0
    echo "setup: npm ci in examples/otel (OpenTelemetry SDK, instrumentations, exporters, Express)"
    (cd examples/otel && npm ci --no-audit --no-fund --loglevel=error)
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
    # build), the soak (a load test: under ASan the dashboard is slower than its clients), the fork
    # stress (a child forked while another thread holds the sanitizer allocator's lock hangs in
    # ASan's own code; the plain suite runs it) and the profiler's command-line
    # test (its target is built with the sanitizers too, which changes the functions it expects).
    # ASan keeps freed memory in a quarantine (256 MiB by default) to catch late uses: a load test
    # that bounds RSS saw it as growth (tst_load churn +384 MiB). 64 MiB still holds the recent frees.
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:quarantine_size_mb=64 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        suite "$BUILD_DIR-asan" -E '^(install_examples|soak_short|client_fork|tst_profilecli)$'

    echo "setup: the client library's threads under ThreadSanitizer"
    cmake -S . -B "$BUILD_DIR-tsan" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFDASH_BUILD_BENCH=OFF \
        -DCMAKE_CXX_FLAGS="-fsanitize=thread" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" > /dev/null
    cmake --build "$BUILD_DIR-tsan" --target client_threads client_unit
    TSAN_OPTIONS=halt_on_error=1 "$BUILD_DIR-tsan/bin/client_threads"
    for c in sparse losses reconnect unread reject scope_exact rings rings_threads; do TSAN_OPTIONS=halt_on_error=1 "$BUILD_DIR-tsan/bin/client_unit" $c; done
}

formatted() { # every C and C++ file as .clang-format says (Debian's clang-format 14)
    echo "setup: the code's format (clang-format --dry-run --Werror)"
    find app bench capture core fuzz heap http ipc models otlp profiler tests toolkit tools widgets examples \
        \( -name node_modules -o -name corpus -o -name 'corpus-*' \) -prune -o \
        \( -name '*.cpp' -o -name '*.h' -o -name '*.c' -o -name '*.hpp' \) -print0 |
        xargs -0 clang-format --dry-run --Werror
}

fuzz() {
    echo "setup: each fuzz target for ${PERFDASH_FUZZ_SECONDS:-30} seconds (libFuzzer, ASan, UBSan, LeakSanitizer)"
    CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR-fuzz" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPERFDASH_FUZZ=ON > /dev/null
    cmake --build "$BUILD_DIR-fuzz" --target fuzz_framedecoder fuzz_ndjson fuzz_otlp_json fuzz_otlp_protobuf fuzz_scopetimeline
    for target in fuzz_framedecoder fuzz_ndjson fuzz_otlp_json fuzz_otlp_protobuf fuzz_scopetimeline; do
        local corpus
        corpus=$(mktemp -d)
        cp fuzz/corpus/* "$corpus"/
        if [ -d "fuzz/corpus-$target" ]; then cp "fuzz/corpus-$target"/* "$corpus"/; fi
        "$BUILD_DIR-fuzz/bin/$target" "$corpus" -dict="fuzz/$target.dict" -max_total_time="${PERFDASH_FUZZ_SECONDS:-30}" -rss_limit_mb=2048 \
            -print_final_stats=1 2>&1 | tail -n 12
        rm -rf "$corpus"
    done
}

case "${1:-demo}" in
build)
    install_missing build
    build
    ;;
test)
    install_missing test
    formatted
    build
    otel_packages
    suite "$BUILD_DIR"
    sanitized
    fuzz
    tools/client-portability "$BUILD_DIR/portability" # the client library on aarch64 (qemu-user) and musl
    ;;
quick)
    install_missing quick
    build
    otel_packages
    suite "$BUILD_DIR"
    ;;
demo)
    install_missing demo
    build
    [ $# -gt 0 ] && shift # the rest goes to perfdash, e.g. --duration 30
    exec "$BUILD_DIR/bin/perfdash" --demo "$@"
    ;;
*)
    echo "usage: $0 [demo|test|quick|build]" >&2
    exit 2
    ;;
esac
