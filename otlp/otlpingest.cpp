// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlp/otlpingest.h"

#include "core/latencyhistogram.h"
#include "core/metricsstore.h"

#include <QDateTime>
#include <QSysInfo>

#include <cmath>

namespace perfdash {

using namespace otlp;

/// A cumulative histogram series as last seen: the next point's delta is the difference.
struct OtlpIngest::Series
{
    quint64 startNs = 0;
    quint64 count = 0;
    double sum = 0.0;
    std::map<int, quint64> buckets;
};

namespace {

constexpr int OverflowBucket = -1;
// Bounds on what a sender can make us keep: series of cumulative histograms, and processes.
constexpr std::size_t MaxSeries = 100'000;
constexpr int MaxProcesses = 1000;
// A data point counting more than this (a million a second for 12 days) is refused.
constexpr quint64 MaxPointCount = quint64(1) << 40;

int bucketOf(double ns)
{
    if (!(ns >= 0.0))
        return 0;
    if (ns > double(LatencyHistogram::MaxTrackableNs))
        return OverflowBucket;
    return LatencyHistogram::bucketIndex(quint64(std::llround(ns)));
}

/// Attributes that say where a request went, not what it was: left out of operation names, where
/// ports and addresses would split one route into many.
bool isPlumbing(const QString& key)
{
    return key.startsWith(u"net.") || key.startsWith(u"network.") || key.startsWith(u"server.")
        || key.startsWith(u"client.") || key.startsWith(u"url.") || key.startsWith(u"user_agent.")
        || key == u"http.flavor" || key == u"http.scheme";
}

/// The metric's series name: "http.server.request.duration {http.request.method=GET,http.route=/users/:id}".
/// Status attributes are left out of the name: they count as errors of the series instead.
QString seriesName(const QString& metric, const Attributes& attributes, bool* failed)
{
    QString name = metric;
    QString inner;
    for (const auto& [key, value] : attributes) {
        if (isPlumbing(key))
            continue;
        if (key == u"error.type") {
            *failed = true;
            continue;
        }
        if (key == u"http.response.status_code" || key == u"http.status_code") {
            *failed = *failed || value.toInt() >= 500;
            continue;
        }
        if (key == u"rpc.grpc.status_code") {
            *failed = *failed || value.toInt() != 0;
            continue;
        }
        if (!inner.isEmpty())
            inner += u',';
        inner += key + u'=' + value;
    }
    if (!inner.isEmpty())
        name += QStringLiteral(" {") + inner + u'}';
    return name;
}

QString plainSeriesName(const QString& metric, const Attributes& attributes)
{
    if (attributes.isEmpty())
        return metric;
    QString inner;
    for (const auto& [key, value] : attributes) {
        if (!inner.isEmpty())
            inner += u',';
        inner += key + u'=' + value;
    }
    return metric + QStringLiteral(" {") + inner + u'}';
}

enum class MemoryKind { None, Rss, Heap };

MemoryKind memoryKind(const QString& name)
{
    // Semantic conventions' process.memory.usage is the resident set; runtimes add their heaps.
    if (name == u"process.memory.usage" || name == u"process.memory.rss" || name == u"process.runtime.memory.rss"
        || (name.startsWith(u"process.runtime.") && name.endsWith(u".memory.rss")))
        return MemoryKind::Rss;
    if (name == u"v8js.memory.heap.used" || name == u"process.runtime.nodejs.memory.heap.used"
        || name == u"jvm.memory.used" || name == u"process.runtime.jvm.memory.usage"
        || name == u"process.runtime.go.mem.heap_alloc" || name == u"go.memory.used"
        || name == u"process.runtime.dotnet.gc.heap.size" || name == u"dotnet.gc.last_collection.heap.size"
        || name == u"process.runtime.cpython.memory")
        return MemoryKind::Heap;
    return MemoryKind::None;
}

} // namespace

OtlpIngest::OtlpIngest(MetricsStore* store)
    : m_store(store)
{
}

OtlpIngest::~OtlpIngest() = default;

QString OtlpIngest::operationName(const QString& spanName, SpanKind kind)
{
    const QString name = spanName.isEmpty() ? QStringLiteral("(unnamed span)") : spanName;
    switch (kind) {
    case SpanKind::Server:
    case SpanKind::Unspecified:
        return name;
    case SpanKind::Client:
        return QStringLiteral("[client] ") + name;
    case SpanKind::Internal:
        return QStringLiteral("[internal] ") + name;
    case SpanKind::Producer:
        return QStringLiteral("[producer] ") + name;
    case SpanKind::Consumer:
        return QStringLiteral("[consumer] ") + name;
    }
    return name;
}

double OtlpIngest::nanosPerUnit(const QString& unit)
{
    if (unit == u"s")
        return 1e9;
    if (unit == u"ms")
        return 1e6;
    if (unit == u"us" || unit == u"\u00b5s")
        return 1e3;
    if (unit == u"ns")
        return 1.0;
    if (unit == u"min")
        return 60e9;
    if (unit == u"h")
        return 3600e9;
    return 0.0;
}

quint64 OtlpIngest::attributesFromNs() const
{
    const quint64 slow = m_store->thresholds().slowNs;
    return slow ? slow : ~quint64(0);
}

OtlpIngest::Stats OtlpIngest::stats() const
{
    QMutexLocker lock(&m_statsMutex);
    return m_stats;
}

quint64 OtlpIngest::processKey(const Resource& r)
{
    static const QString localHost = QSysInfo::machineHostName();
    // A pid names a process only on its host; elsewhere it may be anyone's here.
    const bool local = r.pid > 0 && (r.hostName.isEmpty() || r.hostName == localHost);
    QString identity = r.serviceNamespace + u'/' + r.serviceName + u'/';
    if (!r.instanceId.isEmpty())
        identity += QStringLiteral("instance:") + r.instanceId;
    else if (r.pid > 0)
        identity += r.hostName + QStringLiteral(":pid:") + QString::number(r.pid);
    quint64 key = m_processes.value(identity);
    if (key && !m_store->processName(key).isEmpty())
        return key;
    if (!key && m_processes.size() >= MaxProcesses)
        return 0;
    QString name = r.serviceNamespace.isEmpty() ? r.serviceName : r.serviceNamespace + u'/' + r.serviceName;
    if (!local && !r.hostName.isEmpty())
        name += QStringLiteral(" @") + r.hostName;
    if (r.pid > 0 && !local)
        name += QStringLiteral(" (pid %1)").arg(r.pid);
    else if (r.pid <= 0 && !r.instanceId.isEmpty())
        name += QStringLiteral(" [") + r.instanceId.left(8) + u']';
    key = m_store->openProcess(local ? r.pid : 0, name, r.commandLine);
    if (key) {
        m_processes.insert(identity, key);
        if (local)
            m_sampledLocally.insert(key);
    }
    return key;
}

OtlpIngest::Result OtlpIngest::applyTraces(const Traces& traces)
{
    Result result;
    quint64 hidden = 0;
    const bool hideInternal = hideInternalSpans();
    struct Aggregate
    {
        QString operation;
        SparseHistogram histogram;
        quint64 errors = 0;
    };
    // Keyed by what the span says, so that the operation's name ("[client] GET") is made once per
    // request and name, not once per span.
    QHash<std::pair<QString, int>, Aggregate> byOperation;
    std::vector<OperationSample> slow;
    quint64 slowErrorNs = 0; // attributesFromNs(), asked of the store once per request at most
    for (const ResourceSpans& group : traces.resources) {
        const quint64 key = processKey(group.resource);
        if (!key) {
            result.rejected += group.spans.size();
            result.message = QStringLiteral("too many services (at most %1)").arg(MaxProcesses);
            continue;
        }
        byOperation.clear();
        quint64 invalid = 0;
        for (const Span& span : group.spans) {
            if (span.startNs == 0 || span.endNs < span.startNs) {
                ++invalid;
                continue;
            }
            if (hideInternal && span.kind == SpanKind::Internal) {
                ++hidden;
                continue;
            }
            const quint64 ns = span.endNs - span.startNs;
            Aggregate& a = byOperation[std::pair(span.name, int(span.kind))];
            if (a.operation.isEmpty())
                a.operation = operationName(span.name, span.kind);
            SparseHistogram& h = a.histogram;
            if (ns > LatencyHistogram::MaxTrackableNs) {
                ++h.overflow;
            } else {
                h.buckets.emplace_back(quint16(LatencyHistogram::bucketIndex(ns)), 1u);
                h.sumNs += ns;
                h.minNs = h.count == h.overflow ? ns : std::min(h.minNs, ns);
                h.maxNs = std::max(h.maxNs, ns);
            }
            ++h.count;
            a.errors += span.error ? 1 : 0;
            if (span.error && !slowErrorNs)
                slowErrorNs = attributesFromNs();
            if (!span.attributes.isEmpty() || (span.error && ns >= slowErrorNs)) {
                QVariantMap metadata = span.attributes;
                metadata.insert(QStringLiteral("span.kind"), int(span.kind));
                if (!span.statusMessage.isEmpty())
                    metadata.insert(QStringLiteral("status.message"), span.statusMessage);
                slow.push_back(OperationSample { a.operation, qint64(span.endNs / 1'000'000), ns, !span.error,
                    OperationSample::Severity::Normal, 0, std::move(metadata), qint64(span.startNs) });
            }
        }
        for (const Aggregate& a : std::as_const(byOperation))
            m_store->recordHistogram(key, a.operation, a.histogram, a.errors);
        // Counted above; these carry their attributes to the alerts.
        for (OperationSample& sample : slow)
            m_store->recordEvent(key, std::move(sample));
        slow.clear();
        result.accepted += group.spans.size() - invalid;
        if (invalid) {
            result.rejected += invalid;
            result.message = QStringLiteral("%1 span(s) without a start time or ending before they start").arg(invalid);
        }
    }
    QMutexLocker lock(&m_statsMutex);
    m_stats.spans += result.accepted - hidden;
    m_stats.hiddenSpans += hidden;
    m_stats.rejectedSpans += result.rejected;
    return result;
}

bool OtlpIngest::applyHistogram(quint64 key, const Metric& metric, const Attributes& attributes, quint64 startNs,
    quint64 count, double sum, std::optional<double> min, std::optional<double> max, std::map<int, quint64>&& buckets,
    double scale)
{
    bool failed = false;
    const QString operation = seriesName(metric.name, attributes, &failed);
    std::map<int, quint64> delta;
    double deltaSum = sum;
    quint64 deltaCount = count;
    if (metric.temporality == Temporality::Cumulative) {
        const QString seriesKey = QString::number(key) + u'\x1f' + plainSeriesName(metric.name, attributes);
        auto it = m_series.find(seriesKey);
        if (it == m_series.end() && m_series.size() >= MaxSeries)
            return false;
        Series& s = m_series[seriesKey];
        const bool continues = it != m_series.end() && s.startNs == startNs && count >= s.count;
        if (continues) {
            for (const auto& [index, c] : buckets) {
                const auto prev = s.buckets.find(index);
                const quint64 before = prev == s.buckets.end() ? 0 : prev->second;
                if (c > before)
                    delta.emplace(index, c - before);
            }
            deltaSum = sum - s.sum;
            deltaCount = count - s.count;
            min.reset(); // a cumulative series' min and max are since its start, not of this delta
            max.reset();
        } else {
            delta = buckets; // first sight (or a restart): everything it counted so far
        }
        s.startNs = startNs;
        s.count = count;
        s.sum = sum;
        s.buckets = std::move(buckets);
    } else {
        delta = std::move(buckets);
    }
    if (deltaCount == 0)
        return true;
    quint64 inBuckets = 0;
    for (const auto& [index, c] : delta)
        inBuckets += std::min(c, MaxPointCount + 1);
    if (deltaCount > MaxPointCount || inBuckets > MaxPointCount)
        return false; // beyond any real count: a sender's bug, or an attack on our memory
    SparseHistogram h;
    h.fromSenderBuckets = true;
    quint64 placed = 0;
    quint64 lo = ~quint64(0);
    quint64 hi = 0;
    for (const auto& [index, c] : delta) {
        placed += c;
        if (index == OverflowBucket) {
            h.overflow += c;
            continue;
        }
        for (quint64 left = c; left > 0;) {
            const quint32 part = quint32(std::min<quint64>(left, std::numeric_limits<quint32>::max()));
            h.buckets.emplace_back(quint16(index), part);
            left -= part;
        }
        lo = std::min(lo, LatencyHistogram::bucketLowerBound(index));
        hi = std::max(hi, LatencyHistogram::bucketLowerBound(index) + LatencyHistogram::bucketWidth(index) - 1);
    }
    // The count is the sender's: buckets that lost counts to a clamp are made up as overflow.
    h.count = std::max(placed, deltaCount);
    h.overflow += h.count - placed;
    h.sumNs = deltaSum > 0 ? quint64(std::min(deltaSum * scale, 1.8e19)) : 0;
    h.minNs = min ? quint64(std::clamp(*min * scale, 0.0, double(LatencyHistogram::MaxTrackableNs))) : (hi ? lo : 0);
    h.maxNs = max ? quint64(std::clamp(*max * scale, 0.0, double(LatencyHistogram::MaxTrackableNs))) : hi;
    if (h.minNs > h.maxNs)
        std::swap(h.minNs, h.maxNs);
    m_store->recordHistogram(key, operation, h, failed ? h.count : 0);
    return true;
}

OtlpIngest::Result OtlpIngest::applyMetrics(const Metrics& metrics)
{
    Result result;
    for (const ResourceMetrics& group : metrics.resources) {
        quint64 points = 0;
        for (const Metric& m : group.metrics)
            points += m.numbers.size() + m.histograms.size() + m.exponentials.size();
        const quint64 key = processKey(group.resource);
        if (!key) {
            result.rejected += points;
            result.message = QStringLiteral("too many services (at most %1)").arg(MaxProcesses);
            continue;
        }
        result.accepted += points;
        qint64 rss = -1;
        qint64 heap = -1;
        for (const Metric& m : group.metrics) {
            const double scale = nanosPerUnit(m.unit);
            // A histogram point of either kind whose values are not durations: what it counted and
            // summed is still worth seeing.
            const auto countAndSum = [&](const auto& p) {
                const QString name = plainSeriesName(m.name, p.attributes);
                m_store->setMetric(key, name + QStringLiteral(".count"), false, double(p.count));
                if (p.sum)
                    m_store->setMetric(key, name + QStringLiteral(".sum"), false, *p.sum);
            };
            // One of durations, its buckets mapped onto the store's.
            const auto durations = [&](const auto& p, std::map<int, quint64> buckets) {
                if (!applyHistogram(key, m, p.attributes, p.startNs, p.count, p.sum.value_or(0.0), p.min, p.max,
                        std::move(buckets), scale)) {
                    ++result.rejected;
                    --result.accepted;
                    result.message = QStringLiteral("histogram %1: a point counts more than %2, or too many series")
                                         .arg(m.name)
                                         .arg(MaxPointCount);
                }
            };
            switch (m.type) {
            case Metric::Type::Gauge:
            case Metric::Type::Sum: {
                const bool counter = m.type == Metric::Type::Sum && m.monotonic;
                const MemoryKind memory = memoryKind(m.name);
                double total = 0.0;
                for (const NumberPoint& p : m.numbers) {
                    const QString name = plainSeriesName(m.name, p.attributes);
                    double value = p.value;
                    if (counter && m.temporality == Temporality::Delta) {
                        double& running = m_deltaSums[QString::number(key) + u'\x1f' + name];
                        running += value;
                        value = running;
                    }
                    m_store->setMetric(key, name, !counter, value);
                    total += p.value;
                }
                if (memory != MemoryKind::None && !m.numbers.empty() && (m.unit.isEmpty() || m.unit == u"By")) {
                    // Per-space or per-type points (heap spaces, memory pools) add up to the whole.
                    (memory == MemoryKind::Rss ? rss : heap) = qint64(std::max(0.0, total));
                }
                break;
            }
            case Metric::Type::Histogram:
                for (const HistogramPoint& p : m.histograms) {
                    if (!p.bucketCounts.empty() && p.bucketCounts.size() != p.explicitBounds.size() + 1) {
                        ++result.rejected;
                        --result.accepted;
                        result.message = QStringLiteral("histogram %1: %2 bucket counts for %3 bounds (want one more)")
                                             .arg(m.name)
                                             .arg(p.bucketCounts.size())
                                             .arg(p.explicitBounds.size());
                        continue;
                    }
                    if (scale == 0.0 || p.bucketCounts.empty()) {
                        countAndSum(p);
                        continue;
                    }
                    std::map<int, quint64> buckets;
                    const std::size_t n = p.bucketCounts.size();
                    for (std::size_t i = 0; i < n; ++i) {
                        if (!p.bucketCounts[i])
                            continue;
                        // Bucket i holds (bounds[i-1], bounds[i]]; the first from 0 (or min), the last to max.
                        double lo = i == 0 ? (p.min ? *p.min : 0.0) : p.explicitBounds[i - 1];
                        double hi = i < p.explicitBounds.size() ? p.explicitBounds[i] : (p.max ? *p.max : lo);
                        if (p.min)
                            lo = std::max(lo, *p.min);
                        if (p.max)
                            hi = std::min(hi, *p.max);
                        if (hi < lo)
                            hi = lo;
                        buckets[bucketOf((lo + hi) / 2.0 * scale)] += p.bucketCounts[i];
                    }
                    durations(p, std::move(buckets));
                }
                break;
            case Metric::Type::ExponentialHistogram:
                for (const ExponentialPoint& p : m.exponentials) {
                    if (scale == 0.0) {
                        countAndSum(p);
                        continue;
                    }
                    std::map<int, quint64> buckets;
                    if (p.zeroCount)
                        buckets[0] += p.zeroCount;
                    if (p.negativeCount)
                        buckets[0] += p.negativeCount; // a negative duration is a clock's error: counted at zero
                    const double step = std::exp2(-double(p.scale)); // log2 of the base
                    for (std::size_t i = 0; i < p.positive.size(); ++i) {
                        if (!p.positive[i])
                            continue;
                        const double index = double(p.positiveOffset) + double(i);
                        const double lo = std::exp2(index * step);
                        const double hi = std::exp2((index + 1) * step);
                        buckets[bucketOf((lo + hi) / 2.0 * scale)] += p.positive[i];
                    }
                    durations(p, std::move(buckets));
                }
                break;
            }
        }
        if (rss >= 0 || heap >= 0) {
            m_store->recordMemory(key, rss, heap);
            // A process of this host is sampled from /proc already; the sender's figures chart the others.
            if (!m_sampledLocally.contains(key)) {
                m_store->addMemoryRecord(key,
                    MemoryRecord {
                        QDateTime::currentMSecsSinceEpoch(), 0, m_store->processName(key), rss, heap, std::nullopt });
            }
        }
    }
    QMutexLocker lock(&m_statsMutex);
    m_stats.points += result.accepted;
    m_stats.rejectedPoints += result.rejected;
    return result;
}

} // namespace perfdash
