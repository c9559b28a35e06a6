// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "otlp/otlpdata.h"

#include <QHash>
#include <QMutex>
#include <QSet>

#include <atomic>
#include <map>

namespace perfdash {

class MetricsStore;

/**
 * Decoded OTLP into the store, through its public feeding calls (the ones the socket ingest uses):
 * - a span is an operation: its name (prefixed by its kind unless SERVER or UNSPECIFIED, so that
 *   "GET" as a server and "[client] GET" stay apart), its duration, failed when its status is
 *   ERROR. The spans of one request are counted as one histogram per operation (exact counts,
 *   one store call per operation), and a slow span also travels as a raw event with its
 *   attributes as metadata, so alerts show them. Internal spans can be left out (counted as hidden).
 * - the resource names the process: service.name, with process.pid when it is a process of this
 *   host (then /proc samples it), else one entry per service instance.
 * - histograms of durations become operations ("METRIC {attributes}"), their buckets placed at
 *   each bucket's middle: percentiles are as precise as the sender's buckets. Cumulative series
 *   are turned into deltas here. Sums become counters, gauges gauges, process.* memory the memory.
 * Not thread-safe: one receiver thread calls it.
 */
class OtlpIngest
{
public:
    struct Result
    {
        quint64 accepted = 0;
        quint64 rejected = 0;
        QString message; ///< why some were rejected, for partial_success.error_message
    };
    struct Stats
    {
        quint64 spans = 0; ///< spans counted as operations
        quint64 hiddenSpans = 0; ///< internal spans left out while hideInternalSpans()
        quint64 rejectedSpans = 0;
        quint64 points = 0; ///< metric data points applied
        quint64 rejectedPoints = 0;
    };

    explicit OtlpIngest(MetricsStore* store);
    ~OtlpIngest();

    Result applyTraces(const otlp::Traces& traces);
    Result applyMetrics(const otlp::Metrics& metrics);

    void setHideInternalSpans(bool hide) { m_hideInternal.store(hide, std::memory_order_relaxed); }
    bool hideInternalSpans() const { return m_hideInternal.load(std::memory_order_relaxed); }
    /// Spans at least this long keep their attributes: the store's slow threshold.
    quint64 attributesFromNs() const;
    Stats stats() const;

    /// "GET /users/:id" for a server span, "[client] GET" for a client span, and so on.
    static QString operationName(const QString& spanName, otlp::SpanKind kind);
    /// Nanoseconds per unit of a duration metric ("s", "ms", "us", "ns", "min", "h"); 0 if not a duration.
    static double nanosPerUnit(const QString& unit);

private:
    struct Series; // the last cumulative point of a histogram series
    quint64 processKey(const otlp::Resource& resource);
    /// False when the point is refused (absurd counts, too many series).
    bool applyHistogram(quint64 key, const otlp::Metric& metric, const otlp::Attributes& attributes, quint64 startNs,
        quint64 count, double sum, std::optional<double> min, std::optional<double> max,
        std::map<int, quint64>&& buckets, double scale);

    MetricsStore* m_store;
    std::atomic<bool> m_hideInternal { false };
    QHash<QString, quint64> m_processes; // resource identity -> store key
    QSet<quint64> m_sampledLocally; // keys opened with a pid of this host
    std::map<QString, Series> m_series;
    QHash<QString, double> m_deltaSums; // running totals of delta monotonic sums
    mutable QMutex m_statsMutex;
    Stats m_stats;
};

} // namespace perfdash
