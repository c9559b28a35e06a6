// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlp/otlpprotobuf.h"

#include "core/errors.h"

#include "otlp_metrics.pb.h"
#include "otlp_trace.pb.h"

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>

#include <algorithm>
#include <string_view>

namespace perfdash::otlp {

namespace {

namespace pb = perfdash::otlp::pb;

QString text(std::string_view s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

using google::protobuf::internal::WireFormatLite;

/// One message's fields, walked with protobuf's own wire reader over the request's bytes: a span
/// is read in place (no message object, no copy of its attributes, trace ids, events or links),
/// which the generated parser would allocate and copy for every span.
class WireReader
{
public:
    explicit WireReader(std::string_view bytes)
        : m_base(bytes.data())
        , m_in(reinterpret_cast<const uint8_t*>(bytes.data()), int(bytes.size()))
    {
    }

    /// The next field; false at the end of the message (then ok()) or on a bad tag.
    bool next()
    {
        m_tag = m_in.ReadTag();
        if (m_tag != 0)
            return true;
        m_ok = m_ok && m_in.ConsumedEntireMessage();
        return false;
    }
    int field() const { return WireFormatLite::GetTagFieldNumber(m_tag); }
    bool is(WireFormatLite::WireType type) const { return WireFormatLite::GetTagWireType(m_tag) == type; }
    bool ok() const { return m_ok; }

    /// A length-delimited field (bytes, string, message): a view into the request.
    bool bytes(std::string_view* out)
    {
        uint32_t size = 0;
        if (!m_in.ReadVarint32(&size) || size > uint32_t(std::numeric_limits<int>::max()) || !m_in.Skip(int(size)))
            return fail();
        *out = std::string_view(m_base + (m_in.CurrentPosition() - int(size)), size);
        return true;
    }
    /// A proto3 enum or int32: a varint, truncated to 32 bits as generated code does.
    bool int32(int* out)
    {
        uint64_t v = 0;
        if (!m_in.ReadVarint64(&v))
            return fail();
        *out = int(int32_t(uint32_t(v)));
        return true;
    }
    bool fixed64(quint64* out)
    {
        uint64_t v = 0;
        if (!m_in.ReadLittleEndian64(&v))
            return fail();
        *out = v;
        return true;
    }
    /// Skips a field this reader does not read, or one of an unexpected wire type (as generated
    /// code treats it: an unknown field).
    bool skip() { return WireFormatLite::SkipField(&m_in, m_tag) || fail(); }

private:
    bool fail()
    {
        m_ok = false;
        return false;
    }

    const char* m_base;
    google::protobuf::io::CodedInputStream m_in;
    uint32_t m_tag = 0;
    bool m_ok = true;
};

constexpr auto Len = WireFormatLite::WIRETYPE_LENGTH_DELIMITED;

/// opentelemetry.proto.trace.v1.Status: message = 2, code = 3.
bool readStatus(std::string_view bytes, Span& span)
{
    WireReader r(bytes);
    while (r.next()) {
        if (r.field() == 2 && r.is(Len)) {
            std::string_view message;
            if (!r.bytes(&message))
                return false;
            span.statusMessage = message.empty() ? QString() : text(message);
        } else if (r.field() == 3 && r.is(WireFormatLite::WIRETYPE_VARINT)) {
            int code = 0;
            if (!r.int32(&code))
                return false;
            span.error = code == pb::Status::STATUS_CODE_ERROR;
        } else if (!r.skip()) {
            return false;
        }
    }
    return r.ok();
}

/// opentelemetry.proto.trace.v1.Span, the fields of otlp_trace.proto's Span; @p attributes gets
/// the KeyValue messages' bytes, parsed only when the span is slow.
bool readSpan(std::string_view bytes, Span& span, std::vector<std::string_view>& attributes, NameCache& names)
{
    WireReader r(bytes);
    attributes.clear();
    while (r.next()) {
        bool read = true;
        std::string_view b;
        switch (r.field()) {
        case 5: // name
            if (!r.is(Len))
                read = false;
            else if (r.bytes(&b))
                span.name = names.text(b);
            break;
        case 6: { // kind
            int kind = 0;
            if (!r.is(WireFormatLite::WIRETYPE_VARINT))
                read = false;
            else if (r.int32(&kind))
                span.kind = kind >= 0 && kind <= 5 ? SpanKind(kind) : SpanKind::Unspecified;
            break;
        }
        case 7: // start_time_unix_nano
            if (!r.is(WireFormatLite::WIRETYPE_FIXED64))
                read = false;
            else
                r.fixed64(&span.startNs);
            break;
        case 8: // end_time_unix_nano
            if (!r.is(WireFormatLite::WIRETYPE_FIXED64))
                read = false;
            else
                r.fixed64(&span.endNs);
            break;
        case 9: // attributes
            if (!r.is(Len))
                read = false;
            else if (r.bytes(&b))
                attributes.push_back(b);
            break;
        case 15: // status
            if (!r.is(Len))
                read = false;
            else if (r.bytes(&b) && !readStatus(b, span))
                return false;
            break;
        default:
            read = false;
        }
        if (!read && !r.skip())
            return false;
        if (!r.ok())
            return false;
    }
    return r.ok();
}

QVariant anyValue(const pb::AnyValue& v, int depth, const DecodeOptions& options, bool* tooDeep)
{
    if (depth > options.maxDepth) {
        *tooDeep = true;
        return {};
    }
    switch (v.value_case()) {
    case pb::AnyValue::kStringValue:
        return text(v.string_value());
    case pb::AnyValue::kBoolValue:
        return v.bool_value();
    case pb::AnyValue::kIntValue:
        return qint64(v.int_value());
    case pb::AnyValue::kDoubleValue:
        return v.double_value();
    case pb::AnyValue::kBytesValue:
        return QByteArray::fromStdString(v.bytes_value());
    case pb::AnyValue::kArrayValue: {
        QVariantList list;
        for (const pb::AnyValue& item : v.array_value().values())
            list.append(anyValue(item, depth + 1, options, tooDeep));
        return list;
    }
    case pb::AnyValue::kKvlistValue: {
        QVariantMap map;
        for (const pb::KeyValue& kv : v.kvlist_value().values())
            map.insert(text(kv.key()), anyValue(kv.value(), depth + 1, options, tooDeep));
        return map;
    }
    case pb::AnyValue::VALUE_NOT_SET:
        break;
    }
    return {};
}

Resource resource(const pb::Resource& r, const DecodeOptions& options, bool* tooDeep)
{
    Resource out;
    for (const pb::KeyValue& kv : r.attributes())
        applyResourceAttribute(out, text(kv.key()), anyValue(kv.value(), 0, options, tooDeep));
    if (out.serviceName.isEmpty())
        out.serviceName = QStringLiteral("unknown_service");
    return out;
}

Attributes pointAttributes(
    const google::protobuf::RepeatedPtrField<pb::KeyValue>& list, const DecodeOptions& options, bool* tooDeep)
{
    Attributes out;
    out.reserve(list.size());
    for (const pb::KeyValue& kv : list)
        out.append({ text(kv.key()), attributeText(anyValue(kv.value(), 0, options, tooDeep)) });
    std::sort(out.begin(), out.end());
    return out;
}

Temporality temporality(pb::AggregationTemporality t)
{
    return t == pb::AGGREGATION_TEMPORALITY_DELTA     ? Temporality::Delta
        : t == pb::AGGREGATION_TEMPORALITY_CUMULATIVE ? Temporality::Cumulative
                                                      : Temporality::Unspecified;
}

/// The fields the two kinds of histogram point share.
template <typename PbPoint> void histogramCommon(const PbPoint& p, HistogramPointBase* point)
{
    point->startNs = p.start_time_unix_nano();
    point->timeNs = p.time_unix_nano();
    point->count = p.count();
    if (p.has_sum())
        point->sum = p.sum();
    if (p.has_min())
        point->min = p.min();
    if (p.has_max())
        point->max = p.max();
}

template <typename Message> bool parse(QByteArrayView body, Message* message, QString* error)
{
    if (body.size() > std::numeric_limits<int>::max() || !message->ParseFromArray(body.data(), int(body.size()))) {
        return failWith(
            error, QStringLiteral("invalid protobuf: not an %1").arg(QString::fromStdString(message->GetTypeName())));
    }
    return true;
}

QByteArray serialize(const google::protobuf::MessageLite& m)
{
    QByteArray out(qsizetype(m.ByteSizeLong()), Qt::Uninitialized);
    m.SerializeToArray(out.data(), int(out.size()));
    return out;
}

} // namespace

bool decodeTracesProtobuf(QByteArrayView body, Traces& out, QString* error, const DecodeOptions& options)
{
    out = {};
    const auto invalid = [&](const QString& why) {
        if (error)
            *error = why;
        out = {};
        return false;
    };
    const QString notARequest = QStringLiteral("invalid protobuf: not an perfdash.otlp.pb.ExportTraceServiceRequest");
    if (body.size() > std::numeric_limits<int>::max())
        return invalid(notARequest);
    bool tooDeep = false;
    NameCache names;
    std::vector<std::string_view> attributes;
    pb::KeyValue kv;
    // ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    WireReader request(std::string_view(body.data(), std::size_t(body.size())));
    while (request.next()) {
        std::string_view rsBytes;
        if (request.field() != 1 || !request.is(Len)) {
            if (!request.skip())
                break;
            continue;
        }
        if (!request.bytes(&rsBytes))
            break;
        ResourceSpans& group = out.resources.emplace_back();
        pb::Resource pbResource;
        // ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
        WireReader rs(rsBytes);
        while (rs.next()) {
            std::string_view b;
            if (rs.field() == 1 && rs.is(Len)) {
                if (!rs.bytes(&b))
                    break;
                google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(b.data()), int(b.size()));
                if (!pbResource.MergeFromCodedStream(&in))
                    return invalid(notARequest);
            } else if (rs.field() == 2 && rs.is(Len)) {
                if (!rs.bytes(&b))
                    break;
                // ScopeSpans { repeated Span spans = 2; }
                WireReader ss(b);
                while (ss.next()) {
                    std::string_view spanBytes;
                    if (ss.field() != 2 || !ss.is(Len)) {
                        if (!ss.skip())
                            break;
                        continue;
                    }
                    if (!ss.bytes(&spanBytes))
                        break;
                    Span& span = group.spans.emplace_back();
                    if (!readSpan(spanBytes, span, attributes, names))
                        return invalid(notARequest);
                    if (span.endNs >= span.startNs && span.endNs - span.startNs >= options.attributesFromNs) {
                        for (const std::string_view a : attributes) {
                            if (!kv.ParseFromArray(a.data(), int(a.size())))
                                return invalid(QStringLiteral("invalid protobuf: a span attribute is not a KeyValue"));
                            span.attributes.insert(text(kv.key()), anyValue(kv.value(), 0, options, &tooDeep));
                        }
                    }
                }
                if (!ss.ok())
                    return invalid(notARequest);
            } else if (!rs.skip()) {
                break;
            }
        }
        if (!rs.ok())
            return invalid(notARequest);
        group.resource = resource(pbResource, options, &tooDeep);
    }
    if (!request.ok())
        return invalid(notARequest);
    if (tooDeep)
        return invalid(QStringLiteral("attribute values nested too deep"));
    return true;
}

bool decodeMetricsProtobuf(QByteArrayView body, Metrics& out, QString* error, const DecodeOptions& options)
{
    out = {};
    google::protobuf::Arena arena;
    auto* request = google::protobuf::Arena::CreateMessage<pb::ExportMetricsServiceRequest>(&arena);
    if (!parse(body, request, error))
        return false;
    bool tooDeep = false;
    for (const pb::ResourceMetrics& rm : request->resource_metrics()) {
        ResourceMetrics& group = out.resources.emplace_back();
        group.resource = resource(rm.resource(), options, &tooDeep);
        for (const pb::ScopeMetrics& sm : rm.scope_metrics()) {
            for (const pb::Metric& pm : sm.metrics()) {
                Metric m;
                m.name = text(pm.name());
                m.unit = text(pm.unit());
                const auto numbers = [&](const auto& points) {
                    for (const pb::NumberDataPoint& p : points) {
                        NumberPoint& point = m.numbers.emplace_back();
                        point.attributes = pointAttributes(p.attributes(), options, &tooDeep);
                        point.startNs = p.start_time_unix_nano();
                        point.timeNs = p.time_unix_nano();
                        point.value
                            = p.value_case() == pb::NumberDataPoint::kAsInt ? double(p.as_int()) : p.as_double();
                    }
                };
                switch (pm.data_case()) {
                case pb::Metric::kGauge:
                    m.type = Metric::Type::Gauge;
                    numbers(pm.gauge().data_points());
                    break;
                case pb::Metric::kSum:
                    m.type = Metric::Type::Sum;
                    m.temporality = temporality(pm.sum().aggregation_temporality());
                    m.monotonic = pm.sum().is_monotonic();
                    numbers(pm.sum().data_points());
                    break;
                case pb::Metric::kHistogram:
                    m.type = Metric::Type::Histogram;
                    m.temporality = temporality(pm.histogram().aggregation_temporality());
                    for (const pb::HistogramDataPoint& p : pm.histogram().data_points()) {
                        HistogramPoint& point = m.histograms.emplace_back();
                        point.attributes = pointAttributes(p.attributes(), options, &tooDeep);
                        histogramCommon(p, &point);
                        point.bucketCounts.assign(p.bucket_counts().begin(), p.bucket_counts().end());
                        point.explicitBounds.assign(p.explicit_bounds().begin(), p.explicit_bounds().end());
                    }
                    break;
                case pb::Metric::kExponentialHistogram:
                    m.type = Metric::Type::ExponentialHistogram;
                    m.temporality = temporality(pm.exponential_histogram().aggregation_temporality());
                    for (const pb::ExponentialHistogramDataPoint& p : pm.exponential_histogram().data_points()) {
                        if (p.scale() < -10 || p.scale() > 20 || p.positive().offset() < -(1 << 20)
                            || p.positive().offset() > (1 << 20)) {
                            if (error)
                                *error = QStringLiteral("metric %1: exponential histogram scale or offset out of range")
                                             .arg(m.name);
                            out = {};
                            return false;
                        }
                        ExponentialPoint& point = m.exponentials.emplace_back();
                        point.attributes = pointAttributes(p.attributes(), options, &tooDeep);
                        histogramCommon(p, &point);
                        point.scale = p.scale();
                        point.zeroCount = p.zero_count();
                        point.positiveOffset = p.positive().offset();
                        point.positive.assign(p.positive().bucket_counts().begin(), p.positive().bucket_counts().end());
                        for (quint64 c : p.negative().bucket_counts())
                            point.negativeCount += c;
                    }
                    break;
                case pb::Metric::DATA_NOT_SET:
                    continue; // summaries and kinds to come: not read
                }
                group.metrics.push_back(std::move(m));
            }
        }
    }
    if (tooDeep) {
        if (error)
            *error = QStringLiteral("attribute values nested too deep");
        out = {};
        return false;
    }
    return true;
}

QByteArray encodeTraceResponseProtobuf(qint64 rejected, const QString& message)
{
    pb::ExportTraceServiceResponse response;
    if (rejected || !message.isEmpty()) {
        response.mutable_partial_success()->set_rejected_spans(rejected);
        response.mutable_partial_success()->set_error_message(message.toStdString());
    }
    return serialize(response);
}

QByteArray encodeMetricsResponseProtobuf(qint64 rejected, const QString& message)
{
    pb::ExportMetricsServiceResponse response;
    if (rejected || !message.isEmpty()) {
        response.mutable_partial_success()->set_rejected_data_points(rejected);
        response.mutable_partial_success()->set_error_message(message.toStdString());
    }
    return serialize(response);
}

} // namespace perfdash::otlp
