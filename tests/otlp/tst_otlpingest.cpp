// SPDX-License-Identifier: GPL-3.0-or-later
// OtlpIngest: decoded OTLP into the MetricsStore (spans as operations, processes from resources,
// histograms with their percentiles, counters, gauges, memory).
#include "core/metricsstore.h"
#include "otlp/otlpingest.h"
#include "otlp/otlpjson.h"
#include "tests/helpers/otlptestdata.h"

#include <QCoreApplication>
#include <QFile>
#include <QSignalSpy>
#include <QTest>

using namespace perfdash;
using namespace perfdash::otlp;
using namespace std::chrono_literals;

namespace {

using perfdashtest::stats;

constexpr quint64 T0 = 1'796'000'000'000'000'000ull;

Span span(const QString& name, SpanKind kind, quint64 durationNs, bool error = false, quint64 at = T0)
{
    Span s;
    s.name = name;
    s.kind = kind;
    s.startNs = at;
    s.endNs = at + durationNs;
    s.error = error;
    return s;
}

Resource service(const QString& name, const QString& instance = {}, qint64 pid = 0, const QString& host = {})
{
    Resource r;
    r.serviceName = name;
    r.instanceId = instance;
    r.pid = pid;
    r.hostName = host;
    return r;
}

std::optional<ProcessInfo> processNamed(const MetricsStore& store, const QString& name)
{
    for (const ProcessInfo& p : store.processes()) {
        if (p.name == name)
            return p;
    }
    return std::nullopt;
}

HistogramPoint histogramPoint(
    quint64 start, std::vector<quint64> counts, std::vector<double> bounds, double sum, Attributes attributes = {})
{
    HistogramPoint p;
    p.startNs = start;
    p.timeNs = start + 1;
    p.bucketCounts = std::move(counts);
    p.explicitBounds = std::move(bounds);
    for (quint64 c : p.bucketCounts)
        p.count += c;
    p.sum = sum;
    p.attributes = std::move(attributes);
    return p;
}

Metrics oneMetric(const Resource& r, Metric m)
{
    Metrics out;
    ResourceMetrics& rm = out.resources.emplace_back();
    rm.resource = r;
    rm.metrics.push_back(std::move(m));
    return out;
}

} // namespace

class TestOtlpIngest : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void operationNames_data()
    {
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("expected");
        QTest::newRow("server") << int(SpanKind::Server) << QStringLiteral("GET /users/:id");
        QTest::newRow("unspecified") << int(SpanKind::Unspecified) << QStringLiteral("GET /users/:id");
        QTest::newRow("client") << int(SpanKind::Client) << QStringLiteral("[client] GET /users/:id");
        QTest::newRow("internal") << int(SpanKind::Internal) << QStringLiteral("[internal] GET /users/:id");
        QTest::newRow("producer") << int(SpanKind::Producer) << QStringLiteral("[producer] GET /users/:id");
        QTest::newRow("consumer") << int(SpanKind::Consumer) << QStringLiteral("[consumer] GET /users/:id");
    }
    void operationNames()
    {
        QFETCH(int, kind);
        QFETCH(QString, expected);
        QCOMPARE(OtlpIngest::operationName(QStringLiteral("GET /users/:id"), SpanKind(kind)), expected);
    }

    void spansBecomeOperations()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        Traces t;
        ResourceSpans& rs = t.resources.emplace_back();
        rs.resource = service(QStringLiteral("checkout"), QStringLiteral("i-1"));
        for (int i = 0; i < 7; ++i)
            rs.spans.push_back(span(QStringLiteral("GET /users/:id"), SpanKind::Server, (i + 1) * 1'000'000, i < 2));
        rs.spans.push_back(span(QStringLiteral("GET"), SpanKind::Client, 3'000'000, true));
        rs.spans.push_back(span(QStringLiteral("middleware - query"), SpanKind::Internal, 10'000));
        const OtlpIngest::Result r = ingest.applyTraces(t);
        QCOMPARE(r.accepted, quint64(9));
        QCOMPARE(r.rejected, quint64(0));
        QVERIFY(r.message.isEmpty());

        const QString process = QStringLiteral("checkout [i-1]");
        const auto users = stats(store, process, QStringLiteral("GET /users/:id"));
        QVERIFY(users);
        QCOMPARE(users->count, quint64(7));
        QCOMPARE(users->errorCount, quint64(2));
        QVERIFY(std::abs(double(users->p50Ns) - 4e6) / 4e6 < 0.01);
        QVERIFY(std::abs(double(users->maxNs) - 7e6) / 7e6 < 0.01);
        const auto client = stats(store, process, QStringLiteral("[client] GET"));
        QVERIFY(client);
        QCOMPARE(client->count, quint64(1));
        QCOMPARE(client->errorCount, quint64(1));
        QVERIFY(stats(store, process, QStringLiteral("[internal] middleware - query")));
        QCOMPARE(ingest.stats().spans, quint64(9));
    }

    void internalSpansHidden()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        ingest.setHideInternalSpans(true);
        Traces t;
        ResourceSpans& rs = t.resources.emplace_back();
        rs.resource = service(QStringLiteral("svc"), QStringLiteral("x"));
        rs.spans.push_back(span(QStringLiteral("GET /a"), SpanKind::Server, 1000));
        rs.spans.push_back(span(QStringLiteral("router"), SpanKind::Internal, 1000));
        rs.spans.push_back(span(QStringLiteral("router"), SpanKind::Internal, 1000));
        const OtlpIngest::Result r = ingest.applyTraces(t);
        QCOMPARE(r.accepted, quint64(3)); // received and fine: not rejected
        QVERIFY(stats(store, QStringLiteral("svc [x]"), QStringLiteral("GET /a")));
        QVERIFY(!stats(store, QStringLiteral("svc [x]"), QStringLiteral("[internal] router")));
        QCOMPARE(ingest.stats().hiddenSpans, quint64(2));
        QCOMPARE(ingest.stats().spans, quint64(1));
        ingest.setHideInternalSpans(false);
        ingest.applyTraces(t);
        QCOMPARE(stats(store, QStringLiteral("svc [x]"), QStringLiteral("[internal] router"))->count, quint64(2));
    }

    void countsAreExact()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        quint64 sent = 0;
        quint64 failed = 0;
        for (int request = 0; request < 50; ++request) {
            Traces t;
            ResourceSpans& rs = t.resources.emplace_back();
            rs.resource = service(QStringLiteral("load"), QStringLiteral("1"));
            for (int i = 0; i < 997; ++i) {
                const bool error = (request * 997 + i) % 13 == 0;
                rs.spans.push_back(span(QStringLiteral("op %1").arg(i % 3), SpanKind::Server, 1000 + i, error));
                ++sent;
                failed += error ? 1 : 0;
            }
            ingest.applyTraces(t);
        }
        quint64 counted = 0;
        quint64 errors = 0;
        for (int i = 0; i < 3; ++i) {
            const auto s = stats(store, QStringLiteral("load [1]"), QStringLiteral("op %1").arg(i));
            QVERIFY(s);
            counted += s->count;
            errors += s->errorCount;
        }
        QCOMPARE(counted, sent);
        QCOMPARE(errors, failed);
    }

    void invalidSpansRejected()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        Traces t;
        ResourceSpans& rs = t.resources.emplace_back();
        rs.resource = service(QStringLiteral("svc"), QStringLiteral("1"));
        rs.spans.push_back(span(QStringLiteral("ok"), SpanKind::Server, 10));
        Span backwards = span(QStringLiteral("bad"), SpanKind::Server, 0);
        backwards.endNs = backwards.startNs - 5;
        rs.spans.push_back(backwards);
        Span noStart = span(QStringLiteral("bad"), SpanKind::Server, 0);
        noStart.startNs = 0;
        rs.spans.push_back(noStart);
        const OtlpIngest::Result r = ingest.applyTraces(t);
        QCOMPARE(r.accepted, quint64(1));
        QCOMPARE(r.rejected, quint64(2));
        QVERIFY(!r.message.isEmpty());
        QVERIFY(!stats(store, QStringLiteral("svc [1]"), QStringLiteral("bad")));
        QCOMPARE(ingest.stats().rejectedSpans, quint64(2));
    }

    void processIdentity()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        const auto send = [&](const Resource& r) {
            Traces t;
            ResourceSpans& rs = t.resources.emplace_back();
            rs.resource = r;
            rs.spans.push_back(span(QStringLiteral("op"), SpanKind::Server, 1000));
            ingest.applyTraces(t);
        };
        const qint64 self = QCoreApplication::applicationPid();
        send(service(QStringLiteral("api"), QStringLiteral("aaaaaaaa-1")));
        send(service(QStringLiteral("api"), QStringLiteral("bbbbbbbb-2")));
        send(service(QStringLiteral("api"), QStringLiteral("aaaaaaaa-1"))); // the same instance again
        send(service(QStringLiteral("local"), {}, self)); // this host's pid: sampled from /proc
        send(service(QStringLiteral("remote"), {}, 4242, QStringLiteral("elsewhere.example")));
        QCOMPARE(store.processes().size(), 4);
        QCOMPARE(stats(store, QStringLiteral("api [aaaaaaaa]"), QStringLiteral("op"))->count, quint64(2));
        QCOMPARE(stats(store, QStringLiteral("api [bbbbbbbb]"), QStringLiteral("op"))->count, quint64(1));
        const auto local = processNamed(store, QStringLiteral("local"));
        QVERIFY(local);
        QCOMPARE(local->pid, self);
        QCOMPARE(local->state, ProcessInfo::State::Live);
        // Another host's pid is not ours to sample.
        const auto remote = processNamed(store, QStringLiteral("remote @elsewhere.example (pid 4242)"));
        QVERIFY(remote);
        QCOMPARE(remote->pid, qint64(0));
    }

    void attachedPidBecomesTheService()
    {
        MetricsStore store;
        const qint64 self = QCoreApplication::applicationPid();
        QString error;
        const quint64 attached = store.attachPid(self, &error);
        QVERIFY2(attached, qPrintable(error));
        OtlpIngest ingest(&store);
        Traces t;
        ResourceSpans& rs = t.resources.emplace_back();
        rs.resource = service(QStringLiteral("me"), {}, self);
        rs.spans.push_back(span(QStringLiteral("op"), SpanKind::Server, 1000));
        ingest.applyTraces(t);
        QCOMPARE(store.processes().size(), 1);
        QCOMPARE(store.process(attached)->name, QStringLiteral("me"));
        QVERIFY(store.process(attached)->instrumented);
    }

    void slowSpansCarryAttributes()
    {
        MetricsStore store;
        store.setSlowThreshold(5ms, 50ms);
        OtlpIngest ingest(&store);
        QCOMPARE(ingest.attributesFromNs(), quint64(5'000'000));
        // Through the decoder, as the receiver does: attributes only where they will be used.
        const QByteArray body
            = R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}},
            {"key":"service.instance.id","value":{"stringValue":"one"}}]},"scopeSpans":[{"spans":[
            {"name":"GET /cart","kind":2,"startTimeUnixNano":"1796000000000000000","endTimeUnixNano":"1796000000020000000",
             "attributes":[{"key":"http.route","value":{"stringValue":"/cart"}},{"key":"user.id","value":{"intValue":"42"}}],
             "status":{"code":2,"message":"db timeout"}},
            {"name":"GET /cart","kind":2,"startTimeUnixNano":"1796000000000000000","endTimeUnixNano":"1796000000001000000",
             "attributes":[{"key":"http.route","value":{"stringValue":"/cart"}}]}]}]}]})";
        JsonDecoder decoder;
        Traces t;
        QString why;
        DecodeOptions options;
        options.attributesFromNs = ingest.attributesFromNs();
        QVERIFY2(decoder.decodeTraces(body, t, &why, options), qPrintable(why));
        QSignalSpy slow(&store, &MetricsStore::slowOperation);
        ingest.applyTraces(t);
        QCOMPARE(slow.size(), 1);
        const auto sample = slow.at(0).at(1).value<OperationSample>();
        QCOMPARE(sample.operation, QStringLiteral("GET /cart"));
        QCOMPARE(sample.durationNs, quint64(20'000'000));
        QVERIFY(!sample.ok);
        QCOMPARE(sample.metadata.value(QStringLiteral("http.route")).toString(), QStringLiteral("/cart"));
        QCOMPARE(sample.metadata.value(QStringLiteral("user.id")).toLongLong(), 42);
        QCOMPARE(sample.metadata.value(QStringLiteral("status.message")).toString(), QStringLiteral("db timeout"));
        QCOMPARE(sample.startNs, qint64(1'796'000'000'000'000'000));
        // Counted once: the slow one is in the histogram, not added again by its event.
        QCOMPARE(stats(store, QStringLiteral("shop [one]"), QStringLiteral("GET /cart"))->count, quint64(2));
    }

    void cumulativeHistogramsBecomeDeltas()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        const Resource r = service(QStringLiteral("api"), QStringLiteral("h"));
        const std::vector<double> bounds { 0, 5, 10, 25, 50 };
        const Attributes route { { QStringLiteral("http.method"), QStringLiteral("GET") },
            { QStringLiteral("http.route"), QStringLiteral("/users/:id") },
            { QStringLiteral("net.host.port"), QStringLiteral("4000") } };
        Metric m;
        m.name = QStringLiteral("http.server.duration");
        m.unit = QStringLiteral("ms");
        m.type = Metric::Type::Histogram;
        m.temporality = Temporality::Cumulative;
        m.histograms.push_back(histogramPoint(100, { 0, 0, 3, 0, 0, 0 }, bounds, 22.0, route));
        ingest.applyMetrics(oneMetric(r, m));
        const QString op = QStringLiteral("http.server.duration {http.method=GET,http.route=/users/:id}");
        QCOMPARE(stats(store, QStringLiteral("api [h]"), op)->count, quint64(3));
        // The next export of the same series says 5 since its start: 2 more, not 5.
        m.histograms[0] = histogramPoint(100, { 0, 0, 3, 2, 0, 0 }, bounds, 60.0, route);
        ingest.applyMetrics(oneMetric(r, m));
        auto s = stats(store, QStringLiteral("api [h]"), op);
        QCOMPARE(s->count, quint64(5));
        // Percentiles within the sender's buckets: p50 is in (5, 10] ms, the max in (10, 25].
        QVERIFY(s->p50Ns > 5'000'000 && s->p50Ns <= 10'000'000);
        QVERIFY(s->maxNs > 10'000'000 && s->maxNs <= 25'000'000);
        // Restarted (a new start time): its counts are new.
        m.histograms[0] = histogramPoint(900, { 0, 1, 0, 0, 0, 0 }, bounds, 1.0, route);
        ingest.applyMetrics(oneMetric(r, m));
        QCOMPARE(stats(store, QStringLiteral("api [h]"), op)->count, quint64(6));
        // Same point again: nothing new.
        ingest.applyMetrics(oneMetric(r, m));
        QCOMPARE(stats(store, QStringLiteral("api [h]"), op)->count, quint64(6));
        // The statistics say where their percentiles come from (the table's tooltip tells it).
        QVERIFY(stats(store, QStringLiteral("api [h]"), op)->fromSenderBuckets);
    }

    void spanOperationsAreNotFromBuckets()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        Traces t;
        ResourceSpans& group = t.resources.emplace_back();
        group.resource = service(QStringLiteral("shop"), QStringLiteral("one"));
        Span& span = group.spans.emplace_back();
        span.name = QStringLiteral("GET /cart");
        span.kind = SpanKind::Server;
        span.startNs = 1'000'000;
        span.endNs = 3'000'000;
        ingest.applyTraces(t);
        const auto s = stats(store, QStringLiteral("shop [one]"), QStringLiteral("GET /cart"));
        QVERIFY(s);
        QVERIFY(!s->fromSenderBuckets); // each span's own duration: the store's precision
    }

    void deltaHistogramsAndErrors()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        const Resource r = service(QStringLiteral("api"), QStringLiteral("d"));
        Metric m;
        m.name = QStringLiteral("http.server.request.duration");
        m.unit = QStringLiteral("s");
        m.type = Metric::Type::Histogram;
        m.temporality = Temporality::Delta;
        const Attributes ok { { QStringLiteral("http.response.status_code"), QStringLiteral("200") },
            { QStringLiteral("http.route"), QStringLiteral("/pay") } };
        const Attributes failed { { QStringLiteral("error.type"), QStringLiteral("500") },
            { QStringLiteral("http.response.status_code"), QStringLiteral("500") },
            { QStringLiteral("http.route"), QStringLiteral("/pay") } };
        m.histograms.push_back(histogramPoint(1, { 4, 0 }, { 0.1 }, 0.2, ok));
        m.histograms.push_back(histogramPoint(1, { 0, 1 }, { 0.1 }, 0.5, failed));
        m.histograms[1].max = 0.5;
        ingest.applyMetrics(oneMetric(r, m));
        ingest.applyMetrics(oneMetric(r, m)); // deltas add up
        const auto s
            = stats(store, QStringLiteral("api [d]"), QStringLiteral("http.server.request.duration {http.route=/pay}"));
        QVERIFY(s);
        QCOMPARE(s->count, quint64(10));
        QCOMPARE(s->errorCount, quint64(2));
        QVERIFY(std::abs(double(s->maxNs) - 5e8) / 5e8 < 0.01); // the sender's max
    }

    void exponentialHistogram()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        Metric m;
        m.name = QStringLiteral("rpc.server.duration");
        m.unit = QStringLiteral("ms");
        m.type = Metric::Type::ExponentialHistogram;
        m.temporality = Temporality::Delta;
        ExponentialPoint p;
        p.scale = 2; // base 2^(1/4)
        p.positiveOffset = 12; // bucket 12: (2^3, 2^3.25] ms = (8, 9.51] ms
        p.positive = { 10, 0, 0, 0, 5 }; // bucket 16: (16, 19.03] ms
        p.count = 15;
        p.sum = 200;
        m.exponentials.push_back(p);
        ingest.applyMetrics(oneMetric(service(QStringLiteral("rpc"), QStringLiteral("e")), m));
        const auto s = stats(store, QStringLiteral("rpc [e]"), QStringLiteral("rpc.server.duration"));
        QVERIFY(s);
        QCOMPARE(s->count, quint64(15));
        QVERIFY(s->p50Ns > 8'000'000 && s->p50Ns <= 9'600'000);
        QVERIFY(s->p99Ns > 16'000'000 && s->p99Ns <= 19'100'000);
    }

    void gaugesSumsAndMemory()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        const Resource r = service(QStringLiteral("worker"), QStringLiteral("m"));
        Metrics metrics;
        ResourceMetrics& rm = metrics.resources.emplace_back();
        rm.resource = r;
        Metric gauge;
        gauge.name = QStringLiteral("queue.depth");
        gauge.type = Metric::Type::Gauge;
        gauge.numbers.push_back(NumberPoint { { { QStringLiteral("queue"), QStringLiteral("mail") } }, 0, 1, 12.0 });
        rm.metrics.push_back(gauge);
        Metric counter;
        counter.name = QStringLiteral("jobs.done");
        counter.type = Metric::Type::Sum;
        counter.monotonic = true;
        counter.temporality = Temporality::Delta;
        counter.numbers.push_back(NumberPoint { {}, 0, 1, 3.0 });
        rm.metrics.push_back(counter);
        Metric rss;
        rss.name = QStringLiteral("process.memory.usage");
        rss.unit = QStringLiteral("By");
        rss.type = Metric::Type::Sum;
        rss.numbers.push_back(NumberPoint { {}, 0, 1, 50.0 * 1024 * 1024 });
        rm.metrics.push_back(rss);
        Metric heap;
        heap.name = QStringLiteral("v8js.memory.heap.used");
        heap.unit = QStringLiteral("By");
        heap.type = Metric::Type::Gauge;
        heap.numbers.push_back(
            NumberPoint { { { QStringLiteral("v8js.heap.space.name"), QStringLiteral("new_space") } }, 0, 1, 1000.0 });
        heap.numbers.push_back(
            NumberPoint { { { QStringLiteral("v8js.heap.space.name"), QStringLiteral("old_space") } }, 0, 1, 3000.0 });
        rm.metrics.push_back(heap);
        const OtlpIngest::Result result = ingest.applyMetrics(metrics);
        QCOMPARE(result.accepted, quint64(5));
        ingest.applyMetrics(metrics); // a delta counter's second export adds up
        const auto info = processNamed(store, QStringLiteral("worker [m]"));
        QVERIFY(info);
        QCOMPARE(info->gauges.value(QStringLiteral("queue.depth {queue=mail}")), 12.0);
        QCOMPARE(info->counters.value(QStringLiteral("jobs.done")), 6.0);
        QCOMPARE(info->rssBytes, qint64(50) * 1024 * 1024);
        QCOMPARE(info->heapBytes, qint64(4000));
        // Not a process of this host: the sender's figures are its memory chart.
        const QList<MemoryRecord> records = store.memoryRecords(info->key);
        QCOMPARE(records.size(), 2);
        QCOMPARE(records.last().rssBytes, qint64(50) * 1024 * 1024);
        QCOMPARE(records.last().heapBytes, qint64(4000));
    }

    void mismatchedBucketsRejected()
    {
        MetricsStore store;
        OtlpIngest ingest(&store);
        Metric m;
        m.name = QStringLiteral("d");
        m.unit = QStringLiteral("ms");
        m.type = Metric::Type::Histogram;
        m.temporality = Temporality::Delta;
        m.histograms.push_back(histogramPoint(1, { 1, 2, 3 }, { 1 }, 1.0));
        m.histograms.push_back(histogramPoint(1, { 1, 2 }, { 1 }, 1.0));
        const OtlpIngest::Result r
            = ingest.applyMetrics(oneMetric(service(QStringLiteral("s"), QStringLiteral("b")), m));
        QCOMPARE(r.rejected, quint64(1));
        QCOMPARE(r.accepted, quint64(1));
        QVERIFY(r.message.contains(u"bucket"));
        QCOMPARE(stats(store, QStringLiteral("s [b]"), QStringLiteral("d"))->count, quint64(3));

        // A count no service reaches is refused, not split into billions of buckets (found by fuzz_otlp_protobuf).
        m.histograms.clear();
        m.histograms.push_back(histogramPoint(1, { quint64(1) << 62, 0 }, { 1 }, 1.0));
        const OtlpIngest::Result absurd
            = ingest.applyMetrics(oneMetric(service(QStringLiteral("s"), QStringLiteral("b")), m));
        QCOMPARE(absurd.rejected, quint64(1));
        QCOMPARE(stats(store, QStringLiteral("s [b]"), QStringLiteral("d"))->count, quint64(3));
    }
};

QTEST_GUILESS_MAIN(TestOtlpIngest)
#include "tst_otlpingest.moc"
