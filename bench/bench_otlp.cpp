// SPDX-License-Identifier: GPL-3.0-or-later
// Spans per second ingested over OTLP, JSON and protobuf, on one core:
//   bench_otlp [REQUESTS]
// 1. decode + store on one thread (what the receiver thread does per request), per CPU second of
//    that thread;
// 2. end to end: HTTP POSTs of the same bodies to an OtlpReceiver, per CPU second of the whole
//    process (the HTTP client's work counts against it too, so this is the conservative figure).
// Rates are per CPU second, not wall-clock second: on a shared machine the wall clock measures
// the neighbours.
// Each request holds 1,000 spans shaped like @opentelemetry/instrumentation-http's (15
// attributes, 1% of them slow, so their attributes are kept), as the Node SDK's batch processor
// sends them (its default batch is 512; larger is what a collector forwards).
#include "core/metricsstore.h"
#include "otlp/otlpingest.h"
#include "otlp/otlpjson.h"
#include "otlp/otlpprotobuf.h"
#include "otlp/otlpreceiver.h"
#include "otlp_trace.pb.h"

#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>

#include <cstdio>
#include <ctime>
#include <random>
#include <unistd.h>

using namespace perfdash;

namespace {

constexpr int SpansPerRequest = 1000;

/// CPU seconds, not wall: the machines we measure on are shared, and "one core" is CPU time.
double cpuSeconds(clockid_t clock)
{
    timespec ts {};
    clock_gettime(clock, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}
/// CPU seconds of this process's thread named @p name (from /proc: the receiver's own thread).
double threadCpuSeconds(const QByteArray& name)
{
    double total = 0.0;
    const QDir tasks(QStringLiteral("/proc/self/task"));
    for (const QString& tid : tasks.entryList(QDir::Dirs | QDir::NoDotAndDotDot)) {
        QFile comm(tasks.filePath(tid + QStringLiteral("/comm")));
        if (!comm.open(QIODevice::ReadOnly) || comm.readAll().trimmed() != name)
            continue;
        QFile stat(tasks.filePath(tid + QStringLiteral("/stat")));
        if (!stat.open(QIODevice::ReadOnly))
            continue;
        const QByteArray text = stat.readAll();
        const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
        // Fields 14 and 15 of stat (utime, stime), counted after the command name.
        total += double(fields.value(11).toLongLong() + fields.value(12).toLongLong()) / double(sysconf(_SC_CLK_TCK));
    }
    return total;
}

const char* const Routes[] = { "/users/:id", "/orders/:id", "/cart", "/search", "/health" };

struct SpanShape
{
    std::string name;
    std::string route;
    int kind;
    quint64 start;
    quint64 end;
    int status;
};

std::vector<SpanShape> shapes(int request)
{
    std::mt19937_64 rng(request);
    std::lognormal_distribution<double> ms(1.5, 1.0);
    std::vector<SpanShape> out;
    const quint64 t0 = 1'796'000'000'000'000'000ull + quint64(request) * 1'000'000'000ull;
    for (int i = 0; i < SpansPerRequest; ++i) {
        const std::string route = Routes[rng() % 5];
        const bool server = i % 3 == 0;
        const quint64 d = quint64(std::min(ms(rng), 5000.0) * 1e6);
        out.push_back({ server ? "GET " + route : "middleware - query", route, server ? 2 : 1, t0 + quint64(i) * 1000,
            t0 + quint64(i) * 1000 + d, rng() % 50 == 0 ? 2 : 0 });
    }
    return out;
}

const std::vector<std::pair<std::string, std::string>> Attributes = { { "http.url", "http://127.0.0.1:8080/users/42" },
    { "http.host", "127.0.0.1:8080" }, { "net.host.name", "127.0.0.1" }, { "http.method", "GET" },
    { "http.scheme", "http" }, { "http.target", "/users/42" }, { "http.flavor", "1.1" }, { "net.transport", "ip_tcp" },
    { "net.host.ip", "127.0.0.1" }, { "net.peer.ip", "127.0.0.1" }, { "http.status_text", "OK" },
    { "http.user_agent", "node" } };

QByteArray jsonBody(int request)
{
    QByteArray b
        = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"bench"}},)"
          R"({"key":"service.instance.id","value":{"stringValue":"b1"}}]},"scopeSpans":[{"scope":{"name":"@opentelemetry/instrumentation-http"},"spans":[)";
    bool first = true;
    for (const SpanShape& s : shapes(request)) {
        if (!first)
            b += ',';
        first = false;
        b += R"({"traceId":"3ce89dd41ae758dc5702bee2f468ad73","spanId":"ff6394b8d476e9be","parentSpanId":"9eb9486248259ba7","name":")";
        b += s.name.c_str();
        b += R"(","kind":)" + QByteArray::number(s.kind) + R"(,"startTimeUnixNano":")" + QByteArray::number(s.start)
            + R"(","endTimeUnixNano":")" + QByteArray::number(s.end) + R"(","attributes":[)";
        for (const auto& [k, v] : Attributes)
            b += R"({"key":")" + QByteArray(k.c_str()) + R"(","value":{"stringValue":")" + QByteArray(v.c_str())
                + R"("}},)";
        b += R"({"key":"net.host.port","value":{"intValue":8080}},{"key":"http.status_code","value":{"intValue":200}},)";
        b += R"({"key":"http.route","value":{"stringValue":")" + QByteArray(s.route.c_str()) + R"("}}],)";
        b += R"("droppedAttributesCount":0,"events":[],"droppedEventsCount":0,"status":{"code":)"
            + QByteArray::number(s.status) + R"(},"links":[],"droppedLinksCount":0})";
    }
    b += "]}]}]}";
    return b;
}

QByteArray protobufBody(int request)
{
    otlp::pb::ExportTraceServiceRequest r;
    auto* rs = r.add_resource_spans();
    auto* a = rs->mutable_resource()->add_attributes();
    a->set_key("service.name");
    a->mutable_value()->set_string_value("bench");
    a = rs->mutable_resource()->add_attributes();
    a->set_key("service.instance.id");
    a->mutable_value()->set_string_value("b1");
    auto* ss = rs->add_scope_spans();
    for (const SpanShape& s : shapes(request)) {
        auto* span = ss->add_spans();
        span->set_name(s.name);
        span->set_kind(otlp::pb::Span::SpanKind(s.kind));
        span->set_start_time_unix_nano(s.start);
        span->set_end_time_unix_nano(s.end);
        const auto attribute = [span](const std::string& k, const auto& v) {
            otlp::pb::KeyValue kv;
            kv.set_key(k);
            if constexpr (std::is_integral_v<std::decay_t<decltype(v)>>)
                kv.mutable_value()->set_int_value(v);
            else
                kv.mutable_value()->set_string_value(v);
            span->add_attributes(kv.SerializeAsString());
        };
        for (const auto& [k, v] : Attributes)
            attribute(k, v);
        attribute("http.status_code", 200);
        attribute("http.route", s.route);
        span->mutable_status()->set_code(otlp::pb::Status::StatusCode(s.status));
    }
    // Fields we do not declare (ids) are on the wire too: the decoder must skip them.
    std::string out = r.SerializeAsString();
    return QByteArray::fromStdString(out);
}

std::vector<QByteArray> makeBodies(bool json, int requests, qint64* bytes)
{
    std::vector<QByteArray> bodies;
    *bytes = 0;
    for (int i = 0; i < requests; ++i) {
        bodies.push_back(json ? jsonBody(i) : protobufBody(i));
        *bytes += bodies.back().size();
    }
    return bodies;
}

double decodeAndStore(bool json, const std::vector<QByteArray>& bodies, quint64* counted)
{
    MetricsStore store;
    store.setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
    OtlpIngest ingest(&store);
    otlp::JsonDecoder decoder;
    otlp::Traces traces;
    otlp::DecodeOptions options;
    options.attributesFromNs = ingest.attributesFromNs();
    QString error;
    const double c0 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
    for (const QByteArray& b : bodies) {
        const bool ok = json ? decoder.decodeTraces(b, traces, &error, options)
                             : otlp::decodeTracesProtobuf(b, traces, &error, options);
        if (!ok)
            qFatal("decode: %s", qPrintable(error));
        ingest.applyTraces(traces);
    }
    const double seconds = cpuSeconds(CLOCK_THREAD_CPUTIME_ID) - c0;
    *counted = 0;
    for (const ProcessStatistics& p : store.statistics()) {
        for (const OperationStats& s : p.operations)
            *counted += s.count;
    }
    return double(bodies.size()) * SpansPerRequest / seconds;
}

double overHttp(
    bool json, const std::vector<QByteArray>& bodies, quint64* counted, qint64 totalBytes, double* receiverRate)
{
    MetricsStore store;
    store.setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
    OtlpReceiver receiver(&store);
    QString error;
    if (!receiver.listen(QHostAddress::LocalHost, 0, &error))
        qFatal("%s", qPrintable(error));
    QNetworkAccessManager network;
    QNetworkRequest request(QUrl(QStringLiteral("http://127.0.0.1:%1/v1/traces").arg(receiver.port())));
    request.setHeader(QNetworkRequest::ContentTypeHeader,
        json ? QByteArrayLiteral("application/json") : QByteArrayLiteral("application/x-protobuf"));
    const double c0 = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID);
    const double r0 = threadCpuSeconds("perfdash-otlp");
    // Two requests in flight, as an exporter with a busy queue keeps its connection busy.
    std::size_t next = 0;
    int open = 0;
    QEventLoop loop;
    std::function<void()> send = [&] {
        while (open < 2 && next < bodies.size()) {
            QNetworkReply* reply = network.post(request, bodies[next++]);
            ++open;
            QObject::connect(reply, &QNetworkReply::finished, &loop, [&, reply] {
                if (reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt() != 200)
                    qFatal("HTTP %d", reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt());
                reply->deleteLater();
                --open;
                send();
                if (open == 0 && next == bodies.size())
                    loop.quit();
            });
        }
    };
    send();
    loop.exec();
    const double seconds = cpuSeconds(CLOCK_PROCESS_CPUTIME_ID) - c0;
    *receiverRate = double(bodies.size()) * SpansPerRequest / std::max(0.01, threadCpuSeconds("perfdash-otlp") - r0);
    *counted = receiver.stats().spans;
    std::printf("  (%.1f MB of bodies per CPU second)\n", double(totalBytes) / seconds / 1e6);
    return double(bodies.size()) * SpansPerRequest / seconds;
}

} // namespace

int main(int argc, char** argv)
{
    QCoreApplication app(argc, argv);
    const int requests = argc > 1 ? std::max(1, std::atoi(argv[1])) : 300;
    const QByteArray mode = argc > 2 ? QByteArray(argv[2]) : QByteArray();
    if (mode == "json" || mode == "protobuf" || mode == "http-json" || mode == "http-protobuf") {
        // bench_otlp REQUESTS [http-]json|[http-]protobuf: one measure alone, for callgrind
        // (--toggle-collect=*decodeAndStore* or *overHttp*) and for alternating runs of two builds.
        const bool json = mode.endsWith("json");
        qint64 bytes = 0;
        const std::vector<QByteArray> bodies = makeBodies(json, requests, &bytes);
        quint64 counted = 0;
        if (mode.startsWith("http-")) {
            double receiverRate = 0.0;
            const double rate = overHttp(json, bodies, &counted, bytes, &receiverRate);
            std::printf(
                "otlp %s over HTTP: %.0f spans per CPU second of the receiver's thread; %.0f of the whole process; "
                "counted %llu\n",
                mode.constData() + 5, receiverRate, rate, static_cast<unsigned long long>(counted));
        } else {
            const double rate = decodeAndStore(json, bodies, &counted);
            std::printf("otlp %s decode + store, one thread: %.0f spans per CPU second; counted %llu\n",
                mode.constData(), rate, static_cast<unsigned long long>(counted));
        }
        return counted == quint64(requests) * SpansPerRequest ? 0 : 1;
    }
    if (argc > 2) { // bench_otlp PASSES profile: the decoders alone, over one body, for perf record
        const QByteArray j = jsonBody(0);
        const QByteArray p = protobufBody(0);
        otlp::JsonDecoder decoder;
        otlp::Traces traces;
        QString error;
        for (const bool json : { true, false }) {
            const double c0 = cpuSeconds(CLOCK_THREAD_CPUTIME_ID);
            for (int i = 0; i < requests; ++i) {
                if (!(json ? decoder.decodeTraces(j, traces, &error) : otlp::decodeTracesProtobuf(p, traces, &error)))
                    qFatal("%s", qPrintable(error));
            }
            std::printf("%s decode only: %.0f spans per CPU second\n", json ? "json" : "protobuf",
                double(requests) * SpansPerRequest / (cpuSeconds(CLOCK_THREAD_CPUTIME_ID) - c0));
        }
        return 0;
    }
    bool met = true;
    for (const bool json : { true, false }) {
        qint64 bytes = 0;
        const std::vector<QByteArray> bodies = makeBodies(json, requests, &bytes);
        const char* name = json ? "json" : "protobuf";
        quint64 counted = 0;
        const double rate = decodeAndStore(json, bodies, &counted);
        std::printf(
            "otlp %s decode + store, one thread: %.0f spans per CPU second (%d requests of %d spans, %.0f bytes/span); "
            "counted %llu of %llu\n",
            name, rate, requests, SpansPerRequest, double(bytes) / requests / SpansPerRequest,
            static_cast<unsigned long long>(counted),
            static_cast<unsigned long long>(quint64(requests) * SpansPerRequest));
        met = met && rate >= 200'000 && counted == quint64(requests) * SpansPerRequest;
    }
    for (const bool json : { true, false }) {
        qint64 bytes = 0;
        const std::vector<QByteArray> bodies = makeBodies(json, requests, &bytes);
        quint64 counted = 0;
        double receiverRate = 0.0;
        const double rate = overHttp(json, bodies, &counted, bytes, &receiverRate);
        std::printf("otlp %s over HTTP: %.0f spans per CPU second of the receiver's thread (HTTP, decode, store); "
                    "%.0f per CPU second of the whole process with its HTTP client; counted %llu of %llu\n",
            json ? "json" : "protobuf", receiverRate, rate, static_cast<unsigned long long>(counted),
            static_cast<unsigned long long>(quint64(requests) * SpansPerRequest));
        met = met && receiverRate >= 200'000 && counted == quint64(requests) * SpansPerRequest;
    }
    std::printf("target >= 200000 spans/s: %s\n", met ? "met" : "NOT met");
    return 0;
}
