// SPDX-License-Identifier: GPL-3.0-or-later
// The OTLP decoders (JSON and protobuf) against bodies recorded from the official Node exporters
// (tests/data/otlp, made by examples/otel/record.js: 3 requests to GET /users/:id, 2 failing ones
// to GET /orders/:id), and against bad bodies.
#include "otlp/otlpjson.h"
#include "otlp/otlpprotobuf.h"
#include "otlp_metrics.pb.h"
#include "otlp_trace.pb.h"
#include "tests/helpers/otlptestdata.h"

#include <QFile>
#include <QTest>

#include <string>

using namespace perfdash;
using namespace perfdash::otlp;

namespace {

using perfdashtest::recorded;

bool decodeTraces(
    const QString& encoding, const QByteArray& body, Traces& out, QString* error, const DecodeOptions& options = {})
{
    if (encoding == u"json") {
        JsonDecoder decoder;
        return decoder.decodeTraces(body, out, error, options);
    }
    return decodeTracesProtobuf(body, out, error, options);
}

bool decodeMetrics(const QString& encoding, const QByteArray& body, Metrics& out, QString* error)
{
    if (encoding == u"json") {
        JsonDecoder decoder;
        return decoder.decodeMetrics(body, out, error);
    }
    return decodeMetricsProtobuf(body, out, error);
}

/// Protobuf's wire format by hand, for what the generated classes would not write.
std::string varint(quint64 v)
{
    std::string out;
    for (; v >= 0x80; v >>= 7)
        out += char(v | 0x80);
    return out + char(v);
}

std::string lengthDelimited(int field, const std::string& bytes)
{
    return varint(quint64(field) << 3 | 2) + varint(bytes.size()) + bytes;
}

const Span* findSpan(const Traces& t, const QString& name, SpanKind kind)
{
    for (const ResourceSpans& r : t.resources) {
        for (const Span& s : r.spans) {
            if (s.name == name && s.kind == kind)
                return &s;
        }
    }
    return nullptr;
}

} // namespace

class TestOtlpDecode : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void recordedTraces_data()
    {
        QTest::addColumn<QString>("encoding");
        QTest::addColumn<QString>("file");
        QTest::newRow("json exporter") << QStringLiteral("json") << QStringLiteral("traces.json");
        QTest::newRow("protobuf exporter") << QStringLiteral("protobuf") << QStringLiteral("traces.pb");
    }
    void recordedTraces()
    {
        QFETCH(QString, encoding);
        QFETCH(QString, file);
        Traces t;
        QString error;
        QVERIFY2(decodeTraces(encoding, recorded(file), t, &error), qPrintable(error));
        QCOMPARE(t.resources.size(), std::size_t(1));
        const Resource& r = t.resources[0].resource;
        QCOMPARE(r.serviceName, QStringLiteral("recorded-") + encoding);
        QVERIFY(r.pid > 0);
        QVERIFY(!r.hostName.isEmpty());
        QVERIFY(r.commandLine.size() > 2); // process.command_args
        QVERIFY(r.commandLine.at(1).endsWith(u"app.js"));
        // 5 requests: a server span, a client span, and three Express spans (internal) each.
        QCOMPARE(t.spanCount(), quint64(25));
        QHash<QString, int> count;
        QHash<QString, int> errors;
        for (const Span& s : t.resources[0].spans) {
            const QString key = QString::number(int(s.kind)) + u' ' + s.name;
            ++count[key];
            errors[key] += s.error ? 1 : 0;
            QVERIFY(s.startNs > 1'600'000'000'000'000'000ull);
            QVERIFY(s.endNs >= s.startNs);
            QVERIFY(s.attributes.isEmpty()); // not asked for
        }
        QCOMPARE(count.value(QStringLiteral("2 GET /users/:id")), 3);
        QCOMPARE(errors.value(QStringLiteral("2 GET /users/:id")), 0);
        QCOMPARE(count.value(QStringLiteral("2 GET /orders/:id")), 2);
        QCOMPARE(errors.value(QStringLiteral("2 GET /orders/:id")), 2);
        QCOMPARE(count.value(QStringLiteral("3 GET")), 5);
        QCOMPARE(errors.value(QStringLiteral("3 GET")), 2);
        QCOMPARE(count.value(QStringLiteral("1 request handler - /users/:id")), 3);
        QCOMPARE(count.value(QStringLiteral("1 middleware - query")), 5);
    }

    void attributesOfSlowSpansOnly_data()
    {
        QTest::addColumn<QString>("encoding");
        QTest::addColumn<QString>("file");
        QTest::newRow("json") << QStringLiteral("json") << QStringLiteral("traces.json");
        QTest::newRow("protobuf") << QStringLiteral("protobuf") << QStringLiteral("traces.pb");
    }
    void attributesOfSlowSpansOnly()
    {
        QFETCH(QString, encoding);
        QFETCH(QString, file);
        Traces all;
        QString error;
        DecodeOptions options;
        options.attributesFromNs = 0;
        QVERIFY2(decodeTraces(encoding, recorded(file), all, &error, options), qPrintable(error));
        const Span* server = findSpan(all, QStringLiteral("GET /users/:id"), SpanKind::Server);
        QVERIFY(server);
        QCOMPARE(server->attributes.value(QStringLiteral("http.route")).toString(), QStringLiteral("/users/:id"));
        QCOMPARE(server->attributes.value(QStringLiteral("http.status_code")).toLongLong(), 200);
        QCOMPARE(server->attributes.value(QStringLiteral("http.method")).toString(), QStringLiteral("GET"));

        // Only the spans at least as long as the threshold carry them.
        std::vector<quint64> durations;
        for (const Span& s : all.resources[0].spans)
            durations.push_back(s.endNs - s.startNs);
        std::sort(durations.begin(), durations.end());
        options.attributesFromNs = durations[durations.size() / 2] + 1;
        Traces some;
        QVERIFY(decodeTraces(encoding, recorded(file), some, &error, options));
        std::size_t with = 0;
        for (const Span& s : some.resources[0].spans) {
            QCOMPARE(!s.attributes.isEmpty(), s.endNs - s.startNs >= options.attributesFromNs);
            with += s.attributes.isEmpty() ? 0 : 1;
        }
        QVERIFY(with > 0 && with < some.resources[0].spans.size());
    }

    void bothEncodingsAgree()
    {
        Traces json;
        Traces protobuf;
        QString error;
        QVERIFY(decodeTraces(QStringLiteral("json"), recorded(QStringLiteral("traces.json")), json, &error));
        QVERIFY(decodeTraces(QStringLiteral("protobuf"), recorded(QStringLiteral("traces.pb")), protobuf, &error));
        const auto shape = [](const Traces& t) {
            QStringList out;
            for (const Span& s : t.resources[0].spans)
                out.append(QString::number(int(s.kind)) + u' ' + s.name + u' ' + QString::number(s.error));
            out.sort();
            return out;
        };
        QCOMPARE(shape(json), shape(protobuf));
    }

    void recordedMetrics_data()
    {
        QTest::addColumn<QString>("encoding");
        QTest::addColumn<QString>("file");
        QTest::newRow("json exporter") << QStringLiteral("json") << QStringLiteral("metrics.json");
        QTest::newRow("protobuf exporter") << QStringLiteral("protobuf") << QStringLiteral("metrics.pb");
    }
    void recordedMetrics()
    {
        QFETCH(QString, encoding);
        QFETCH(QString, file);
        Metrics m;
        QString error;
        QVERIFY2(decodeMetrics(encoding, recorded(file), m, &error), qPrintable(error));
        QCOMPARE(m.resources.size(), std::size_t(1));
        QCOMPARE(m.resources[0].resource.serviceName, QStringLiteral("recorded-") + encoding);
        const Metric* server = nullptr;
        for (const Metric& metric : m.resources[0].metrics) {
            if (metric.name == u"http.server.duration")
                server = &metric;
        }
        QVERIFY(server);
        QCOMPARE(server->type, Metric::Type::Histogram);
        QCOMPARE(server->unit, QStringLiteral("ms"));
        QCOMPARE(server->temporality, Temporality::Cumulative);
        quint64 total = 0;
        for (const HistogramPoint& p : server->histograms) {
            QCOMPARE(p.bucketCounts.size(), p.explicitBounds.size() + 1);
            quint64 inBuckets = 0;
            for (quint64 c : p.bucketCounts)
                inBuckets += c;
            QCOMPARE(inBuckets, p.count);
            QVERIFY(p.sum && p.min && p.max);
            QVERIFY(*p.min <= *p.max);
            QVERIFY(p.timeNs >= p.startNs && p.startNs > 0);
            const auto route = std::find_if(
                p.attributes.cbegin(), p.attributes.cend(), [](const auto& kv) { return kv.first == u"http.route"; });
            QVERIFY(route != p.attributes.cend());
            QVERIFY(std::is_sorted(p.attributes.cbegin(), p.attributes.cend()));
            total += p.count;
        }
        QCOMPARE(total, quint64(5));
    }

    void jsonForms_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<quint64>("start");
        QTest::addColumn<int>("kind");
        QTest::addColumn<bool>("error");
        // proto3 JSON: 64-bit integers as strings or numbers; enums as numbers or names.
        QTest::newRow("strings and numbers") << QByteArray(
            R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","kind":2,"startTimeUnixNano":"1000","endTimeUnixNano":2000,"status":{"code":2}}]}]}]})")
                                             << quint64(1000) << 2 << true;
        QTest::newRow("enum names") << QByteArray(
            R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a","kind":"SPAN_KIND_CLIENT","startTimeUnixNano":"5","endTimeUnixNano":"6","status":{"code":"STATUS_CODE_OK"}}]}]}]})")
                                    << quint64(5) << 3 << false;
        QTest::newRow("unknown fields and nulls") << QByteArray(
            R"({"x":1,"resourceSpans":[{"resource":null,"scopeSpans":[{"scope":{"name":"s"},"spans":[{"name":"a","extra":[1,{"y":2}],"startTimeUnixNano":"7","endTimeUnixNano":"8","status":null}]}]}]})")
                                                  << quint64(7) << 0 << false;
    }
    void jsonForms()
    {
        QFETCH(QByteArray, body);
        QFETCH(quint64, start);
        QFETCH(int, kind);
        QFETCH(bool, error);
        JsonDecoder decoder;
        Traces t;
        QString why;
        QVERIFY2(decoder.decodeTraces(body, t, &why), qPrintable(why));
        QCOMPARE(t.spanCount(), quint64(1));
        const Span& s = t.resources[0].spans[0];
        QCOMPARE(s.startNs, start);
        QCOMPARE(int(s.kind), kind);
        QCOMPARE(s.error, error);
        QCOMPARE(t.resources[0].resource.serviceName, QStringLiteral("unknown_service"));
    }

    void badJson_data()
    {
        QTest::addColumn<QByteArray>("body");
        QTest::addColumn<QString>("reason");
        QTest::newRow("not json") << QByteArray("hello") << QStringLiteral("invalid JSON");
        QTest::newRow("empty") << QByteArray() << QStringLiteral("invalid JSON");
        QTest::newRow("truncated") << QByteArray(R"({"resourceSpans":[{"scopeSpans":[)")
                                   << QStringLiteral("invalid JSON");
        QTest::newRow("array at the top") << QByteArray("[]") << QStringLiteral("expected an object");
        QTest::newRow("resourceSpans not an array")
            << QByteArray(R"({"resourceSpans":{}})") << QStringLiteral("resourceSpans: expected an array");
        QTest::newRow("start time not a number")
            << QByteArray(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"},{"startTimeUnixNano":true}]}]}]})")
            << QStringLiteral(
                   "resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano: expected an unsigned integer");
        QTest::newRow("negative time") << QByteArray(
            R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":-5}]}]}]})")
                                       << QStringLiteral("endTimeUnixNano: expected an unsigned integer");
        QTest::newRow("time as text with junk")
            << QByteArray(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":"12x"}]}]}]})")
            << QStringLiteral("endTimeUnixNano: expected an unsigned integer");
        QTest::newRow("name not a string")
            << QByteArray(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":5}]}]}]})")
            << QStringLiteral("spans[0].name: expected a string");
        QTest::newRow("unknown kind name")
            << QByteArray(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SERVERISH"}]}]}]})")
            << QStringLiteral("kind: unknown enum name");
        QTest::newRow("resource attribute without key")
            << QByteArray(R"({"resourceSpans":[{"resource":{"attributes":[{"value":{"stringValue":"x"}}]}}]})")
            << QStringLiteral("resourceSpans[0].resource.attributes[0].key: missing");
        QByteArray deep = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"k","value":)";
        for (int i = 0; i < 40; ++i)
            deep += R"({"arrayValue":{"values":[)";
        deep += R"({"intValue":1})";
        for (int i = 0; i < 40; ++i)
            deep += "]}}";
        deep += "}]}}]}";
        QTest::newRow("attribute nested too deep") << deep << QStringLiteral("nested too deep");
    }
    void badJson()
    {
        QFETCH(QByteArray, body);
        QFETCH(QString, reason);
        JsonDecoder decoder;
        Traces t;
        QString why;
        QVERIFY(!decoder.decodeTraces(body, t, &why));
        QVERIFY2(why.contains(reason), qPrintable(why));
        QCOMPARE(t.spanCount(), quint64(0));
        // The decoder is reusable after a failure.
        QVERIFY(decoder.decodeTraces(recorded(QStringLiteral("traces.json")), t, &why));
        QCOMPARE(t.spanCount(), quint64(25));
    }

    void badProtobuf_data()
    {
        QTest::addColumn<QByteArray>("body");
        const QByteArray good = recorded(QStringLiteral("traces.pb"));
        QTest::newRow("text") << QByteArray("{\"resourceSpans\":[]}");
        QTest::newRow("truncated") << good.left(good.size() / 2);
        QTest::newRow("bad wire type") << QByteArray("\x0f\x01", 2);
        QTest::newRow("length past the end") << QByteArray("\x0a\xff\x01\x00", 4);
    }
    void badProtobuf()
    {
        QFETCH(QByteArray, body);
        Traces t;
        QString why;
        QVERIFY(!decodeTracesProtobuf(body, t, &why));
        QVERIFY2(why.contains(u"invalid protobuf"), qPrintable(why));
        Metrics m;
        QVERIFY(!decodeMetricsProtobuf(body, m, &why));
    }

    void emptyBodies()
    {
        // An empty protobuf message is valid: nothing to count. So is "{}".
        Traces t;
        QString why;
        QVERIFY(decodeTracesProtobuf(QByteArray(), t, &why));
        QCOMPARE(t.spanCount(), quint64(0));
        JsonDecoder decoder;
        QVERIFY(decoder.decodeTraces("{}", t, &why));
        QCOMPARE(t.spanCount(), quint64(0));
    }

    void exponentialHistogramJson()
    {
        const QByteArray body
            = R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"rpc.server.duration","unit":"s",
            "exponentialHistogram":{"aggregationTemporality":1,"dataPoints":[{"count":"6","sum":0.5,"scale":3,"zeroCount":"1",
            "positive":{"offset":-40,"bucketCounts":["2","0","3"]},"negative":{"bucketCounts":[]},"startTimeUnixNano":"1","timeUnixNano":"2"}]}},
            {"name":"queue.depth","gauge":{"dataPoints":[{"asInt":"7"},{"asDouble":1.5,"attributes":[{"key":"q","value":{"stringValue":"a"}}]}]}},
            {"name":"jobs","sum":{"aggregationTemporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","isMonotonic":true,"dataPoints":[{"asDouble":"Infinity"}]}}]}]}]})";
        JsonDecoder decoder;
        Metrics m;
        QString why;
        QVERIFY2(decoder.decodeMetrics(body, m, &why), qPrintable(why));
        QCOMPARE(m.pointCount(), quint64(4));
        const Metric& e = m.resources[0].metrics[0];
        QCOMPARE(e.type, Metric::Type::ExponentialHistogram);
        QCOMPARE(e.temporality, Temporality::Delta);
        QCOMPARE(e.exponentials[0].scale, 3);
        QCOMPARE(e.exponentials[0].positiveOffset, -40);
        QCOMPARE(e.exponentials[0].positive, (std::vector<quint64> { 2, 0, 3 }));
        QCOMPARE(e.exponentials[0].zeroCount, quint64(1));
        const Metric& g = m.resources[0].metrics[1];
        QCOMPARE(g.type, Metric::Type::Gauge);
        QCOMPARE(g.numbers[0].value, 7.0);
        QCOMPARE(g.numbers[1].attributes, (Attributes { { QStringLiteral("q"), QStringLiteral("a") } }));
        const Metric& s = m.resources[0].metrics[2];
        QCOMPARE(s.type, Metric::Type::Sum);
        QVERIFY(s.monotonic);
        QCOMPARE(s.temporality, Temporality::Cumulative);
        QVERIFY(std::isinf(s.numbers[0].value));
    }

    /// Spans are read in place from the wire: the fields perfdash reads, whatever else is around them.
    void protobufSpansAmongUnknownFields()
    {
        pb::Span span;
        span.set_name("GET /x");
        span.set_kind(pb::Span::SPAN_KIND_CLIENT);
        span.set_start_time_unix_nano(1000);
        span.set_end_time_unix_nano(5000);
        span.mutable_status()->set_code(pb::Status::STATUS_CODE_ERROR);
        span.mutable_status()->set_message("boom");
        pb::KeyValue route;
        route.set_key("http.route");
        route.mutable_value()->set_string_value("/x");
        span.add_attributes(route.SerializeAsString());
        // What exporters send and we do not declare: trace_id (1), an event (11) holding a fixed64,
        // a group (field 12, wire types 3 and 4), and a name (5) with the wrong wire type, which
        // generated code skips as an unknown field.
        const std::string unknown = lengthDelimited(1, std::string(16, '\xab'))
            + lengthDelimited(11, std::string("\x09", 1) + std::string(8, '\x01')) + varint(12 << 3 | 3)
            + varint(1 << 3 | 0) + varint(300) + varint(12 << 3 | 4) + varint(5 << 3 | 0) + varint(7);
        pb::Span other;
        other.set_name("work");
        other.set_kind(pb::Span::SpanKind(-1)); // out of range: ten varint bytes on the wire
        other.set_start_time_unix_nano(10);
        other.set_end_time_unix_nano(20);
        pb::KeyValue service;
        service.set_key("service.name");
        service.mutable_value()->set_string_value("svc");
        const std::string scope = lengthDelimited(1, "scope") + lengthDelimited(2, unknown + span.SerializeAsString())
            + lengthDelimited(2, other.SerializeAsString());
        const std::string body = lengthDelimited(
            1, lengthDelimited(1, lengthDelimited(1, service.SerializeAsString())) + lengthDelimited(2, scope));
        Traces t;
        QString why;
        DecodeOptions slowFromZero;
        slowFromZero.attributesFromNs = 0;
        QVERIFY2(decodeTracesProtobuf(QByteArrayView(body.data(), qsizetype(body.size())), t, &why, slowFromZero),
            qPrintable(why));
        QCOMPARE(t.resources.size(), std::size_t(1));
        QCOMPARE(t.resources[0].resource.serviceName, QStringLiteral("svc"));
        QCOMPARE(t.resources[0].spans.size(), std::size_t(2));
        const Span& a = t.resources[0].spans[0];
        QCOMPARE(a.name, QStringLiteral("GET /x"));
        QCOMPARE(a.kind, SpanKind::Client);
        QCOMPARE(a.startNs, quint64(1000));
        QCOMPARE(a.endNs, quint64(5000));
        QVERIFY(a.error);
        QCOMPARE(a.statusMessage, QStringLiteral("boom"));
        QCOMPARE(a.attributes.value(QStringLiteral("http.route")).toString(), QStringLiteral("/x"));
        const Span& b = t.resources[0].spans[1];
        QCOMPARE(b.name, QStringLiteral("work"));
        QCOMPARE(b.kind, SpanKind::Unspecified);
        QVERIFY(!b.error);
        // Not slow: attributes stay unread.
        QVERIFY(decodeTracesProtobuf(QByteArrayView(body.data(), qsizetype(body.size())), t, &why));
        QVERIFY(t.resources[0].spans[0].attributes.isEmpty());
        // A span cut short inside its scope is an error, not a partial span.
        const std::string cut
            = lengthDelimited(1, lengthDelimited(2, lengthDelimited(2, span.SerializeAsString().substr(0, 5))));
        QVERIFY(!decodeTracesProtobuf(QByteArrayView(cut.data(), qsizetype(cut.size())), t, &why));
        QVERIFY2(why.contains(u"invalid protobuf"), qPrintable(why));
        QCOMPARE(t.spanCount(), quint64(0));
    }

    /// The same exponential histogram point in both encodings decodes to the same values: the
    /// protobuf one built with the generated classes (sint32 scale and offset, fixed64 zero count).
    void exponentialHistogramProtobufMatchesJson()
    {
        const QByteArray json
            = R"({"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
            "scopeMetrics":[{"metrics":[{"name":"rpc.server.duration","unit":"s","exponentialHistogram":{"aggregationTemporality":2,
            "dataPoints":[{"attributes":[{"key":"rpc.method","value":{"stringValue":"Get"}}],"startTimeUnixNano":"11","timeUnixNano":"22",
            "count":"12","sum":0.75,"min":0.0001,"max":0.5,"scale":-2,"zeroCount":"1",
            "positive":{"offset":-7,"bucketCounts":["2","0","3","5"]},"negative":{"offset":3,"bucketCounts":["1"]}}]}}]}]}]})";
        pb::ExportMetricsServiceRequest request;
        pb::ResourceMetrics* rm = request.add_resource_metrics();
        pb::KeyValue* service = rm->mutable_resource()->add_attributes();
        service->set_key("service.name");
        service->mutable_value()->set_string_value("svc");
        pb::Metric* metric = rm->add_scope_metrics()->add_metrics();
        metric->set_name("rpc.server.duration");
        metric->set_unit("s");
        pb::ExponentialHistogram* histogram = metric->mutable_exponential_histogram();
        histogram->set_aggregation_temporality(pb::AGGREGATION_TEMPORALITY_CUMULATIVE);
        pb::ExponentialHistogramDataPoint* p = histogram->add_data_points();
        pb::KeyValue* method = p->add_attributes();
        method->set_key("rpc.method");
        method->mutable_value()->set_string_value("Get");
        p->set_start_time_unix_nano(11);
        p->set_time_unix_nano(22);
        p->set_count(12);
        p->set_sum(0.75);
        p->set_min(0.0001);
        p->set_max(0.5);
        p->set_scale(-2); // negative: zigzag-encoded on the wire, as is the offset
        p->set_zero_count(1);
        p->mutable_positive()->set_offset(-7);
        for (const quint64 c : { 2, 0, 3, 5 })
            p->mutable_positive()->add_bucket_counts(c);
        p->mutable_negative()->set_offset(3);
        p->mutable_negative()->add_bucket_counts(1);
        const std::string bytes = request.SerializeAsString();

        JsonDecoder decoder;
        Metrics fromJson;
        Metrics fromProtobuf;
        QString why;
        QVERIFY2(decoder.decodeMetrics(json, fromJson, &why), qPrintable(why));
        QVERIFY2(decodeMetricsProtobuf(QByteArrayView(bytes.data(), qsizetype(bytes.size())), fromProtobuf, &why),
            qPrintable(why));
        for (const Metrics* m : { &fromJson, &fromProtobuf }) {
            QCOMPARE(m->resources.size(), std::size_t(1));
            QCOMPARE(m->resources[0].resource.serviceName, QStringLiteral("svc"));
            QCOMPARE(m->resources[0].metrics.size(), std::size_t(1));
            const Metric& e = m->resources[0].metrics[0];
            QCOMPARE(e.name, QStringLiteral("rpc.server.duration"));
            QCOMPARE(e.unit, QStringLiteral("s"));
            QCOMPARE(e.type, Metric::Type::ExponentialHistogram);
            QCOMPARE(e.temporality, Temporality::Cumulative);
            QCOMPARE(e.exponentials.size(), std::size_t(1));
            const ExponentialPoint& x = e.exponentials[0];
            QCOMPARE(x.attributes, (Attributes { { QStringLiteral("rpc.method"), QStringLiteral("Get") } }));
            QCOMPARE(x.startNs, quint64(11));
            QCOMPARE(x.timeNs, quint64(22));
            QCOMPARE(x.count, quint64(12));
            QCOMPARE(x.sum, std::optional<double>(0.75));
            QCOMPARE(x.min, std::optional<double>(0.0001));
            QCOMPARE(x.max, std::optional<double>(0.5));
            QCOMPARE(x.scale, -2);
            QCOMPARE(x.zeroCount, quint64(1));
            QCOMPARE(x.positiveOffset, -7);
            QCOMPARE(x.positive, (std::vector<quint64> { 2, 0, 3, 5 }));
            QCOMPARE(x.negativeCount, quint64(1));
        }
        // An out-of-range scale is refused by both, not decoded into a nonsense base.
        p->set_scale(21);
        const std::string bad = request.SerializeAsString();
        QVERIFY(!decodeMetricsProtobuf(QByteArrayView(bad.data(), qsizetype(bad.size())), fromProtobuf, &why));
        QVERIFY(!decoder.decodeMetrics(QByteArray(json).replace(R"("scale":-2)", R"("scale":21)"), fromJson, &why));
    }
};

QTEST_GUILESS_MAIN(TestOtlpDecode)
#include "tst_otlpdecode.moc"
