// SPDX-License-Identifier: GPL-3.0-or-later
#include "otlpprotobuf.h"

#include "otlp_metrics.pb.h"
#include "otlp_trace.pb.h"

#include <google/protobuf/arena.h>

#include <algorithm>

namespace perfdash::otlp {

namespace {

namespace pb = perfdash::otlp::pb;

QString text(const std::string& s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
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
    return t == pb::AGGREGATION_TEMPORALITY_DELTA ? Temporality::Delta
        : t == pb::AGGREGATION_TEMPORALITY_CUMULATIVE ? Temporality::Cumulative
                                                      : Temporality::Unspecified;
}

template <typename Message> bool parse(QByteArrayView body, Message* message, QString* error)
{
    if (body.size() > std::numeric_limits<int>::max() || !message->ParseFromArray(body.data(), int(body.size()))) {
        if (error)
            *error = QStringLiteral("invalid protobuf: not an %1").arg(QString::fromStdString(message->GetTypeName()));
        return false;
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
    google::protobuf::Arena arena; // one allocation sweep for the whole request
    auto* request = google::protobuf::Arena::CreateMessage<pb::ExportTraceServiceRequest>(&arena);
    if (!parse(body, request, error))
        return false;
    bool tooDeep = false;
    out.resources.reserve(std::size_t(request->resource_spans_size()));
    for (const pb::ResourceSpans& rs : request->resource_spans()) {
        ResourceSpans& group = out.resources.emplace_back();
        group.resource = resource(rs.resource(), options, &tooDeep);
        for (const pb::ScopeSpans& ss : rs.scope_spans()) {
            group.spans.reserve(group.spans.size() + std::size_t(ss.spans_size()));
            for (const pb::Span& s : ss.spans()) {
                Span& span = group.spans.emplace_back();
                span.name = text(s.name());
                span.kind = s.kind() >= 0 && s.kind() <= 5 ? SpanKind(s.kind()) : SpanKind::Unspecified;
                span.startNs = s.start_time_unix_nano();
                span.endNs = s.end_time_unix_nano();
                span.error = s.status().code() == pb::Status::STATUS_CODE_ERROR;
                if (!s.status().message().empty())
                    span.statusMessage = text(s.status().message());
                if (span.endNs >= span.startNs && span.endNs - span.startNs >= options.attributesFromNs) {
                    pb::KeyValue kv;
                    for (const std::string& bytes : s.attributes()) {
                        if (!kv.ParseFromString(bytes)) {
                            if (error)
                                *error = QStringLiteral("invalid protobuf: a span attribute is not a KeyValue");
                            out = {};
                            return false;
                        }
                        span.attributes.insert(text(kv.key()), anyValue(kv.value(), 0, options, &tooDeep));
                    }
                }
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
                        point.value = p.value_case() == pb::NumberDataPoint::kAsInt ? double(p.as_int()) : p.as_double();
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
                        point.startNs = p.start_time_unix_nano();
                        point.timeNs = p.time_unix_nano();
                        point.count = p.count();
                        if (p.has_sum())
                            point.sum = p.sum();
                        if (p.has_min())
                            point.min = p.min();
                        if (p.has_max())
                            point.max = p.max();
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
                        point.startNs = p.start_time_unix_nano();
                        point.timeNs = p.time_unix_nano();
                        point.count = p.count();
                        if (p.has_sum())
                            point.sum = p.sum();
                        if (p.has_min())
                            point.min = p.min();
                        if (p.has_max())
                            point.max = p.max();
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
