// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlp/otlpjson.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>
#include <type_traits>
#include <vector>

namespace perfdash::otlp {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

/// Thrown on the error path only: the happy path pays nothing for the reason's JSON path.
struct Invalid
{
    QString reason;
};

/// Where the decoder is, for the reason of a 400: "resourceSpans[0].scopeSpans[1].spans[7]".
class Path
{
public:
    struct Scope
    {
        Scope(Path& p, const char* key, qsizetype index = -1)
            : m_path(p)
        {
            m_path.m_parts.push_back({ key, index });
        }
        ~Scope() { m_path.m_parts.pop_back(); }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;
        void setIndex(qsizetype index) { m_path.m_parts.back().second = index; }

    private:
        Path& m_path;
    };

    [[noreturn]] void fail(const char* key, const char* what) const
    {
        QString text;
        for (const auto& [k, i] : m_parts) {
            if (!text.isEmpty())
                text += u'.';
            text += QLatin1String(k);
            if (i >= 0)
                text += u'[' + QString::number(i) + u']';
        }
        if (key)
            text += (text.isEmpty() ? QString() : QStringLiteral(".")) + QLatin1String(key);
        throw Invalid { text + QStringLiteral(": ") + QLatin1String(what) };
    }

private:
    std::vector<std::pair<const char*, qsizetype>> m_parts;
};

QString text(std::string_view s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

bool field(object o, std::string_view key, element& out)
{
    return o[key].get(out) == simdjson::SUCCESS && !out.is_null();
}

object asObject(const Path& path, element e, const char* key)
{
    object o;
    if (e.get(o) != simdjson::SUCCESS)
        path.fail(key, "expected an object");
    return o;
}

/// A repeated field: absent or null is empty.
bool arrayField(const Path& path, object o, std::string_view key, const char* name, array& out)
{
    element e;
    if (!field(o, key, e))
        return false;
    if (e.get(out) != simdjson::SUCCESS)
        path.fail(name, "expected an array");
    return true;
}

/// proto3 JSON: 64-bit integers come as decimal strings, or as numbers from lenient encoders.
/// One parser for both widths (T is quint64 or qint64), so that their checks cannot drift apart.
template <typename T> T integer(const Path& path, element e, const char* key)
{
    constexpr bool isSigned = std::is_signed_v<T>;
    const char* const expected = isSigned ? "expected an integer" : "expected an unsigned integer";
    switch (e.type()) {
    case element_type::INT64: {
        const int64_t v = e.get_int64().value_unsafe();
        if (!isSigned && v < 0)
            path.fail(key, expected);
        return T(v);
    }
    case element_type::UINT64: {
        const uint64_t v = e.get_uint64().value_unsafe();
        if (v > uint64_t(std::numeric_limits<T>::max()))
            path.fail(key, "integer out of range");
        return T(v);
    }
    case element_type::DOUBLE: {
        const double d = e.get_double().value_unsafe();
        const bool inRange = isSigned ? d >= -9.2e18 && d <= 9.2e18 : d >= 0.0 && d < 18446744073709551616.0;
        if (!inRange || d != std::floor(d))
            path.fail(key, expected);
        return T(d);
    }
    case element_type::STRING: {
        const std::string_view s = e.get_string().value_unsafe();
        T v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || s.empty())
            path.fail(key, expected);
        return v;
    }
    default:
        path.fail(key, expected);
    }
}

quint64 u64(const Path& path, element e, const char* key)
{
    return integer<quint64>(path, e, key);
}

qint64 i64(const Path& path, element e, const char* key)
{
    return integer<qint64>(path, e, key);
}

/// proto3 JSON doubles: numbers, or the strings "NaN", "Infinity", "-Infinity".
double f64(const Path& path, element e, const char* key)
{
    switch (e.type()) {
    case element_type::DOUBLE:
        return e.get_double().value_unsafe();
    case element_type::INT64:
        return double(e.get_int64().value_unsafe());
    case element_type::UINT64:
        return double(e.get_uint64().value_unsafe());
    case element_type::STRING: {
        const std::string_view s = e.get_string().value_unsafe();
        if (s == "NaN")
            return std::nan("");
        if (s == "Infinity")
            return HUGE_VAL;
        if (s == "-Infinity")
            return -HUGE_VAL;
        double d = 0.0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
        if (ec != std::errc() || end != s.data() + s.size() || s.empty())
            path.fail(key, "expected a number");
        return d;
    }
    default:
        path.fail(key, "expected a number");
    }
}

std::string_view str(const Path& path, element e, const char* key)
{
    std::string_view s;
    if (e.get(s) != simdjson::SUCCESS)
        path.fail(key, "expected a string");
    return s;
}

/// An enum: its number, or its name looked up in @p names (index = value).
int enumValue(const Path& path, element e, const char* key, std::initializer_list<std::string_view> names)
{
    if (e.is_string()) {
        const std::string_view s = e.get_string().value_unsafe();
        int i = 0;
        for (std::string_view n : names) {
            if (n == s)
                return i;
            ++i;
        }
        path.fail(key, "unknown enum name");
    }
    const qint64 v = i64(path, e, key);
    if (v < 0 || v > 1000)
        path.fail(key, "enum value out of range");
    return int(v);
}

QVariant anyValue(Path& path, element e, int depth, const DecodeOptions& options);

QVariantMap keyValues(Path& path, array list, int depth, const DecodeOptions& options)
{
    QVariantMap map;
    qsizetype i = 0;
    Path::Scope scope(path, "values", 0);
    for (element kv : list) {
        scope.setIndex(i++);
        const object o = asObject(path, kv, nullptr);
        element k;
        element v;
        if (!field(o, "key", k))
            path.fail("key", "missing");
        map.insert(text(str(path, k, "key")), field(o, "value", v) ? anyValue(path, v, depth, options) : QVariant());
    }
    return map;
}

QVariant anyValue(Path& path, element e, int depth, const DecodeOptions& options)
{
    if (depth > options.maxDepth)
        path.fail(nullptr, "attribute values nested too deep");
    const object o = asObject(path, e, "value");
    element v;
    if (field(o, "stringValue", v))
        return text(str(path, v, "stringValue"));
    if (field(o, "intValue", v))
        return i64(path, v, "intValue");
    if (field(o, "doubleValue", v))
        return f64(path, v, "doubleValue");
    if (field(o, "boolValue", v)) {
        bool b = false;
        if (v.get(b) != simdjson::SUCCESS)
            path.fail("boolValue", "expected a boolean");
        return b;
    }
    if (field(o, "bytesValue", v))
        return QByteArray::fromBase64(QByteArray::fromStdString(std::string(str(path, v, "bytesValue"))));
    if (field(o, "arrayValue", v)) {
        Path::Scope scope(path, "arrayValue");
        array values;
        QVariantList list;
        if (arrayField(path, asObject(path, v, nullptr), "values", "values", values)) {
            for (element item : values)
                list.append(anyValue(path, item, depth + 1, options));
        }
        return list;
    }
    if (field(o, "kvlistValue", v)) {
        Path::Scope scope(path, "kvlistValue");
        array values;
        if (arrayField(path, asObject(path, v, nullptr), "values", "values", values))
            return keyValues(path, values, depth + 1, options);
        return QVariantMap();
    }
    return {}; // an empty AnyValue
}

/// The attributes array of a span or a resource.
void attributes(Path& path, object o, const DecodeOptions& options, const std::function<void(QString, QVariant)>& each)
{
    array list;
    if (!arrayField(path, o, "attributes", "attributes", list))
        return;
    Path::Scope scope(path, "attributes", 0);
    qsizetype i = 0;
    for (element kv : list) {
        scope.setIndex(i++);
        const object a = asObject(path, kv, nullptr);
        element k;
        element v;
        if (!field(a, "key", k))
            path.fail("key", "missing");
        each(text(str(path, k, "key")), field(a, "value", v) ? anyValue(path, v, 0, options) : QVariant());
    }
}

Resource resource(Path& path, object parent, const DecodeOptions& options)
{
    Resource r;
    element e;
    if (field(parent, "resource", e)) {
        Path::Scope scope(path, "resource");
        attributes(path, asObject(path, e, nullptr), options,
            [&r](const QString& key, const QVariant& value) { applyResourceAttribute(r, key, value); });
    }
    if (r.serviceName.isEmpty())
        r.serviceName = QStringLiteral("unknown_service");
    return r;
}

Attributes pointAttributes(Path& path, object point, const DecodeOptions& options)
{
    Attributes out;
    attributes(path, point, options, [&out](const QString& key, const QVariant& value) {
        out.append({ key, attributeText(value) });
    });
    std::sort(out.begin(), out.end());
    return out;
}

template <typename T> std::optional<T> optionalF64(const Path& path, object o, std::string_view key, const char* name)
{
    element e;
    if (!field(o, key, e))
        return std::nullopt;
    return f64(path, e, name);
}

quint64 u64Field(const Path& path, object o, std::string_view key, const char* name)
{
    element e;
    return field(o, key, e) ? u64(path, e, name) : 0;
}

std::vector<quint64> u64Array(const Path& path, object o, std::string_view key, const char* name)
{
    std::vector<quint64> out;
    array a;
    if (arrayField(path, o, key, name, a)) {
        out.reserve(a.size());
        for (element e : a)
            out.push_back(u64(path, e, name));
    }
    return out;
}

void decodeTracesDom(Path& path, element doc, Traces& out, const DecodeOptions& options)
{
    NameCache names; // views into the parser's strings, which outlive this call
    const object root = asObject(path, doc, nullptr);
    array resourceSpans;
    if (!arrayField(path, root, "resourceSpans", "resourceSpans", resourceSpans))
        return;
    Path::Scope rs(path, "resourceSpans", 0);
    qsizetype ri = 0;
    for (element r : resourceSpans) {
        rs.setIndex(ri++);
        const object ro = asObject(path, r, nullptr);
        ResourceSpans& group = out.resources.emplace_back();
        group.resource = resource(path, ro, options);
        array scopeSpans;
        if (!arrayField(path, ro, "scopeSpans", "scopeSpans", scopeSpans))
            continue;
        Path::Scope ss(path, "scopeSpans", 0);
        qsizetype si = 0;
        for (element s : scopeSpans) {
            ss.setIndex(si++);
            array spans;
            if (!arrayField(path, asObject(path, s, nullptr), "spans", "spans", spans))
                continue;
            group.spans.reserve(group.spans.size() + spans.size());
            Path::Scope sp(path, "spans", 0);
            qsizetype pi = 0;
            for (element spanElement : spans) {
                sp.setIndex(pi++);
                const object so = asObject(path, spanElement, nullptr);
                Span& span = group.spans.emplace_back();
                // One pass over the span's fields (an exporter's span has 15 or so): looking each
                // one up by name would compare keys several times over.
                element e;
                for (const auto field : so) {
                    const std::string_view key = field.key;
                    e = field.value;
                    if (e.is_null())
                        continue;
                    if (key == "name") {
                        span.name = names.text(str(path, e, "name"));
                    } else if (key == "kind") {
                        const int kind = enumValue(path, e, "kind",
                            { "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
                                "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER" });
                        span.kind = kind <= 5 ? SpanKind(kind) : SpanKind::Unspecified;
                    } else if (key == "startTimeUnixNano") {
                        span.startNs = u64(path, e, "startTimeUnixNano");
                    } else if (key == "endTimeUnixNano") {
                        span.endNs = u64(path, e, "endTimeUnixNano");
                    } else if (key == "status") {
                        const object status = asObject(path, e, "status");
                        element c;
                        if (::perfdash::otlp::field(status, "code", c))
                            span.error = enumValue(path, c, "status.code",
                                             { "STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR" })
                                == 2;
                        if (::perfdash::otlp::field(status, "message", c))
                            span.statusMessage = text(str(path, c, "status.message"));
                    }
                }
                if (span.endNs >= span.startNs && span.endNs - span.startNs >= options.attributesFromNs) {
                    attributes(path, so, options,
                        [&span](const QString& key, const QVariant& value) { span.attributes.insert(key, value); });
                }
            }
        }
    }
}

/// What explicit-bucket and exponential histogram points share.
template <typename Point> void distributionFields(Path& path, object po, const DecodeOptions& options, Point& point)
{
    point.attributes = pointAttributes(path, po, options);
    point.startNs = u64Field(path, po, "startTimeUnixNano", "startTimeUnixNano");
    point.timeNs = u64Field(path, po, "timeUnixNano", "timeUnixNano");
    point.count = u64Field(path, po, "count", "count");
    point.sum = optionalF64<double>(path, po, "sum", "sum");
    point.min = optionalF64<double>(path, po, "min", "min");
    point.max = optionalF64<double>(path, po, "max", "max");
}

void numberPoints(Path& path, array points, Metric& m, const DecodeOptions& options)
{
    Path::Scope ps(path, "dataPoints", 0);
    qsizetype i = 0;
    for (element p : points) {
        ps.setIndex(i++);
        const object po = asObject(path, p, nullptr);
        NumberPoint& point = m.numbers.emplace_back();
        point.attributes = pointAttributes(path, po, options);
        point.startNs = u64Field(path, po, "startTimeUnixNano", "startTimeUnixNano");
        point.timeNs = u64Field(path, po, "timeUnixNano", "timeUnixNano");
        element v;
        if (field(po, "asDouble", v))
            point.value = f64(path, v, "asDouble");
        else if (field(po, "asInt", v))
            point.value = double(i64(path, v, "asInt"));
    }
}

void decodeMetricsDom(Path& path, element doc, Metrics& out, const DecodeOptions& options)
{
    const object root = asObject(path, doc, nullptr);
    array resourceMetrics;
    if (!arrayField(path, root, "resourceMetrics", "resourceMetrics", resourceMetrics))
        return;
    Path::Scope rs(path, "resourceMetrics", 0);
    qsizetype ri = 0;
    for (element r : resourceMetrics) {
        rs.setIndex(ri++);
        const object ro = asObject(path, r, nullptr);
        ResourceMetrics& group = out.resources.emplace_back();
        group.resource = resource(path, ro, options);
        array scopeMetrics;
        if (!arrayField(path, ro, "scopeMetrics", "scopeMetrics", scopeMetrics))
            continue;
        Path::Scope ss(path, "scopeMetrics", 0);
        qsizetype si = 0;
        for (element s : scopeMetrics) {
            ss.setIndex(si++);
            array metrics;
            if (!arrayField(path, asObject(path, s, nullptr), "metrics", "metrics", metrics))
                continue;
            Path::Scope ms(path, "metrics", 0);
            qsizetype mi = 0;
            for (element me : metrics) {
                ms.setIndex(mi++);
                const object mo = asObject(path, me, nullptr);
                Metric m;
                element e;
                if (field(mo, "name", e))
                    m.name = text(str(path, e, "name"));
                if (field(mo, "unit", e))
                    m.unit = text(str(path, e, "unit"));
                const auto temporality = [&](object data) {
                    element t;
                    if (field(data, "aggregationTemporality", t)) {
                        const int v = enumValue(path, t, "aggregationTemporality",
                            { "AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA",
                                "AGGREGATION_TEMPORALITY_CUMULATIVE" });
                        m.temporality = v <= 2 ? Temporality(v) : Temporality::Unspecified;
                    }
                };
                array points;
                if (field(mo, "gauge", e)) {
                    m.type = Metric::Type::Gauge;
                    Path::Scope g(path, "gauge");
                    if (arrayField(path, asObject(path, e, nullptr), "dataPoints", "dataPoints", points))
                        numberPoints(path, points, m, options);
                } else if (field(mo, "sum", e)) {
                    m.type = Metric::Type::Sum;
                    Path::Scope g(path, "sum");
                    const object data = asObject(path, e, nullptr);
                    temporality(data);
                    element b;
                    if (field(data, "isMonotonic", b) && b.get(m.monotonic) != simdjson::SUCCESS)
                        path.fail("isMonotonic", "expected a boolean");
                    if (arrayField(path, data, "dataPoints", "dataPoints", points))
                        numberPoints(path, points, m, options);
                } else if (field(mo, "histogram", e)) {
                    m.type = Metric::Type::Histogram;
                    Path::Scope g(path, "histogram");
                    const object data = asObject(path, e, nullptr);
                    temporality(data);
                    if (arrayField(path, data, "dataPoints", "dataPoints", points)) {
                        Path::Scope ps(path, "dataPoints", 0);
                        qsizetype pi = 0;
                        for (element p : points) {
                            ps.setIndex(pi++);
                            const object po = asObject(path, p, nullptr);
                            HistogramPoint& point = m.histograms.emplace_back();
                            distributionFields(path, po, options, point);
                            point.bucketCounts = u64Array(path, po, "bucketCounts", "bucketCounts");
                            array bounds;
                            if (arrayField(path, po, "explicitBounds", "explicitBounds", bounds)) {
                                for (element b : bounds)
                                    point.explicitBounds.push_back(f64(path, b, "explicitBounds"));
                            }
                        }
                    }
                } else if (field(mo, "exponentialHistogram", e)) {
                    m.type = Metric::Type::ExponentialHistogram;
                    Path::Scope g(path, "exponentialHistogram");
                    const object data = asObject(path, e, nullptr);
                    temporality(data);
                    if (arrayField(path, data, "dataPoints", "dataPoints", points)) {
                        Path::Scope ps(path, "dataPoints", 0);
                        qsizetype pi = 0;
                        for (element p : points) {
                            ps.setIndex(pi++);
                            const object po = asObject(path, p, nullptr);
                            ExponentialPoint& point = m.exponentials.emplace_back();
                            distributionFields(path, po, options, point);
                            point.zeroCount = u64Field(path, po, "zeroCount", "zeroCount");
                            element v;
                            if (field(po, "scale", v)) {
                                const qint64 scale = i64(path, v, "scale");
                                if (scale < -10 || scale > 20)
                                    path.fail("scale", "out of range (-10..20)");
                                point.scale = int(scale);
                            }
                            if (field(po, "positive", v)) {
                                const object b = asObject(path, v, "positive");
                                element off;
                                if (field(b, "offset", off)) {
                                    const qint64 o = i64(path, off, "positive.offset");
                                    if (o < -(1 << 20) || o > (1 << 20))
                                        path.fail("positive.offset", "out of range");
                                    point.positiveOffset = int(o);
                                }
                                point.positive = u64Array(path, b, "bucketCounts", "positive.bucketCounts");
                            }
                            if (field(po, "negative", v)) {
                                for (quint64 c : u64Array(
                                         path, asObject(path, v, "negative"), "bucketCounts", "negative.bucketCounts"))
                                    point.negativeCount += c;
                            }
                        }
                    }
                } else {
                    continue; // summaries and kinds to come: not read
                }
                group.metrics.push_back(std::move(m));
            }
        }
    }
}

} // namespace

struct JsonDecoder::Impl
{
    simdjson::dom::parser parser;
    // The body with simdjson's padding after it, kept between requests like the parser's own
    // buffers: simdjson would otherwise allocate (and the kernel zero) a padded copy per request.
    std::vector<char> padded;

    bool parse(QByteArrayView body, element& doc, QString* error)
    {
        const std::size_t size = std::size_t(body.size());
        if (padded.size() < size + simdjson::SIMDJSON_PADDING)
            padded.resize(size + simdjson::SIMDJSON_PADDING);
        if (size)
            std::memcpy(padded.data(), body.data(), size);
        const auto code = parser.parse(padded.data(), size, false).get(doc);
        if (code != simdjson::SUCCESS) {
            if (error)
                *error = QStringLiteral("invalid JSON: ") + QString::fromUtf8(simdjson::error_message(code));
            return false;
        }
        return true;
    }
};

JsonDecoder::JsonDecoder()
    : m_impl(std::make_unique<Impl>())
{
}

JsonDecoder::~JsonDecoder() = default;

bool JsonDecoder::decodeTraces(QByteArrayView body, Traces& out, QString* error, const DecodeOptions& options)
{
    out = {};
    element doc;
    if (!m_impl->parse(body, doc, error))
        return false;
    Path path;
    try {
        decodeTracesDom(path, doc, out, options);
    } catch (const Invalid& invalid) {
        if (error)
            *error = invalid.reason;
        out = {};
        return false;
    }
    return true;
}

bool JsonDecoder::decodeMetrics(QByteArrayView body, Metrics& out, QString* error, const DecodeOptions& options)
{
    out = {};
    element doc;
    if (!m_impl->parse(body, doc, error))
        return false;
    Path path;
    try {
        decodeMetricsDom(path, doc, out, options);
    } catch (const Invalid& invalid) {
        if (error)
            *error = invalid.reason;
        out = {};
        return false;
    }
    return true;
}

} // namespace perfdash::otlp
