// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/histogramqueries.h"
#include "core/metricsstore.h"

#include <QList>
#include <memory>
#include <vector>

namespace perfdash {

/// An operation of a process to chart; a group row ("api.*") charts its operations merged.
struct ChartTarget
{
    quint64 processKey = 0;
    QString operation;
    bool group = false;
    bool operator==(const ChartTarget&) const = default;
};

/// What the window asks for at each refresh.
struct SnapshotRequest
{
    quint64 job = 0;
    StatsWindow window = StatsWindow::last(60);
    quint64 processFilter = 0; ///< 0: operations of every process
    quint64 chartProcess = 0; ///< the selected operation's process
    QString chartOperation; ///< empty: no latency chart
    quint64 memoryProcess = 0; ///< whose memory and CPU to chart
    /// Two or more: the processes of the operations compared, each one's memory and CPU charted.
    QList<quint64> memoryProcesses;
    qint64 rangeMs = 5 * 60 * 1000; ///< how far back the charts go; 0: the whole session
    bool groupByPrefix = false; ///< add a merged row for each name prefix ("api.*")
    bool chartGroup = false; ///< chartOperation is a group row: chart its operations merged
    QList<ChartTarget> compare; ///< two or more: their series, to compare on one chart
    qint64 statsFromMs = 0; ///< with statsToMs: the table's statistics over this range, not window
    qint64 statsToMs = 0;
    bool heatmap = true; ///< the chart operation's latency heatmap
    /// Nothing chosen by the user: chart the listed operation with the largest total time (the
    /// chart operation above, if any, is the one charted so far: kept unless another costs
    /// CostliestMargin more, so that two close ones do not take turns).
    bool chartCostliest = false;
    static constexpr double CostliestMargin = 1.1;
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
    QList<QList<MemoryRecord>> memories; ///< one per SnapshotRequest::memoryProcesses
    std::vector<std::vector<SeriesPoint>> compared; ///< one per SnapshotRequest::compare
    LatencyHeatmap heatmap; ///< of the chart operation, over the seconds still held
    ChartTarget charted; ///< the operation the charts show: the one asked for, or the costliest
    bool statsRangeBeyondHeld = false; ///< the range starts before the oldest second still held
    int violations = 0;
};

using SnapshotPtr = std::shared_ptr<const DashboardSnapshot>;

/// Of @p rows (groups left out), the one with the largest total time (mean x count); @p current
/// stays unless another costs SnapshotRequest::CostliestMargin more. Empty when no row has a count.
ChartTarget costliestOperation(const QList<OperationRow>& rows, const ChartTarget& current = {});

/// Thread-safe (reads the store through its locks).
SnapshotPtr buildSnapshot(const MetricsStore& store, const SnapshotRequest& request);

/// This user's processes, from /proc, for the attach dialog.
QList<ProcessSample> listUserProcesses();

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::SnapshotPtr)
