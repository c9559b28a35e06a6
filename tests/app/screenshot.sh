#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# perfdash --demo --duration S --screenshot FILE writes a PNG of the window and exits 0.
set -euo pipefail
perfdash=$1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export XDG_CONFIG_HOME="$work/config" XDG_RUNTIME_DIR="$work"
"$perfdash" --socket "$work/s.sock" --demo --duration 4 --screenshot "$work/shot.png" --export-csv "$work/stats.csv"
head -c 8 "$work/shot.png" | od -An -c | grep -q 'P   N   G'
size=$(stat -c %s "$work/shot.png")
[ "$size" -gt 20000 ] || { echo "screenshot too small: $size bytes"; exit 1; }
grep -q ',orders-api,db.query,' "$work/stats.csv"
echo "screenshot: $size bytes; the demo's operations were exported"
