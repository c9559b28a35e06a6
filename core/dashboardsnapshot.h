// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "metricsstore.h"

#include <QList>
#include <memory>
#include <vector>

namespace perfdash {

/// What the window asks for at each refresh.
struct SnapshotRequest
{
    quint64 job = 0;
    StatsWindow window = StatsWindow::last(60);
    quint64 processFilter = 0; ///< 0: operations of every process
    quint64 chartProcess = 0; ///< the selected operation's process
    QString chartOperation; ///< empty: no latency chart
    quint64 memoryProcess = 0; ///< whose memory and CPU to chart
    qint64 rangeMs = 5 * 60 * 1000; ///< how far back the charts go; 0: the whole session
    bool groupByPrefix = false; ///< add a merged row for each name prefix ("api.*")
};

struct OperationRow
{
    quint64 processKey = 0;
    qint64 pid = 0;
    QString process;
    OperationStats stats;
    bool slow = false; ///< the window holds operations over the slow threshold
    std::optional<BudgetViolation> violation; ///< the worst budget it breaks
    bool group = false; ///< a merged row of every operation under a prefix ("api.*")
};

/**
 * Everything the window shows at one refresh, computed off the GUI thread (buildSnapshot() merges
 * histograms) and handed over as a shared immutable value.
 */
struct DashboardSnapshot
{
    quint64 job = 0;
    qint64 takenAtMs = 0;
    QList<ProcessInfo> processes;
    QList<OperationRow> operations;
    std::vector<SeriesPoint> latency; ///< of the chart operation
    QList<MemoryRecord> memory; ///< of the memory process
    int violations = 0;
};

using SnapshotPtr = std::shared_ptr<const DashboardSnapshot>;

/// Thread-safe (reads the store through its locks).
SnapshotPtr buildSnapshot(const MetricsStore& store, const SnapshotRequest& request);

/// This user's processes, from /proc, for the attach dialog.
QList<ProcessSample> listUserProcesses();

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::SnapshotPtr)
