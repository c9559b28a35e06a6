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
export LD_LIBRARY_PATH="$libdir"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -o "$work/example_pc" "$source/examples/c/example.c" $(pkg-config --cflags --libs perfdash)

for program in "$work/examples/example_c" "$work/examples/example_cpp" "$work/example_pc"; do
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
