#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# perfdash and `perf record -g --call-graph dwarf` attached side by side, in one run, to gcc's cc1
# compiling a large generated C file (the big test target's source, at -O2): samples kept and lost,
# the first second, and each profiler's CPU against cc1's over the same window.
#   bench/profile_cc1.sh [BUILD_DIR] [SECONDS] [HZ]
set -euo pipefail
build=${1:-build}
seconds=${2:-20}
hz=${3:-499}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/perfdash_bigbinary_gen" 40000 > "$work/big.c"
gcc -O2 -c "$work/big.c" -o "$work/big.o" &
gccpid=$!
cc1=""
for _ in $(seq 100); do
    cc1=$(pgrep -P "$gccpid" -x cc1 || true)
    [ -n "$cc1" ] && break
    sleep 0.05
done
[ -n "$cc1" ] || { echo "no cc1 under gcc $gccpid" >&2; exit 1; }
sleep 1 # cc1 past its start-up, so that both attach to the same steady work
TIMEFORMAT='%U %S'
{ time perf record -q -g --call-graph dwarf -F "$hz" -p "$cc1" -o "$work/perf.data" -- sleep "$seconds" > /dev/null 2>&1; } 2> "$work/perf.time" &
perfpid=$!
"$build/bin/bench_profiler" attach "$cc1" "$seconds" "$hz" | sed 's/^attached process/perfdash on cc1/'
wait "$perfpid"
read -r user sys < "$work/perf.time"
kill "$cc1" "$gccpid" 2> /dev/null || true # the comparison is done: the compilation need not finish
# "SAMPLE events: 9569 (93.6%)", "LOST_SAMPLES events: ...", "LOST events: ..." (perf report --stats)
stats=$(perf report -i "$work/perf.data" --stats 2>/dev/null)
field() { echo "$stats" | awk -v kind="$1" '$1 == kind && $2 == "events:" { print $3 }' | head -n 1; }
samples=$(field SAMPLE)
lost=$(field LOST_SAMPLES)
lostchunks=$(field LOST)
echo "perf record on cc1: ${samples:-0} samples, lost ${lost:-0} samples in ${lostchunks:-0} LOST records; perf record CPU $(awk "BEGIN { print $user + $sys }") s (user $user, system $sys)"
wait "$gccpid" 2> /dev/null || true
