// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/histogramqueries.h"

#include "core/latencyhistogram.h"
#include "core/performancemonitor.h"

#include <cmath>
#include <limits>
#include <map>

namespace perfdash {

namespace {
qint64 floorSecond(qint64 ms)
{
    return ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
}

quint64 midpoint(int bucket)
{
    return LatencyHistogram::bucketLowerBound(bucket) + LatencyHistogram::bucketWidth(bucket) / 2;
}

/// Visits every held second of @p operations in [fromSecond, toSecond] (the current one too).
template <typename Visit>
void forEachSecond(
    const PerformanceMonitor& monitor, const QStringList& operations, qint64 fromSecond, qint64 toSecond, Visit visit)
{
    for (const QString& name : operations) {
        monitor.forEachSecondAfter(
            name, fromSecond - 1,
            [&](qint64 second, const SparseHistogram& h, quint64 errors) {
                if (second <= toSecond)
                    visit(second, h, errors);
            },
            true);
    }
}
} // namespace

int LatencyHeatmap::rowOfNs(quint64 ns) noexcept
{
    return int(std::floor(std::log10(double(std::max<quint64>(ns, 1))) * RowsPerDecade + 1e-9));
}

quint64 LatencyHeatmap::rowLowerNs(int row) const noexcept
{
    return quint64(std::llround(std::pow(10.0, double(firstRow + row) / RowsPerDecade)));
}

quint64 LatencyHeatmap::rowUpperNs(int row) const noexcept
{
    return rowLowerNs(row + 1);
}

LatencyHeatmap buildLatencyHeatmap(
    const PerformanceMonitor& monitor, const QStringList& operations, qint64 fromSecond, qint64 toSecond)
{
    LatencyHeatmap map;
    if (toSecond < fromSecond)
        return map;
    // First pass into a sparse form: (column, absolute row) -> count.
    std::map<std::pair<int, int>, quint64> cells;
    int low = std::numeric_limits<int>::max(), high = std::numeric_limits<int>::min();
    forEachSecond(monitor, operations, fromSecond, toSecond, [&](qint64 second, const SparseHistogram& h, quint64) {
        const int column = int(second - fromSecond);
        for (const auto& [bucket, count] : h.buckets) {
            const int row = LatencyHeatmap::rowOfNs(midpoint(bucket));
            cells[{ column, row }] += count;
            low = std::min(low, row);
            high = std::max(high, row);
        }
    });
    map.firstSecond = fromSecond;
    map.columns = int(toSecond - fromSecond + 1);
    if (cells.empty())
        return map;
    map.firstRow = low;
    map.rows = high - low + 1;
    map.counts.assign(std::size_t(map.columns) * std::size_t(map.rows), 0);
    for (const auto& [at, count] : cells) {
        quint64& cell = map.counts[std::size_t(at.first) * std::size_t(map.rows) + std::size_t(at.second - low)];
        cell += count;
        map.maxCount = std::max(map.maxCount, cell);
    }
    return map;
}

std::vector<SeriesPoint> mergedSeries(
    const PerformanceMonitor& monitor, const QStringList& operations, qint64 fromMs, qint64 toMs)
{
    std::map<qint64, std::pair<LatencyHistogram, quint64>> seconds;
    forEachSecond(monitor, operations, floorSecond(fromMs), floorSecond(toMs),
        [&](qint64 second, const SparseHistogram& h, quint64 errors) {
            auto& [histogram, failed] = seconds[second];
            h.addTo(histogram);
            failed += errors;
        });
    std::vector<SeriesPoint> out;
    out.reserve(seconds.size());
    for (const auto& [second, merged] : seconds) {
        const LatencyHistogram& h = merged.first;
        SeriesPoint p;
        p.timestampMs = second * 1000;
        p.count = h.count();
        p.errors = merged.second;
        p.p50Ns = h.valueAtQuantile(0.50);
        p.p95Ns = h.valueAtQuantile(0.95);
        p.p99Ns = h.valueAtQuantile(0.99);
        p.maxNs = h.maxNs();
        out.push_back(p);
    }
    return out;
}

std::optional<OperationStats> rangeStats(const PerformanceMonitor& monitor, const QStringList& operations,
    const QString& name, qint64 fromMs, qint64 toMs, bool* beyondHeld)
{
    LatencyHistogram h;
    quint64 errors = 0, slow = 0;
    qint64 oldest = std::numeric_limits<qint64>::max();
    const qint64 fromSecond = floorSecond(fromMs);
    for (const QString& operation : operations) {
        // The instances of the range at or over the operation's own slow threshold, counted from
        // its histograms: the bucket holding the threshold counts whole (buckets are under 1%
        // wide), and durations beyond the histogram's range are over any threshold.
        const quint64 slowNs = monitor.thresholdsFor(operation).slowNs;
        const int firstSlowBucket
            = slowNs ? LatencyHistogram::bucketIndex(std::min(slowNs, LatencyHistogram::MaxTrackableNs)) : -1;
        forEachSecond(monitor, { operation }, fromSecond, floorSecond(toMs),
            [&](qint64 second, const SparseHistogram& s, quint64 failed) {
                s.addTo(h);
                errors += failed;
                oldest = std::min(oldest, second);
                if (firstSlowBucket < 0)
                    return;
                for (const auto& [bucket, count] : s.buckets)
                    slow += bucket >= firstSlowBucket ? count : 0;
                slow += s.overflow;
            });
    }
    if (beyondHeld) {
        // The ring holds StatsWindow::MaxSeconds seconds back from the newest: earlier ones are gone.
        const qint64 nowSecond = floorSecond(monitor.clock()->wallMs());
        *beyondHeld = fromSecond <= nowSecond - StatsWindow::MaxSeconds;
    }
    if (h.isEmpty())
        return std::nullopt;
    OperationStats stats = OperationStats::fromHistogram(name, h, errors);
    stats.slowCount = slow;
    return stats;
}

} // namespace perfdash
