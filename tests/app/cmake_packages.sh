#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Every CMake package the configure step used (the *_DIR entries of CMakeCache.txt) belongs to a
# Debian package that setup.sh lists, or to one those pull in through Depends or Pre-Depends.
# A Recommends does not count: setup.sh installs with --no-install-recommends, as a new user's
# machine gets it (Qt6Charts needing Qt6OpenGL, a Recommends of qt6-charts-dev, slipped through so).
#   tests/app/cmake_packages.sh BUILD_DIR [SETUP_SH]
set -euo pipefail
build=$1
setup=${2:-$(dirname "$0")/../../setup.sh}
cache="$build/CMakeCache.txt"
[ -f "$cache" ] || { echo "no $cache"; exit 1; }

# setup.sh's PACKAGES array, read without running the script.
eval "$(sed -n '/^PACKAGES=(/,/^)/p' "$setup")"
[ "${#PACKAGES[@]}" -gt 0 ] || { echo "no PACKAGES in $setup"; exit 1; }

# What the listed packages bring in: the closure over Depends and Pre-Depends of the installed
# packages. Of alternatives (a | b) the first counts, as apt installs the first when none is there; a
# virtual package counts as its installed providers.
closure=$(dpkg-query -W -f='${Package}\t${Depends}, ${Pre-Depends}\t${Provides}\t${Status}\n' |
    awk -F'\t' -v roots="${PACKAGES[*]}" '
    function name(s) { sub(/^[ \t]+/, "", s); sub(/[ \t(:].*$/, "", s); return s }
    $4 ~ / installed$/ {
        installed[$1] = 1; deps[$1] = $2
        n = split($3, provided, ",")
        for (i = 1; i <= n; i++) { p = name(provided[i]); if (p != "") providers[p] = providers[p] " " $1 }
    }
    END {
        n = split(roots, queue, " ")
        for (i = 1; i <= n; i++) seen[queue[i]] = 1
        for (head = 1; head <= n; head++) {
            m = split(deps[queue[head]], groups, ",")
            for (j = 1; j <= m; j++) {
                split(groups[j], alternatives, "|")
                first = name(alternatives[1])
                if (first == "") continue
                k = split(first in installed ? first : providers[first], picks, " ")
                for (l = 1; l <= k; l++)
                    if (!(picks[l] in seen)) { seen[picks[l]] = 1; queue[++n] = picks[l] }
            }
        }
        for (p in seen) print p
    }')

status=0
checked=0
while IFS= read -r line; do
    var=${line%%:*}
    dir=${line#*=}
    name=${var%_DIR}
    # A package's config file, by CMake's two spellings; other *_DIR entries are not packages.
    file=
    for candidate in "$dir/${name}Config.cmake" "$dir/$(tr '[:upper:]' '[:lower:]' <<< "$name")-config.cmake"; do
        [ -f "$candidate" ] && file=$candidate && break
    done
    [ -n "$file" ] || continue
    case $(readlink -f "$file") in "$(readlink -f "$build")"/*) continue ;; esac
    owner=$(dpkg -S "$file" 2> /dev/null || dpkg -S "$(readlink -f "$file")" 2> /dev/null || true)
    owner=${owner%%:*}
    owner=${owner%%,*}
    checked=$((checked + 1))
    if [ -z "$owner" ]; then
        echo "FAIL ${var}: $dir belongs to no Debian package"
        status=1
    elif grep -qxF "$owner" <<< "$closure"; then
        echo "ok   ${var}: $owner"
    else
        echo "FAIL ${var}: $owner is neither in setup.sh's PACKAGES nor a Depends of one of them"
        status=1
    fi
done < <(grep -E '^[A-Za-z0-9_.+-]+_DIR:(PATH|STRING|INTERNAL)=' "$cache")
[ "$checked" -gt 0 ] || { echo "no *_DIR entries in $cache"; exit 1; }
echo "$checked CMake packages checked against $(wc -l <<< "$closure") Debian packages that setup.sh installs"
exit $status
