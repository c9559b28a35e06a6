// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/compacthistogram.h"
#include "core/latencyhistogram.h"
#include "core/operationstats.h"

#include <deque>
#include <functional>
#include <memory>
#include <vector>

namespace perfdash {

/// One point of an operation's time series. Points of the last hour cover one second each;
/// older ones are merged to minutes, and those older than a day to hours (resolutionS says which).
struct SeriesPoint
{
    qint64 timestampMs = 0; ///< start of the interval, wall clock
    qint32 resolutionS = 1;
    quint64 count = 0;
    quint64 errors = 0;
    quint64 p50Ns = 0;
    quint64 p95Ns = 0;
    quint64 p99Ns = 0;
    quint64 maxNs = 0;
};

/**
 * The history of one operation: exact session totals, sliding windows of up to
 * StatsWindow::MaxSeconds, and a per-second series for the whole session with bounded memory.
 *
 * Events go into a histogram for the current second (CompactHistogram: sparse while it holds few
 * buckets, dense past that). When the second ends it is stored in sparse form (only non-empty
 * buckets) in a queue of the non-empty seconds of the last StatsWindow::MaxSeconds, added to the
 * session and the 5-minute accumulators, and summarised as a series point. Windows shorter than
 * five minutes merge their slots; the 5-minute window adds the newest slot and subtracts the one
 * that leaves. Series points are kept per second for an hour, per minute for a day and per hour
 * for 30 days, each downsampled point computed exactly from the merged histograms.
 *
 * Time is passed in (wall-clock milliseconds), so a test can run a day in a loop. Time that goes
 * backwards is treated as the current second. Not thread-safe: the owner locks.
 */
class OperationHistory final
{
public:
    static constexpr int SecondPointsKept = 3600;
    static constexpr int MinutePointsKept = 24 * 60;
    static constexpr int HourPointsKept = 30 * 24;

    OperationHistory();
    ~OperationHistory();
    OperationHistory(OperationHistory&&) noexcept;
    OperationHistory& operator=(OperationHistory&&) noexcept;

    void record(qint64 nowMs, quint64 durationNs, bool ok);
    /// Adds a whole interval's distribution at once, as instrumented clients send it.
    void recordHistogram(qint64 nowMs, const LatencyHistogram& delta, quint64 errors);
    void recordHistogram(qint64 nowMs, const SparseHistogram& delta, quint64 errors);
    /// Closes the seconds that have ended by @p nowMs.
    void advanceTo(qint64 nowMs);

    /// Fills @p out with the distribution of @p window as of @p nowMs; returns its error count.
    quint64 windowHistogram(qint64 nowMs, StatsWindow window, LatencyHistogram& out);
    OperationStats stats(qint64 nowMs, StatsWindow window, const QString& name);

    /// Points whose interval overlaps [fromMs, toMs], oldest first, each at the finest resolution
    /// still kept. The current, unfinished second is included only when @p includeCurrent.
    std::vector<SeriesPoint> series(qint64 fromMs, qint64 toMs, bool includeCurrent = false) const;

    /// Calls @p visit(second, histogram, errors) for every finished second after @p afterSecond
    /// still in the ring (the last StatsWindow::MaxSeconds), oldest first, then for the current,
    /// unfinished second when @p includeCurrent and it holds anything. For capture files.
    void forEachSecondAfter(qint64 afterSecond,
        const std::function<void(qint64 second, const SparseHistogram& histogram, quint64 errors)>& visit,
        bool includeCurrent = false) const;
    /// The second the current, unfinished histogram belongs to.
    qint64 currentSecond() const noexcept { return m_second; }

    quint64 totalCount() const noexcept;
    /// Operations of the finished seconds: totalCount() without the current, unfinished one.
    quint64 finishedCount() const noexcept;
    quint64 totalErrors() const noexcept;
    /// Heap and inline bytes this history holds (for the memory budget of long sessions).
    std::size_t memoryBytes() const noexcept;
    void clear();

private:
    struct Slice;
    struct Dense;

    void closeCurrentSecond(qint64 nextSecond);
    void expireWindow(qint64 newestSecond);
    void appendPoint(
        std::deque<SeriesPoint>& tier, qint64 startSecond, int resolutionS, const CompactHistogram& h, quint64 errors);

    std::unique_ptr<Dense> m_dense;
    std::deque<Slice> m_ring; ///< the finished, non-empty seconds of the last StatsWindow::MaxSeconds, oldest first
    qint64 m_second; ///< the second the current histogram belongs to
    qint64 m_windowOldest; ///< oldest second still inside the 5-minute accumulator
    std::deque<SeriesPoint> m_seconds;
    std::deque<SeriesPoint> m_minutes;
    std::deque<SeriesPoint> m_hours;
};

} // namespace perfdash
