#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# perfdash -- COMMAND ARGS passes ARGS to COMMAND untouched, in the window as headless: Qt's own
# options (-style, --title, -geometry, -reverse) after "--" belong to the command, not to Qt.
set -euo pipefail
perfdash=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME="$work/config" XDG_RUNTIME_DIR="$work"
cat > "$work/prog" <<'PROG'
#!/bin/sh
out=$1
shift
printf '%s|' "$@" > "$out"
PROG
chmod +x "$work/prog"
expected='--name|foo|-style|fusion|--title|T|-geometry|10x10|-reverse|a|b|'
for mode in window headless; do
    rm -f "$work/args"
    mkfifo "$work/args"
    flags=(--duration 30)
    [ $mode = headless ] && flags+=(--headless --quiet)
    "$perfdash" --socket "$work/s.sock" "${flags[@]}" -- "$work/prog" "$work/args" \
        --name foo -style fusion --title T -geometry 10x10 -reverse a b &
    pid=$!
    # The command writes what it got into a FIFO: reading it waits for exactly that.
    got=$(timeout 30 cat "$work/args" || echo '(nothing)')
    kill "$pid" 2> /dev/null || true
    wait "$pid" 2> /dev/null || true
    if [ "$got" != "$expected" ]; then
        echo "$mode: the command got '$got', expected '$expected'"
        exit 1
    fi
    echo "$mode: the command got every argument"
done
