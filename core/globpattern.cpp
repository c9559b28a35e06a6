// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/globpattern.h"

namespace perfdash {

bool globMatch(QStringView pattern, QStringView text) noexcept
{
    // Iterative matcher with one backtrack point: linear for patterns with a single '*',
    // O(n*m) at worst, never recursive.
    qsizetype p = 0, t = 0, starP = -1, starT = 0;
    while (t < text.size()) {
        if (p < pattern.size() && (pattern[p] == u'?' || (pattern[p] != u'*' && pattern[p] == text[t]))) {
            ++p;
            ++t;
        } else if (p < pattern.size() && pattern[p] == u'*') {
            starP = p++;
            starT = t;
        } else if (starP >= 0) {
            p = starP + 1;
            t = ++starT;
        } else {
            return false;
        }
    }
    while (p < pattern.size() && pattern[p] == u'*')
        ++p;
    return p == pattern.size();
}

bool isLiteralPattern(QStringView pattern) noexcept
{
    return !pattern.contains(u'*') && !pattern.contains(u'?');
}

} // namespace perfdash
