// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QMetaType>
#include <QString>

namespace perfdash {

class LatencyHistogram;

/// How far back statistics look: the last @c seconds (1..MaxSeconds, the current partial second
/// included), or the whole session when @c seconds is 0.
struct StatsWindow
{
    static constexpr int MaxSeconds = 300;
    int seconds = 0;

    static constexpr StatsWindow session() noexcept { return { 0 }; }
    static constexpr StatsWindow last(int s) noexcept { return { s }; }
    constexpr bool isSession() const noexcept { return seconds <= 0; }
    bool operator==(const StatsWindow&) const = default;
};

/// Statistics of one operation over one window. Durations are nanoseconds.
struct OperationStats
{
    QString operation;
    quint64 count = 0;
    quint64 successCount = 0;
    quint64 errorCount = 0;
    double errorRate = 0.0; ///< errorCount / count, 0..1
    double meanNs = 0.0;
    quint64 totalNs = 0; ///< the sum of the durations (exact): the time spent in the operation
    quint64 minNs = 0;
    quint64 maxNs = 0;
    quint64 p50Ns = 0;
    quint64 p90Ns = 0;
    quint64 p95Ns = 0;
    quint64 p99Ns = 0;
    quint64 p999Ns = 0;
    quint64 overflowCount = 0; ///< durations beyond the histogram's range (over 9.77 hours)
    quint64 slowCount = 0; ///< operations over the slow threshold (session-wide)
    /// Counted from a sender's histogram buckets (OTLP histogram metrics), not from durations:
    /// its percentiles are only as precise as the sender's bucket bounds.
    bool fromSenderBuckets = false;

    static OperationStats fromHistogram(QString operation, const LatencyHistogram& histogram, quint64 errors);
};

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::OperationStats)
