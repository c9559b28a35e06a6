// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/framedecoder.h"

#include <QTest>

#include <random>

using namespace perfdash;
using namespace perfdash::protocol;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/// A readable summary of decoded messages, so that two decodings can be compared.
QStringList describe(const std::vector<Message>& messages)
{
    QStringList out;
    for (const Message& m : messages) {
        if (auto* h = std::get_if<Hello>(&m))
            out << QStringLiteral("hello %1 %2 %3 v%4")
                       .arg(h->pid)
                       .arg(h->name, h->commandLine.join(u' '))
                       .arg(h->version);
        else if (auto* hist = std::get_if<Histogram>(&m))
            out << QStringLiteral("histogram %1 n=%2 errors=%3 sum=%4 max=%5 buckets=%6")
                       .arg(hist->operation)
                       .arg(hist->histogram.count)
                       .arg(hist->errors)
                       .arg(hist->histogram.sumNs)
                       .arg(hist->histogram.maxNs)
                       .arg(hist->histogram.buckets.size());
        else if (auto* e = std::get_if<Event>(&m))
            out << QStringLiteral("event %1 %2ns ok=%3 counted=%4 meta=%5")
                       .arg(e->operation)
                       .arg(e->durationNs)
                       .arg(e->ok ? s("true") : s("false"))
                       .arg(e->counted ? s("true") : s("false"))
                       .arg(QStringList(e->metadata.keys()).join(u','));
        else if (auto* mem = std::get_if<Memory>(&m))
            out << QStringLiteral("memory %1 %2").arg(mem->rssBytes).arg(mem->heapBytes);
        else if (auto* metric = std::get_if<Metric>(&m))
            out << QStringLiteral("metric %1 %2 %3")
                       .arg(metric->name, metric->gauge ? s("gauge") : s("counter"))
                       .arg(metric->value);
        else if (auto* d = std::get_if<Drops>(&m))
            out << QStringLiteral("drops %1 %2 %3").arg(d->events).arg(d->bytes).arg(d->operations);
        else
            out << QStringLiteral("goodbye");
    }
    return out;
}

QByteArray binaryStream()
{
    Hello hello;
    hello.pid = 4242;
    hello.name = s("orders-api");
    hello.commandLine = { s("/usr/bin/orders"), s("--port"), s("8080") };
    LatencyHistogram h;
    for (int i = 1; i <= 1000; ++i)
        h.record(quint64(i) * 1000);
    Event slow;
    slow.durationNs = 250'000'000;
    slow.ok = false;
    slow.threadId = 7;
    slow.metadata = { { s("table"), s("users") } };
    return encodeHello(hello) + encodeDefineOp(0, s("db.query")) + encodeDefineOp(1, s("http.GET /users"))
        + encodeHistogram(0, h, 12, 1) + encodeHistogram(1, h, 0, 1) + encodeEvent(0, slow)
        + encodeMemory({ 1, 52428800, 31457280 }) + encodeMetric({ s("queue.depth"), true, 17 })
        + encodeDrops({ 3, 4096, 5000 }) + encodeGoodbye();
}

QByteArray ndjsonStream()
{
    return QByteArray(
        "{\"type\":\"hello\",\"version\":1,\"pid\":99,\"name\":\"node-app\"}\n"
        "{\"type\":\"op\",\"name\":\"db.query\",\"duration_us\":812.5,\"ok\":true,\"ts_us\":1732300000123456,"
        "\"meta\":{\"table\":\"users\",\"rows\":3}}\n"
        "{\"type\":\"op\",\"name\":\"db.query\",\"duration_us\":1000,\"ok\":false}\r\n"
        "\n"
        "{\"type\":\"op\",\"name\":\"http.GET /users\",\"duration_us\":5}\n"
        "{\"type\":\"memory\",\"rss_bytes\":52428800,\"heap_bytes\":31457280}\n"
        "{\"type\":\"future-thing\",\"x\":1}\n"
        "{\"type\":\"op\",\"name\":\"cache.get\",\"duration_us\":0.25,\"extra\":[1,2,{\"a\":null}]}\n"
        "{\"type\":\"drops\",\"operations\":17}\n");
}

std::vector<Message> decodeInChunks(const QByteArray& data, int mode, FrameDecoder& decoder)
{
    std::vector<Message> out;
    std::mt19937 rng(5);
    for (qsizetype i = 0; i < data.size();) {
        qsizetype n = mode == 0 ? data.size() : mode == 1 ? 1 : qsizetype(rng() % 97 + 1);
        n = std::min(n, data.size() - i);
        decoder.feed(QByteArrayView(data).sliced(i, n), out);
        i += n;
    }
    return out;
}
} // namespace

class TestFrameDecoder : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void chunkingDoesNotMatter_data()
    {
        QTest::addColumn<QByteArray>("stream");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("binary")
            << binaryStream()
            << QStringList { s("hello 4242 orders-api /usr/bin/orders --port 8080 v1"),
                   s("histogram db.query n=1000 errors=12 sum=500500000 max=1000000 buckets=316"),
                   s("histogram http.GET /users n=1000 errors=0 sum=500500000 max=1000000 buckets=316"),
                   s("event db.query 250000000ns ok=false counted=true meta=table"), s("memory 52428800 31457280"),
                   s("metric queue.depth gauge 17"), s("drops 3 4096 5000"), s("goodbye") };
        QTest::newRow("ndjson") << ndjsonStream()
                                << QStringList { s("hello 99 node-app  v1"),
                                       s("event db.query 812500ns ok=true counted=false meta=rows,table"),
                                       s("event db.query 1000000ns ok=false counted=false meta="),
                                       s("event http.GET /users 5000ns ok=true counted=false meta="),
                                       s("memory 52428800 31457280"),
                                       s("event cache.get 250ns ok=true counted=false meta="), s("drops 0 0 17") };
    }
    void chunkingDoesNotMatter()
    {
        QFETCH(QByteArray, stream);
        QFETCH(QStringList, expected);
        for (int mode : { 0, 1, 2 }) {
            FrameDecoder decoder;
            const QStringList got = describe(decodeInChunks(stream, mode, decoder));
            QCOMPARE(got, expected);
            QVERIFY2(!decoder.failed(), qPrintable(decoder.error()));
            QCOMPARE(decoder.malformed(), quint64(0));
            QCOMPARE(decoder.buffered(), 0);
        }
    }

    void malformedInput_data()
    {
        QTest::addColumn<QByteArray>("stream");
        QTest::addColumn<bool>("fatal");
        QTest::addColumn<int>("malformed");
        QTest::addColumn<QString>("says");
        QTest::addColumn<int>("messages");

        Hello hello;
        hello.pid = 1;
        hello.name = s("x");
        const QByteArray start = encodeHello(hello);
        Hello future = hello;
        future.version = 9;
        LatencyHistogram h;
        h.record(5000);
        // Operation 0 (defined below), zero scalars, one bucket: index 32767, which does not exist.
        QByteArray badBody(52, '\0');
        badBody.append(QByteArray("\x01\x00\x00\x00\xff\x7f\x01\x00\x00\x00", 10));
        const QByteArray badBucket = encodeFrame(3, badBody);

        QTest::newRow("garbage first byte") << QByteArray("GET / HTTP/1.1\r\n") << true << 0 << s("first byte") << 0;
        QTest::newRow("binary without preface") << QByteArray("PDSX....") << true << 0 << s("PDSH") << 0;
        QTest::newRow("absurd length") << start + QByteArray("\xff\xff\xff\x7f\x03", 5) << true << 0
                                       << s("framing lost") << 1;
        QTest::newRow("zero length") << start + QByteArray(4, '\0') << true << 0 << s("framing lost") << 1;
        QTest::newRow("no hello first") << QByteArray("PDSH") + encodeGoodbye() << true << 0 << s("HELLO") << 0;
        QTest::newRow("version too new") << encodeHello(future) << true << 0 << s("upgrade perfdash") << 0;
        QTest::newRow("undefined operation")
            << start + encodeHistogram(5, h, 0, 0) << false << 1 << s("not defined") << 1;
        QTest::newRow("bucket out of range")
            << start + encodeDefineOp(0, s("op")) + badBucket << false << 1 << s("does not exist") << 1;
        QTest::newRow("truncated body") << start + encodeFrame(5, QByteArray(10, 'x')) << false << 1 << s("MEMORY")
                                        << 1;
        QTest::newRow("invalid UTF-8 name")
            << start + encodeDefineOp(0, s("ok")).replace("ok", "\xc3\x28") << false << 1 << s("UTF-8") << 1;
        QTest::newRow("operation id over the limit")
            << start + encodeDefineOp(99999, s("op")) << false << 1 << s("limit") << 1;
        QTest::newRow("unknown frame type is skipped")
            << start + encodeFrame(0x42, "whatever") + encodeGoodbye() << false << 0 << QString() << 2;
        QTest::newRow("drops of an older client (no operations)")
            << start + encodeFrame(7, QByteArray(16, '\0')) << false << 0 << QString() << 2;
        QTest::newRow("drops of a wrong size")
            << start + encodeFrame(7, QByteArray(20, '\0')) << false << 1 << s("DROPS") << 1;
        QTest::newRow("second hello") << start + encodeFrame(1, QByteArray(3, 'x')) << false << 1 << s("second") << 1;
        QTest::newRow("ndjson: not JSON") << QByteArray("{\"type\":\"op\"\n{oops}\n") << false << 2 << s("line 2") << 0;
        QTest::newRow("ndjson: missing duration")
            << QByteArray("{\"type\":\"op\",\"name\":\"a\"}\n") << false << 1 << s("duration_us") << 0;
        QTest::newRow("ndjson: wrong type") << QByteArray("{\"type\":\"op\",\"name\":\"a\",\"duration_us\":\"fast\"}\n")
                                            << false << 1 << s("wrong type") << 0;
        QTest::newRow("ndjson: negative duration")
            << QByteArray("{\"type\":\"op\",\"name\":\"a\",\"duration_us\":-4}\n") << false << 1 << s("0 or more") << 0;
        QTest::newRow("ndjson: invalid UTF-8")
            << QByteArray("{\"type\":\"op\",\"name\":\"\xff\xfe\",\"duration_us\":1}\n") << false << 1 << s("line 1")
            << 0;
        QTest::newRow("ndjson: drops without a count")
            << QByteArray("{\"type\":\"drops\"}\n") << false << 1 << s("operations") << 0;
        QTest::newRow("ndjson: an array") << QByteArray("{}\n[1,2]\n") << false << 1 << s("object") << 0;
        QTest::newRow("ndjson: version 2")
            << QByteArray("{\"type\":\"hello\",\"version\":2}\n") << true << 0 << s("version 2") << 0;
        QTest::newRow("ndjson: line over 1 MiB")
            << QByteArray("{\"type\":\"op\",\"name\":\"") + QByteArray(1 << 20, 'a') << true << 0 << s("longer than")
            << 0;
        QTest::newRow("ndjson: good line after bad ones")
            << QByteArray("{bad\n{\"type\":\"op\",\"name\":\"a\",\"duration_us\":1}\n") << false << 1 << s("line 1")
            << 1;
    }
    void malformedInput()
    {
        QFETCH(QByteArray, stream);
        QFETCH(bool, fatal);
        QFETCH(int, malformed);
        QFETCH(QString, says);
        QFETCH(int, messages);
        for (int mode : { 0, 1 }) {
            FrameDecoder decoder;
            const auto out = decodeInChunks(stream, mode, decoder);
            QCOMPARE(decoder.failed(), fatal);
            QCOMPARE(decoder.malformed(), quint64(malformed));
            const QString text = fatal ? decoder.error() : decoder.lastProblem();
            QVERIFY2(text.contains(says), qPrintable(text));
            QCOMPARE(int(out.size()), messages);
            QVERIFY(decoder.buffered() <= MaxLineBytes + 1);
        }
    }

    void versionMismatchHasAReasonForThePeer()
    {
        Hello future;
        future.version = 7;
        FrameDecoder decoder;
        std::vector<Message> out;
        decoder.feed(encodeHello(future), out);
        QVERIFY(decoder.failed());
        QVERIFY(decoder.rejectReason().contains(s("version 7")));
        decoder.feed(encodeGoodbye(), out); // nothing more after a fatal error
        QVERIFY(out.empty());
    }

    void clientBucketsAreTheDashboardsBuckets()
    {
        // The client library buckets durations before sending them; a different layout would
        // silently shift every percentile.
        std::mt19937_64 rng(9);
        QList<quint64> values;
        for (quint64 v = 0; v < 300; ++v)
            values << v;
        for (int bit = 7; bit < 46; ++bit)
            values << (quint64(1) << bit) - 1 << (quint64(1) << bit) << (quint64(1) << bit) + 1;
        for (int i = 0; i < 100'000; ++i)
            values << (rng() >> (rng() % 64));
        for (quint64 v : values) {
            const int expected = v > LatencyHistogram::MaxTrackableNs ? LatencyHistogram::BucketCount
                                                                      : LatencyHistogram::bucketIndex(v);
            QCOMPARE(wire::bucketIndex(v), expected);
        }
    }

    void randomBytesNeverCrash()
    {
        std::mt19937 rng(1234);
        for (int round = 0; round < 2000; ++round) {
            QByteArray data(int(rng() % 512), Qt::Uninitialized);
            for (char& c : data)
                c = char(rng());
            if (round % 3 == 0)
                data.prepend(binaryStream().left(int(rng() % 200)));
            else if (round % 3 == 1)
                data.prepend('{');
            FrameDecoder decoder;
            std::vector<Message> out;
            decodeInChunks(data, int(round % 3), decoder);
            QVERIFY(decoder.buffered() <= data.size());
        }
    }
};

QTEST_GUILESS_MAIN(TestFrameDecoder)
#include "tst_framedecoder.moc"
