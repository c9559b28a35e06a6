// SPDX-License-Identifier: GPL-3.0-or-later
// For the heap's tests: what a heap profile says of the sites of helpers/heaptarget.cpp
// ("sites": hold_site, leak_site, churn_site).
#pragma once

#include "profiler/calltree.h"

#include <QString>

namespace perfdashtest {

/// The bytes under the outermost calls of the function whose name starts with @p site.
inline quint64 bytesOf(const perfdash::ProfileSnapshotPtr& snapshot, const QString& site)
{
    if (!snapshot)
        return 0;
    for (const perfdash::FunctionCost& cost : snapshot->topFunctions()) {
        if (snapshot->functions[cost.function].name.startsWith(site))
            return cost.total;
    }
    return 0;
}

/// Which of the three sites has the most bytes in @p snapshot; empty when none has any.
inline QString firstSite(const perfdash::ProfileSnapshotPtr& snapshot)
{
    QString best;
    quint64 most = 0;
    for (const char* site : { "hold_site", "leak_site", "churn_site" }) {
        if (const quint64 bytes = bytesOf(snapshot, QString::fromLatin1(site)); bytes > most) {
            most = bytes;
            best = QString::fromLatin1(site);
        }
    }
    return best;
}

} // namespace perfdashtest
