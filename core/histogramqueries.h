// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/operationhistory.h"
#include "core/operationstats.h"

#include <QStringList>

#include <optional>
#include <vector>

namespace perfdash {

class PerformanceMonitor;

/**
 * Time x log-latency counts of one operation (or several merged), one column per second, built
 * from the per-second histograms the monitor keeps (the last StatsWindow::MaxSeconds). Row r
 * covers [10^((firstRow + r) / RowsPerDecade), 10^((firstRow + r + 1) / RowsPerDecade)) ns; an
 * operation is counted in the row of its histogram bucket's midpoint.
 */
struct LatencyHeatmap
{
    static constexpr int RowsPerDecade = 10;

    qint64 firstSecond = 0; ///< wall-clock second of column 0
    int columns = 0;
    int firstRow = 0; ///< absolute row of row 0 (see rowOfNs())
    int rows = 0;
    std::vector<quint64> counts; ///< counts[column * rows + row]
    quint64 maxCount = 0;

    bool isEmpty() const noexcept { return maxCount == 0; }
    quint64 count(int column, int row) const noexcept
    {
        return column >= 0 && column < columns && row >= 0 && row < rows
            ? counts[std::size_t(column) * std::size_t(rows) + std::size_t(row)]
            : 0;
    }
    quint64 rowLowerNs(int row) const noexcept;
    quint64 rowUpperNs(int row) const noexcept;
    static int rowOfNs(quint64 ns) noexcept;
};

/// The heatmap of @p operations merged, over the seconds [fromSecond, toSecond] still held.
LatencyHeatmap buildLatencyHeatmap(
    const PerformanceMonitor& monitor, const QStringList& operations, qint64 fromSecond, qint64 toSecond);

/// One point per second of @p operations merged into one distribution (what a group row "api.*"
/// charts), over the seconds in [fromMs, toMs] still held at one-second resolution.
std::vector<SeriesPoint> mergedSeries(
    const PerformanceMonitor& monitor, const QStringList& operations, qint64 fromMs, qint64 toMs);

/// Statistics of @p operations merged over the whole seconds in [fromMs, toMs] (a range chosen on
/// a chart), named @p name; nullopt when they saw nothing then. Exact where the per-second
/// histograms are still held; *beyondHeld says when the range starts before the oldest of them.
/// Its slowCount is the range's instances at or over each operation's slow threshold.
std::optional<OperationStats> rangeStats(const PerformanceMonitor& monitor, const QStringList& operations,
    const QString& name, qint64 fromMs, qint64 toMs, bool* beyondHeld = nullptr);

} // namespace perfdash
