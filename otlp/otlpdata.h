// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QList>
#include <QString>
#include <QVariantMap>

#include <optional>
#include <string_view>
#include <utility>
#include <vector>

/**
 * What the OTLP decoders (JSON: otlpjson.h, protobuf: otlpprotobuf.h) make of an export request:
 * plain values holding only what perfdash reads. Both decoders produce the same values from the
 * same telemetry, so OtlpIngest does not know which encoding it came in.
 */
namespace perfdash::otlp {

/// The resource attributes that name a process (semantic conventions' names).
struct Resource
{
    QString serviceName; ///< service.name; "unknown_service" when absent, as the SDKs say
    QString serviceNamespace; ///< service.namespace
    QString instanceId; ///< service.instance.id
    QString hostName; ///< host.name
    qint64 pid = 0; ///< process.pid; 0 when absent
    QStringList commandLine; ///< process.command_args, else process.command_line, else process.executable.path
};

enum class SpanKind : quint8 { Unspecified = 0, Internal = 1, Server = 2, Client = 3, Producer = 4, Consumer = 5 };

struct Span
{
    QString name;
    SpanKind kind = SpanKind::Unspecified;
    quint64 startNs = 0; ///< Unix epoch nanoseconds
    quint64 endNs = 0;
    bool error = false; ///< status.code == STATUS_CODE_ERROR
    QString statusMessage;
    /// Filled only for spans at least DecodeOptions::attributesFromNs long: attributes travel
    /// with slow spans only, and converting every span's would cost most of the decoding.
    QVariantMap attributes;
};

struct ResourceSpans
{
    Resource resource;
    std::vector<Span> spans;
};

struct Traces
{
    std::vector<ResourceSpans> resources;
    quint64 spanCount() const noexcept
    {
        quint64 n = 0;
        for (const ResourceSpans& r : resources)
            n += r.spans.size();
        return n;
    }
};

/// A data point's attributes as text, sorted by key: they name the series.
using Attributes = QList<std::pair<QString, QString>>;

enum class Temporality : quint8 { Unspecified = 0, Delta = 1, Cumulative = 2 };

struct NumberPoint
{
    Attributes attributes;
    quint64 startNs = 0;
    quint64 timeNs = 0;
    double value = 0.0;
};

/// What histogram points of both kinds carry besides their buckets.
struct HistogramPointBase
{
    Attributes attributes;
    quint64 startNs = 0;
    quint64 timeNs = 0;
    quint64 count = 0;
    std::optional<double> sum;
    std::optional<double> min;
    std::optional<double> max;
};

struct HistogramPoint : HistogramPointBase
{
    std::vector<quint64> bucketCounts; ///< one more than explicitBounds
    std::vector<double> explicitBounds;
};

struct ExponentialPoint : HistogramPointBase
{
    int scale = 0;
    quint64 zeroCount = 0;
    int positiveOffset = 0;
    std::vector<quint64> positive; ///< bucket i holds (base^(offset+i), base^(offset+i+1)], base = 2^(2^-scale)
    quint64 negativeCount = 0; ///< durations are never negative: only counted
};

struct Metric
{
    enum class Type : quint8 { Gauge, Sum, Histogram, ExponentialHistogram };
    QString name;
    QString unit;
    Type type = Type::Gauge;
    Temporality temporality = Temporality::Unspecified;
    bool monotonic = false;
    std::vector<NumberPoint> numbers; ///< Gauge and Sum
    std::vector<HistogramPoint> histograms;
    std::vector<ExponentialPoint> exponentials;
};

struct ResourceMetrics
{
    Resource resource;
    std::vector<Metric> metrics;
};

struct Metrics
{
    std::vector<ResourceMetrics> resources;
    quint64 pointCount() const noexcept;
};

struct DecodeOptions
{
    /// Spans at least this long keep their attributes (Span::attributes).
    quint64 attributesFromNs = ~quint64(0);
    /// Nesting bound for array and key-value list attribute values.
    int maxDepth = 8;
};

/// Span names repeat within a request: each distinct one (up to a bound) is converted to a QString
/// once, and the spans share it. Views must outlive the cache (both live for one decoding).
class NameCache
{
public:
    QString text(std::string_view utf8)
    {
        if (m_misses < MaxMisses) { // names that never repeat (ids in them) stop being looked for
            for (const auto& [bytes, name] : m_names) {
                if (bytes == utf8)
                    return name;
            }
        }
        QString name = QString::fromUtf8(utf8.data(), qsizetype(utf8.size()));
        if (m_names.size() < MaxNames)
            m_names.emplace_back(utf8, name);
        else
            ++m_misses;
        return name;
    }

private:
    static constexpr std::size_t MaxNames = 32; // a linear scan stays cheaper than a hash
    static constexpr int MaxMisses = 64;
    std::vector<std::pair<std::string_view, QString>> m_names;
    int m_misses = 0;
};

/// Sets the Resource fields from one attribute (shared by both decoders).
void applyResourceAttribute(Resource& r, const QString& key, const QVariant& value);
/// An attribute value as text, for series names and metadata.
QString attributeText(const QVariant& value);

} // namespace perfdash::otlp
