// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlp/otlpjson.h"

#include "core/errors.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <optional>
#include <string_view>
#include <type_traits>
#include <vector>

namespace perfdash::otlp {

namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

/// Where the decoder is ("resourceSpans[0].scopeSpans[1].spans[7]"), and once something does not
/// decode, the reason of the 400. Every reader below returns false after fail() and its caller
/// returns false in turn, so the first problem ends the decoding with the path where it was.
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

    /// Records that @p key (null: the value right here) is @p what; false, to be returned. The
    /// text is built on the error path only: the happy path pays nothing for it.
    bool fail(const char* key, const char* what)
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
        m_error = text + QStringLiteral(": ") + QLatin1String(what);
        return false;
    }
    const QString& error() const noexcept { return m_error; }

private:
    std::vector<std::pair<const char*, qsizetype>> m_parts;
    QString m_error;
};

bool field(object o, std::string_view key, element& out)
{
    return o[key].get(out) == simdjson::SUCCESS && !out.is_null();
}

bool asObject(Path& path, element e, const char* key, object& out)
{
    return e.get(out) == simdjson::SUCCESS || path.fail(key, "expected an object");
}

/// A repeated field: absent or null leaves @p out empty.
bool arrayField(Path& path, object o, std::string_view key, const char* name, std::optional<array>& out)
{
    out.reset();
    element e;
    if (!field(o, key, e))
        return true;
    array list;
    if (e.get(list) != simdjson::SUCCESS)
        return path.fail(name, "expected an array");
    out = list;
    return true;
}

/// Calls @p each(object) for every element of @p list, each an object, the path at "key[i]"
/// meanwhile; stops at the first false.
template <typename Each> bool forEachObjectOf(Path& path, array list, const char* key, Each each)
{
    Path::Scope scope(path, key, 0);
    qsizetype i = 0;
    for (element e : list) {
        scope.setIndex(i++);
        object o;
        if (!asObject(path, e, nullptr, o) || !each(o))
            return false;
    }
    return true;
}

/// The same over the repeated field @p key of @p o (absent or null: no element).
template <typename Each> bool forEachObject(Path& path, object o, const char* key, Each each)
{
    std::optional<array> list;
    if (!arrayField(path, o, key, key, list))
        return false;
    return !list || forEachObjectOf(path, *list, key, each);
}

/// proto3 JSON: 64-bit integers come as decimal strings, or as numbers from lenient encoders.
/// One parser for both widths (T is quint64 or qint64), so that their checks cannot drift apart.
template <typename T> bool integer(Path& path, element e, const char* key, T& out)
{
    constexpr bool isSigned = std::is_signed_v<T>;
    const char* const expected = isSigned ? "expected an integer" : "expected an unsigned integer";
    switch (e.type()) {
    case element_type::INT64: {
        const int64_t v = e.get_int64().value_unsafe();
        if (!isSigned && v < 0)
            return path.fail(key, expected);
        out = T(v);
        return true;
    }
    case element_type::UINT64: {
        const uint64_t v = e.get_uint64().value_unsafe();
        if (v > uint64_t(std::numeric_limits<T>::max()))
            return path.fail(key, "integer out of range");
        out = T(v);
        return true;
    }
    case element_type::DOUBLE: {
        const double d = e.get_double().value_unsafe();
        const bool inRange = isSigned ? d >= -9.2e18 && d <= 9.2e18 : d >= 0.0 && d < 18446744073709551616.0;
        if (!inRange || d != std::floor(d))
            return path.fail(key, expected);
        out = T(d);
        return true;
    }
    case element_type::STRING: {
        const std::string_view s = e.get_string().value_unsafe();
        T v = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || end != s.data() + s.size() || s.empty())
            return path.fail(key, expected);
        out = v;
        return true;
    }
    default:
        return path.fail(key, expected);
    }
}

bool u64(Path& path, element e, const char* key, quint64& out)
{
    return integer<quint64>(path, e, key, out);
}

bool i64(Path& path, element e, const char* key, qint64& out)
{
    return integer<qint64>(path, e, key, out);
}

/// An integer within [@p low, @p high]; @p outside says what one out of it is.
bool bounded(Path& path, element e, const char* key, qint64 low, qint64 high, const char* outside, int& out)
{
    qint64 v = 0;
    if (!i64(path, e, key, v))
        return false;
    if (v < low || v > high)
        return path.fail(key, outside);
    out = int(v);
    return true;
}

/// proto3 JSON doubles: numbers, or the strings "NaN", "Infinity", "-Infinity".
bool f64(Path& path, element e, const char* key, double& out)
{
    switch (e.type()) {
    case element_type::DOUBLE:
        out = e.get_double().value_unsafe();
        return true;
    case element_type::INT64:
        out = double(e.get_int64().value_unsafe());
        return true;
    case element_type::UINT64:
        out = double(e.get_uint64().value_unsafe());
        return true;
    case element_type::STRING: {
        const std::string_view s = e.get_string().value_unsafe();
        if (s == "NaN")
            out = std::nan("");
        else if (s == "Infinity")
            out = HUGE_VAL;
        else if (s == "-Infinity")
            out = -HUGE_VAL;
        else {
            double d = 0.0;
            const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
            if (ec != std::errc() || end != s.data() + s.size() || s.empty())
                return path.fail(key, "expected a number");
            out = d;
        }
        return true;
    }
    default:
        return path.fail(key, "expected a number");
    }
}

bool str(Path& path, element e, const char* key, std::string_view& out)
{
    return e.get(out) == simdjson::SUCCESS || path.fail(key, "expected a string");
}

bool text(Path& path, element e, const char* key, QString& out)
{
    std::string_view s;
    if (!str(path, e, key, s))
        return false;
    out = QString::fromUtf8(s.data(), qsizetype(s.size()));
    return true;
}

bool boolean(Path& path, element e, const char* key, bool& out)
{
    return e.get(out) == simdjson::SUCCESS || path.fail(key, "expected a boolean");
}

/// An enum: its number, or its name looked up in @p names (index = value).
bool enumValue(Path& path, element e, const char* key, std::initializer_list<std::string_view> names, int& out)
{
    if (e.is_string()) {
        const std::string_view s = e.get_string().value_unsafe();
        int i = 0;
        for (std::string_view n : names) {
            if (n == s) {
                out = i;
                return true;
            }
            ++i;
        }
        return path.fail(key, "unknown enum name");
    }
    return bounded(path, e, key, 0, 1000, "enum value out of range", out);
}

/// Reads @p e with @p read (one of the readers above, for a T) into the variant @p out.
template <typename T, typename Read> bool variant(Path& path, element e, const char* key, Read read, QVariant& out)
{
    T value {};
    if (!read(path, e, key, value))
        return false;
    out = QVariant::fromValue(value);
    return true;
}

bool anyValue(Path& path, element e, int depth, const DecodeOptions& options, QVariant& out);

/// The key-value pairs of the repeated field @p key of @p o, each given to @p each(key, value).
template <typename Each>
bool keyValues(Path& path, object o, const char* key, int depth, const DecodeOptions& options, Each each)
{
    return forEachObject(path, o, key, [&](object kv) {
        element k;
        element v;
        if (!field(kv, "key", k))
            return path.fail("key", "missing");
        QString name;
        QVariant value;
        if ((field(kv, "value", v) && !anyValue(path, v, depth, options, value)) || !text(path, k, "key", name))
            return false;
        each(name, value);
        return true;
    });
}

bool anyValue(Path& path, element e, int depth, const DecodeOptions& options, QVariant& out)
{
    if (depth > options.maxDepth)
        return path.fail(nullptr, "attribute values nested too deep");
    object o;
    if (!asObject(path, e, "value", o))
        return false;
    element v;
    if (field(o, "stringValue", v))
        return variant<QString>(path, v, "stringValue", text, out);
    if (field(o, "intValue", v))
        return variant<qint64>(path, v, "intValue", i64, out);
    if (field(o, "doubleValue", v))
        return variant<double>(path, v, "doubleValue", f64, out);
    if (field(o, "boolValue", v))
        return variant<bool>(path, v, "boolValue", boolean, out);
    if (field(o, "bytesValue", v)) {
        std::string_view s;
        if (!str(path, v, "bytesValue", s))
            return false;
        out = QByteArray::fromBase64(QByteArray::fromStdString(std::string(s)));
        return true;
    }
    if (field(o, "arrayValue", v)) {
        Path::Scope scope(path, "arrayValue");
        object list;
        std::optional<array> values;
        if (!asObject(path, v, nullptr, list) || !arrayField(path, list, "values", "values", values))
            return false;
        QVariantList items;
        if (values) {
            for (element item : *values) {
                QVariant value;
                if (!anyValue(path, item, depth + 1, options, value))
                    return false;
                items.append(value);
            }
        }
        out = items;
        return true;
    }
    if (field(o, "kvlistValue", v)) {
        Path::Scope scope(path, "kvlistValue");
        object list;
        QVariantMap map;
        if (!asObject(path, v, nullptr, list)
            || !keyValues(path, list, "values", depth + 1, options,
                [&map](const QString& key, const QVariant& value) { map.insert(key, value); }))
            return false;
        out = map;
        return true;
    }
    out = QVariant(); // an empty AnyValue
    return true;
}

/// The attributes of a span, a resource or a data point.
template <typename Each> bool attributes(Path& path, object o, const DecodeOptions& options, Each each)
{
    return keyValues(path, o, "attributes", 0, options, each);
}

/// The resource of a resourceSpans or resourceMetrics element: what names the process.
bool resource(Path& path, object parent, const DecodeOptions& options, Resource& r)
{
    element e;
    if (field(parent, "resource", e)) {
        Path::Scope scope(path, "resource");
        object o;
        if (!asObject(path, e, nullptr, o)
            || !attributes(path, o, options,
                [&r](const QString& key, const QVariant& value) { applyResourceAttribute(r, key, value); }))
            return false;
    }
    if (r.serviceName.isEmpty())
        r.serviceName = QStringLiteral("unknown_service");
    return true;
}

/// Traces and metrics nest alike: resources, each with its Resource and its scopes, each scope
/// with its items: resourceSpans[].scopeSpans[].spans[], resourceMetrics[].scopeMetrics[].metrics[].
template <typename Group, typename Item> struct Nesting
{
    const char* resources;
    const char* scopes;
    const char* items;
    std::vector<Item> Group::*list; ///< where a group keeps its items
};

constexpr Nesting<ResourceSpans, Span> SpanNesting { "resourceSpans", "scopeSpans", "spans", &ResourceSpans::spans };
constexpr Nesting<ResourceMetrics, Metric> MetricNesting { "resourceMetrics", "scopeMetrics", "metrics",
    &ResourceMetrics::metrics };

/// Decodes the resources of @p doc into @p groups, one each with its Resource. Every item of
/// their scopes goes to @p read(item, the group's list of items), which adds what it makes of it.
template <typename Group, typename Item, typename Read>
bool decodeNested(Path& path, element doc, const Nesting<Group, Item>& nesting, const DecodeOptions& options,
    std::vector<Group>& groups, Read read)
{
    object root;
    if (!asObject(path, doc, nullptr, root))
        return false;
    return forEachObject(path, root, nesting.resources, [&](object ro) {
        Group& group = groups.emplace_back();
        if (!resource(path, ro, options, group.resource))
            return false;
        return forEachObject(path, ro, nesting.scopes, [&](object so) {
            std::optional<array> items;
            if (!arrayField(path, so, nesting.items, nesting.items, items))
                return false;
            if (!items)
                return true;
            std::vector<Item>& list = group.*nesting.list;
            list.reserve(list.size() + items->size());
            return forEachObjectOf(path, *items, nesting.items, [&](object item) { return read(item, list); });
        });
    });
}

bool spanStatus(Path& path, element e, Span& span)
{
    object status;
    if (!asObject(path, e, "status", status))
        return false;
    element c;
    if (field(status, "code", c)) {
        int code = 0;
        if (!enumValue(path, c, "status.code", { "STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR" }, code))
            return false;
        span.error = code == 2;
    }
    return !field(status, "message", c) || text(path, c, "status.message", span.statusMessage);
}

bool readSpan(Path& path, object so, std::vector<Span>& spans, NameCache& names, const DecodeOptions& options)
{
    Span& span = spans.emplace_back();
    // One pass over the span's fields (an exporter's span has 15 or so): looking each one up by
    // name would compare keys several times over.
    for (const auto member : so) {
        const std::string_view key = member.key;
        const element e = member.value;
        if (e.is_null())
            continue;
        if (key == "name") {
            std::string_view name;
            if (!str(path, e, "name", name))
                return false;
            span.name = names.text(name);
        } else if (key == "kind") {
            int kind = 0;
            if (!enumValue(path, e, "kind",
                    { "SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
                        "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER" },
                    kind))
                return false;
            span.kind = kind <= 5 ? SpanKind(kind) : SpanKind::Unspecified;
        } else if (key == "startTimeUnixNano") {
            if (!u64(path, e, "startTimeUnixNano", span.startNs))
                return false;
        } else if (key == "endTimeUnixNano") {
            if (!u64(path, e, "endTimeUnixNano", span.endNs))
                return false;
        } else if (key == "status") {
            if (!spanStatus(path, e, span))
                return false;
        }
    }
    if (span.endNs >= span.startNs && span.endNs - span.startNs >= options.attributesFromNs) {
        return attributes(path, so, options,
            [&span](const QString& key, const QVariant& value) { span.attributes.insert(key, value); });
    }
    return true;
}

bool decodeTracesDom(Path& path, element doc, Traces& out, const DecodeOptions& options)
{
    NameCache names; // views into the parser's strings, which outlive this call
    return decodeNested(path, doc, SpanNesting, options, out.resources,
        [&](object span, std::vector<Span>& spans) { return readSpan(path, span, spans, names, options); });
}

bool optionalF64(Path& path, object o, std::string_view key, const char* name, std::optional<double>& out)
{
    element e;
    double d = 0.0;
    out.reset();
    if (!field(o, key, e))
        return true;
    if (!f64(path, e, name, d))
        return false;
    out = d;
    return true;
}

/// An optional integer field: absent is 0.
bool u64Field(Path& path, object o, std::string_view key, const char* name, quint64& out)
{
    element e;
    out = 0;
    return !field(o, key, e) || u64(path, e, name, out);
}

bool u64Array(Path& path, object o, std::string_view key, const char* name, std::vector<quint64>& out)
{
    std::optional<array> list;
    out.clear();
    if (!arrayField(path, o, key, name, list))
        return false;
    if (!list)
        return true;
    out.reserve(list->size());
    for (element e : *list) {
        quint64 v = 0;
        if (!u64(path, e, name, v))
            return false;
        out.push_back(v);
    }
    return true;
}

/// What every data point has: its attributes (sorted: they name the series) and its times.
template <typename Point> bool pointFields(Path& path, object po, const DecodeOptions& options, Point& point)
{
    if (!attributes(path, po, options, [&point](const QString& key, const QVariant& value) {
            point.attributes.append({ key, attributeText(value) });
        }))
        return false;
    std::sort(point.attributes.begin(), point.attributes.end());
    return u64Field(path, po, "startTimeUnixNano", "startTimeUnixNano", point.startNs)
        && u64Field(path, po, "timeUnixNano", "timeUnixNano", point.timeNs);
}

/// What explicit-bucket and exponential histogram points share.
template <typename Point> bool distributionFields(Path& path, object po, const DecodeOptions& options, Point& point)
{
    return pointFields(path, po, options, point) && u64Field(path, po, "count", "count", point.count)
        && optionalF64(path, po, "sum", "sum", point.sum) && optionalF64(path, po, "min", "min", point.min)
        && optionalF64(path, po, "max", "max", point.max);
}

bool numberPoint(Path& path, object po, const DecodeOptions& options, Metric& m)
{
    NumberPoint& point = m.numbers.emplace_back();
    if (!pointFields(path, po, options, point))
        return false;
    element v;
    if (field(po, "asDouble", v))
        return f64(path, v, "asDouble", point.value);
    qint64 i = 0;
    if (field(po, "asInt", v)) {
        if (!i64(path, v, "asInt", i))
            return false;
        point.value = double(i);
    }
    return true;
}

bool histogramPoint(Path& path, object po, const DecodeOptions& options, Metric& m)
{
    HistogramPoint& point = m.histograms.emplace_back();
    std::optional<array> bounds;
    if (!distributionFields(path, po, options, point)
        || !u64Array(path, po, "bucketCounts", "bucketCounts", point.bucketCounts)
        || !arrayField(path, po, "explicitBounds", "explicitBounds", bounds))
        return false;
    if (bounds) {
        for (element b : *bounds) {
            double bound = 0.0;
            if (!f64(path, b, "explicitBounds", bound))
                return false;
            point.explicitBounds.push_back(bound);
        }
    }
    return true;
}

bool exponentialPoint(Path& path, object po, const DecodeOptions& options, Metric& m)
{
    ExponentialPoint& point = m.exponentials.emplace_back();
    if (!distributionFields(path, po, options, point) || !u64Field(path, po, "zeroCount", "zeroCount", point.zeroCount))
        return false;
    element v;
    if (field(po, "scale", v) && !bounded(path, v, "scale", -10, 20, "out of range (-10..20)", point.scale))
        return false;
    if (field(po, "positive", v)) {
        object buckets;
        element offset;
        if (!asObject(path, v, "positive", buckets)
            || (field(buckets, "offset", offset)
                && !bounded(path, offset, "positive.offset", -(1 << 20), 1 << 20, "out of range", point.positiveOffset))
            || !u64Array(path, buckets, "bucketCounts", "positive.bucketCounts", point.positive))
            return false;
    }
    if (field(po, "negative", v)) {
        object buckets;
        std::vector<quint64> negative;
        if (!asObject(path, v, "negative", buckets)
            || !u64Array(path, buckets, "bucketCounts", "negative.bucketCounts", negative))
            return false;
        for (quint64 c : negative)
            point.negativeCount += c;
    }
    return true;
}

/// A metric of a kind perfdash reads (gauge, sum, histogram, exponential histogram) is added to
/// @p metrics; summaries and kinds to come are skipped.
bool readMetric(Path& path, object mo, std::vector<Metric>& metrics, const DecodeOptions& options)
{
    struct Kind
    {
        const char* key;
        Metric::Type type;
        bool (*point)(Path&, object, const DecodeOptions&, Metric&);
    };
    static constexpr Kind Kinds[] = {
        { "gauge", Metric::Type::Gauge, numberPoint },
        { "sum", Metric::Type::Sum, numberPoint },
        { "histogram", Metric::Type::Histogram, histogramPoint },
        { "exponentialHistogram", Metric::Type::ExponentialHistogram, exponentialPoint },
    };
    Metric m;
    element e;
    if ((field(mo, "name", e) && !text(path, e, "name", m.name))
        || (field(mo, "unit", e) && !text(path, e, "unit", m.unit)))
        return false;
    const Kind* kind
        = std::find_if(std::begin(Kinds), std::end(Kinds), [&](const Kind& k) { return field(mo, k.key, e); });
    if (kind == std::end(Kinds))
        return true;
    m.type = kind->type;
    Path::Scope scope(path, kind->key);
    object data;
    if (!asObject(path, e, nullptr, data))
        return false;
    element t;
    int temporality = 0;
    if (m.type != Metric::Type::Gauge && field(data, "aggregationTemporality", t)) {
        if (!enumValue(path, t, "aggregationTemporality",
                { "AGGREGATION_TEMPORALITY_UNSPECIFIED", "AGGREGATION_TEMPORALITY_DELTA",
                    "AGGREGATION_TEMPORALITY_CUMULATIVE" },
                temporality))
            return false;
        m.temporality = temporality <= 2 ? Temporality(temporality) : Temporality::Unspecified;
    }
    if (m.type == Metric::Type::Sum && field(data, "isMonotonic", t) && !boolean(path, t, "isMonotonic", m.monotonic))
        return false;
    if (!forEachObject(path, data, "dataPoints", [&](object po) { return kind->point(path, po, options, m); }))
        return false;
    metrics.push_back(std::move(m));
    return true;
}

bool decodeMetricsDom(Path& path, element doc, Metrics& out, const DecodeOptions& options)
{
    return decodeNested(path, doc, MetricNesting, options, out.resources,
        [&](object metric, std::vector<Metric>& metrics) { return readMetric(path, metric, metrics, options); });
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
            return failWith(error, QStringLiteral("invalid JSON: ") + QString::fromUtf8(simdjson::error_message(code)));
        }
        return true;
    }

    /// Parses @p body and decodes it into @p out with @p decodeDom(path, document); @p out is
    /// left empty when either fails.
    template <typename Out, typename DecodeDom>
    bool decode(QByteArrayView body, Out& out, QString* error, DecodeDom decodeDom)
    {
        out = {};
        element doc;
        if (!parse(body, doc, error))
            return false;
        Path path;
        if (decodeDom(path, doc))
            return true;
        if (error)
            *error = path.error();
        out = {};
        return false;
    }
};

JsonDecoder::JsonDecoder()
    : m_impl(std::make_unique<Impl>())
{
}

JsonDecoder::~JsonDecoder() = default;

bool JsonDecoder::decodeTraces(QByteArrayView body, Traces& out, QString* error, const DecodeOptions& options)
{
    return m_impl->decode(
        body, out, error, [&](Path& path, element doc) { return decodeTracesDom(path, doc, out, options); });
}

bool JsonDecoder::decodeMetrics(QByteArrayView body, Metrics& out, QString* error, const DecodeOptions& options)
{
    return m_impl->decode(
        body, out, error, [&](Path& path, element doc) { return decodeMetricsDom(path, doc, out, options); });
}

} // namespace perfdash::otlp
