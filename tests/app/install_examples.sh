#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the build into a temporary prefix, builds examples/ against the installed package
# (CMake and pkg-config), checks the desktop entry, runs them under a headless perfdash and checks what it exported.
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > /dev/null
# The desktop entry and its icon, for application menus.
desktop-file-validate "$work/prefix/share/applications/perfdash.desktop"
grep -q '<svg' "$work/prefix/share/icons/hicolor/scalable/apps/perfdash.svg"
cmake -S "$source/examples" -B "$work/examples" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/examples" > /dev/null
libdir=$(dirname "$(find "$work/prefix" -name 'libperfdash_client.so' | head -n 1)")
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -o "$work/example_pc" "$source/examples/c/example.c" $(pkg-config --cflags --libs perfdash) -Wl,-rpath,"$libdir"
# pkg-config --static alone is enough to link a C program against the static C++ library.
cc -static -o "$work/example_static" "$source/examples/c/example.c" $(pkg-config --static --cflags --libs perfdash)
# grep -q stops reading at its first match: under pipefail the writer's SIGPIPE would fail the test,
# so whole outputs are read first.
if grep -q NEEDED <<< "$(readelf -d "$work/example_static")"; then
    echo "example_static is not a static program"
    exit 1
fi

# The installed programs run from their prefix, with no LD_LIBRARY_PATH (RPATH): the demo finds the
# installed client library, perfdash its own options.
unset LD_LIBRARY_PATH
grep -q -- '--export-csv' <<< "$("$work/prefix/bin/perfdash" --help)"
PERFDASH_SOCKET="$work/nobody-listens.sock" "$work/prefix/bin/perfdash-demo" --duration 2

for program in "$work/examples/example_c" "$work/examples/example_cpp" "$work/example_pc" "$work/example_static"; do
    name=$(basename "$program")
    "$work/prefix/bin/perfdash" --headless --quiet --socket "$work/s.sock" --export-csv "$work/$name.csv" -- "$program"
    cat "$work/$name.csv"
    case $name in
    example_cpp)
        grep -q ',example.lookup,1000,20,' "$work/$name.csv"
        grep -q ',example.render,1000,0,' "$work/$name.csv"
        ;;
    *)
        grep -q ',example.parse,1000,10,' "$work/$name.csv"
        grep -q ',example.compute,1000,0,' "$work/$name.csv"
        ;;
    esac
done
echo "installed package: CMake and pkg-config builds of the examples stream to perfdash"
