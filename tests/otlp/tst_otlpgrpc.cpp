// SPDX-License-Identifier: GPL-3.0-or-later
// OtlpGrpcReceiver over real gRPC, with a generic client of ours sending the recorded protobuf
// bodies: the store fed, the answers gRPC's status codes say, gzip, the limits, and every refusal
// counted where /metrics and the headless summary read it.
#include "core/metricsstore.h"
#include "http/limitedtcpserver.h"
#include "http/metricsendpoint.h"
#include "http/refusalsummary.h"
#include "ipc/ingestserver.h"
#include "otlp/otlpgrpcreceiver.h"
#include "otlp/otlpreceiver.h"
#include "otlp_metrics.pb.h"
#include "otlp_trace.pb.h"
#include "tests/helpers/otlptestdata.h"

#include <QFile>
#include <QTcpServer>
#include <QTest>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include <chrono>
#include <future>
#include <vector>

using namespace perfdash;

namespace {

const std::string TraceExport = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const std::string MetricsExport = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

using perfdashtest::recorded;

struct Answer
{
    grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
    QString message;
    QByteArray body;
};

/// One unary call with raw bytes, as an OTel exporter makes it; waits for the answer (the call's
/// deadline bounds the wait).
Answer call(quint16 port, const std::string& method, const QByteArray& body, bool gzip = false)
{
    const auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials());
    grpc::GenericStub stub(channel);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (gzip)
        context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
    grpc::Slice slice(body.constData(), size_t(body.size()));
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    std::promise<grpc::Status> done;
    stub.UnaryCall(&context, method, grpc::StubOptions(), &request, &response,
        [&done](grpc::Status status) { done.set_value(std::move(status)); });
    const grpc::Status status = done.get_future().get();
    Answer a { status.error_code(), QString::fromStdString(status.error_message()), {} };
    std::vector<grpc::Slice> slices;
    if (status.ok() && response.Dump(&slices).ok()) {
        for (const grpc::Slice& s : slices)
            a.body.append(reinterpret_cast<const char*>(s.begin()), qsizetype(s.size()));
    }
    return a;
}

std::optional<OperationStats> stats(const MetricsStore& store, const QString& operation)
{
    for (const ProcessStatistics& p : store.statistics()) {
        for (const OperationStats& s : p.operations) {
            if (s.operation == operation)
                return s;
        }
    }
    return std::nullopt;
}

quint64 count(const ListenerRefusals& r, QByteArrayView label)
{
    for (const ListenerRefusals::Reason& reason : r.reasons) {
        if (reason.label == label)
            return reason.count;
    }
    return ~quint64(0);
}

/// The HTTP receiver (whose thread and ingest the gRPC one uses) and the gRPC receiver, listening.
struct Receivers
{
    MetricsStore store;
    OtlpReceiver http { &store };
    OtlpGrpcReceiver grpc { &http };
    QString error;

    bool listen(const OtlpGrpcReceiver::Limits& limits = {})
    {
        grpc.setLimits(limits);
        return grpc.listen(QHostAddress::LocalHost, 0, &error);
    }
};

} // namespace

class TestOtlpGrpc : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void recordedBodies_data()
    {
        QTest::addColumn<bool>("gzip");
        QTest::newRow("identity") << false;
        QTest::newRow("gzip") << true;
    }
    void recordedBodies()
    {
        QFETCH(bool, gzip);
        Receivers r;
        QVERIFY2(r.listen(), qPrintable(r.error));
        QVERIFY(r.grpc.port() > 0);
        QCOMPARE(r.grpc.address(), QStringLiteral("127.0.0.1:%1").arg(r.grpc.port()));

        Answer a = call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb")), gzip);
        QCOMPARE(int(a.code), int(grpc::StatusCode::OK));
        otlp::pb::ExportTraceServiceResponse traceResponse;
        QVERIFY(traceResponse.ParseFromArray(a.body.constData(), int(a.body.size())));
        QVERIFY(!traceResponse.has_partial_success()); // full success
        QString process;
        for (const ProcessInfo& p : r.store.processes())
            process = p.name;
        QVERIFY2(process.startsWith(u"recorded-protobuf"), qPrintable(process));
        QCOMPARE(stats(r.store, QStringLiteral("GET /users/:id"))->count, quint64(3));
        QCOMPARE(stats(r.store, QStringLiteral("GET /orders/:id"))->errorCount, quint64(2));
        QCOMPARE(r.http.stats().spans, quint64(25)); // the one ingest

        a = call(r.grpc.port(), MetricsExport, recorded(QStringLiteral("metrics.pb")), gzip);
        QCOMPARE(int(a.code), int(grpc::StatusCode::OK));
        otlp::pb::ExportMetricsServiceResponse metricsResponse;
        QVERIFY(metricsResponse.ParseFromArray(a.body.constData(), int(a.body.size())));
        QCOMPARE(stats(r.store, QStringLiteral("http.server.duration {http.method=GET,http.route=/users/:id}"))->count,
            quint64(3));
        const OtlpGrpcReceiver::Stats s = r.grpc.stats();
        QCOMPARE(s.requests, quint64(2));
        QCOMPARE(s.calls, quint64(2));
        QCOMPARE(r.grpc.refusals().total(), quint64(0));
        QCOMPARE(r.http.stats().requests, quint64(0)); // counted where they arrived
    }

    /// A service sending over both transports is one process: the ingest is shared.
    void sharedWithHttp()
    {
        Receivers r;
        QVERIFY2(r.listen(), qPrintable(r.error));
        r.http.setHideInternalSpans(true); // --otlp-hide-internal is the ingest's: it applies to gRPC
        QVERIFY(call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb"))).code == grpc::StatusCode::OK);
        QVERIFY(call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb"))).code == grpc::StatusCode::OK);
        QCOMPARE(r.store.processes().size(), qsizetype(1));
        QCOMPARE(stats(r.store, QStringLiteral("GET /users/:id"))->count, quint64(6));
        QVERIFY(r.http.stats().hiddenSpans > 0);
        QVERIFY(!stats(r.store, QStringLiteral("[internal] request handler - /users/:id")));
    }

    void partialSuccess()
    {
        Receivers r;
        QVERIFY2(r.listen(), qPrintable(r.error));
        otlp::pb::ExportTraceServiceRequest request;
        auto* spans = request.add_resource_spans()->add_scope_spans();
        auto* ok = spans->add_spans();
        ok->set_name("ok");
        ok->set_start_time_unix_nano(10);
        ok->set_end_time_unix_nano(20);
        auto* backwards = spans->add_spans();
        backwards->set_name("backwards");
        backwards->set_start_time_unix_nano(20);
        backwards->set_end_time_unix_nano(10);
        const Answer a = call(r.grpc.port(), TraceExport, QByteArray::fromStdString(request.SerializeAsString()));
        QCOMPARE(int(a.code), int(grpc::StatusCode::OK));
        otlp::pb::ExportTraceServiceResponse response;
        QVERIFY(response.ParseFromArray(a.body.constData(), int(a.body.size())));
        QCOMPARE(response.partial_success().rejected_spans(), qint64(1));
        QVERIFY(!response.partial_success().error_message().empty());
        QCOMPARE(r.grpc.stats().rejectedSpans, quint64(1));
        QCOMPARE(r.http.stats().rejectedSpans, quint64(0)); // each transport counts its own
        const QByteArray text = MetricsEndpoint::render(r.store, nullptr, nullptr, { r.grpc.refusals() });
        QVERIFY2(text.contains("perfdash_otlp_grpc_rejected_total{kind=\"spans\"} 1\n"), text.constData());
    }

    /// A malformed message: INVALID_ARGUMENT with the decoder's reason, counted, said once, and
    /// what the store held before is still there.
    void malformed()
    {
        Receivers r;
        QVERIFY2(r.listen(), qPrintable(r.error));
        QStringList problems; // emitted on gRPC's threads, queued to this one
        QObject context;
        connect(&r.grpc, &OtlpGrpcReceiver::problem, &context, [&problems](const QString& m) { problems << m; });
        QVERIFY(call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb"))).code == grpc::StatusCode::OK);
        for (int i = 0; i < 2; ++i) {
            const Answer a = call(r.grpc.port(), MetricsExport, QByteArray("\x0a\xff\x01", 3));
            QCOMPARE(int(a.code), int(grpc::StatusCode::INVALID_ARGUMENT));
            QVERIFY2(a.message.contains(u"invalid protobuf"), qPrintable(a.message));
        }
        QCOMPARE(r.grpc.stats().badRequests, quint64(2));
        QCOMPARE(count(r.grpc.refusals(), "bad_request"), quint64(2));
        QCOMPARE(stats(r.store, QStringLiteral("GET /users/:id"))->count, quint64(3));
        QTRY_COMPARE_WITH_TIMEOUT(problems.size(), 1, 10'000); // queued from gRPC's threads; twice is once
        QVERIFY(problems.constFirst().contains(u"invalid protobuf"));
    }

    void oversized()
    {
        Receivers r;
        OtlpGrpcReceiver::Limits limits;
        limits.maxMessageBytes = 64 << 10;
        QVERIFY2(r.listen(limits), qPrintable(r.error));
        const Answer a = call(r.grpc.port(), TraceExport, QByteArray((64 << 10) + 1, '\0'));
        QCOMPARE(int(a.code), int(grpc::StatusCode::RESOURCE_EXHAUSTED));
        QCOMPARE(r.grpc.stats().tooLarge, quint64(1));
        QCOMPARE(count(r.grpc.refusals(), "too_large"), quint64(1));
        // The next call of a proper size goes through.
        QVERIFY(call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb"))).code == grpc::StatusCode::OK);
    }

    /// Past gRPC's own bound, gRPC refuses the message: the call sees none, and is counted so.
    void overGrpcBound()
    {
        Receivers r;
        OtlpGrpcReceiver::Limits limits;
        limits.maxMessageBytes = 1024;
        limits.grpcMaxMessageBytes = 4096;
        QVERIFY2(r.listen(limits), qPrintable(r.error));
        const Answer a = call(r.grpc.port(), TraceExport, QByteArray(8192, '\0'));
        QCOMPARE(int(a.code), int(grpc::StatusCode::RESOURCE_EXHAUSTED));
        QTRY_COMPARE_WITH_TIMEOUT(count(r.grpc.refusals(), "cancelled"), quint64(1), 20'000);
        QTRY_COMPARE_WITH_TIMEOUT(r.grpc.stats().callsInFlight, 0, 20'000);
    }

    /// The default limit is the HTTP receiver's maxBodyBytes.
    void defaultSizeLimit()
    {
        QCOMPARE(OtlpGrpcReceiver::Limits {}.maxMessageBytes, LimitedTcpServer::Limits {}.maxBodyBytes);
        Receivers r;
        QVERIFY2(r.listen(), qPrintable(r.error));
        const Answer a = call(r.grpc.port(), TraceExport, QByteArray((16 << 20) + 1, '\0'));
        QCOMPARE(int(a.code), int(grpc::StatusCode::RESOURCE_EXHAUSTED));
        QCOMPARE(r.grpc.stats().tooLarge, quint64(1));
    }

    void unknownMethod()
    {
        Receivers r;
        QVERIFY2(r.listen(), qPrintable(r.error));
        const Answer a = call(r.grpc.port(), "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "");
        QCOMPARE(int(a.code), int(grpc::StatusCode::UNIMPLEMENTED));
        QCOMPARE(r.grpc.stats().unimplemented, quint64(1));
        QCOMPARE(count(r.grpc.refusals(), "unsupported"), quint64(1));
    }

    /// Over the calls in flight or the bytes they may hold: RESOURCE_EXHAUSTED, counted apart.
    void callAndMemoryLimits()
    {
        {
            Receivers r;
            OtlpGrpcReceiver::Limits limits;
            limits.maxCalls = 0;
            QVERIFY2(r.listen(limits), qPrintable(r.error));
            const Answer a = call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb")));
            QCOMPARE(int(a.code), int(grpc::StatusCode::RESOURCE_EXHAUSTED));
            QCOMPARE(count(r.grpc.refusals(), "limit"), quint64(1));
            QVERIFY(r.store.processes().isEmpty());
        }
        {
            Receivers r;
            OtlpGrpcReceiver::Limits limits;
            limits.maxBytesInFlight = 16;
            QVERIFY2(r.listen(limits), qPrintable(r.error));
            const Answer a = call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb")));
            QCOMPARE(int(a.code), int(grpc::StatusCode::RESOURCE_EXHAUSTED));
            QCOMPARE(count(r.grpc.refusals(), "memory"), quint64(1));
            QCOMPARE(r.grpc.stats().bytesInFlight, qint64(0));
        }
    }

    /// Every refusal in /metrics under perfdash_otlp_grpc_, and in the end-of-run summary.
    void refusalsShown()
    {
        Receivers r;
        OtlpGrpcReceiver::Limits limits;
        limits.maxMessageBytes = 1024;
        QVERIFY2(r.listen(limits), qPrintable(r.error));
        call(r.grpc.port(), MetricsExport, QByteArray("\x0a\xff\x01", 3));
        call(r.grpc.port(), TraceExport, QByteArray(2048, '\0'));
        call(r.grpc.port(), "/x.Y/Z", "");
        const ListenerRefusals refusals = r.grpc.refusals();
        QCOMPARE(refusals.name, QByteArray("otlp_grpc"));
        QCOMPARE(refusals.total(), quint64(3));
        const QByteArray text = MetricsEndpoint::render(r.store, nullptr, nullptr, { r.http.refusals(), refusals });
        for (const char* reason : { "bad_request", "too_large", "unsupported" })
            QVERIFY2(text.contains(
                         QByteArray(QByteArray("perfdash_otlp_grpc_refused_total{reason=\"") + reason + "\"} 1\n")),
                text.constData());
        QVERIFY2(text.contains("perfdash_otlp_refused_total{reason=\"bad_request\"} 0\n"), text.constData());
        const QString summary
            = refusalSummary(r.store, IngestServer::Stats {}, LimitedTcpServer::Stats {}, { refusals });
        QVERIFY2(summary.contains(u"OTLP/gRPC 3"_qs) && summary.contains(u"too large 1"_qs), qPrintable(summary));
    }

    void portInUse()
    {
        QTcpServer holder;
        QVERIFY(holder.listen(QHostAddress::LocalHost, 0));
        MetricsStore store;
        OtlpReceiver http(&store);
        OtlpGrpcReceiver grpc(&http);
        QString error;
        QVERIFY(!grpc.listen(QHostAddress::LocalHost, holder.serverPort(), &error));
        QVERIFY2(
            error.contains(u"OTLP/gRPC") && error.contains(QString::number(holder.serverPort())), qPrintable(error));
        QVERIFY(!grpc.isListening());
    }

    /// close() answers what is in flight first, keeps the counts, and a listen() after it serves again.
    void closeAndListenAgain()
    {
        Receivers r;
        QVERIFY2(r.listen(), qPrintable(r.error));
        QVERIFY(call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb"))).code == grpc::StatusCode::OK);
        r.grpc.close();
        QVERIFY(!r.grpc.isListening());
        QCOMPARE(r.grpc.stats().requests, quint64(1));
        QVERIFY2(r.listen(), qPrintable(r.error));
        QVERIFY(call(r.grpc.port(), TraceExport, recorded(QStringLiteral("traces.pb"))).code == grpc::StatusCode::OK);
        QCOMPARE(r.grpc.stats().requests, quint64(2));
        QCOMPARE(stats(r.store, QStringLiteral("GET /users/:id"))->count, quint64(6));
    }
};

QTEST_GUILESS_MAIN(TestOtlpGrpc)
#include "tst_otlpgrpc.moc"
