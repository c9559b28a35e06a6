// SPDX-License-Identifier: GPL-3.0-or-later
#include "metricsendpoint.h"
#include "metricsstore.h"

#include <QCoreApplication>
#include <QProcess>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTest>
#include <QThread>

#include <atomic>

using namespace perfdash;

namespace {
/// An HTTP GET from another thread: the endpoint answers through this thread's event loop.
QByteArray get(quint16 port, const QByteArray& path)
{
    QByteArray reply;
    std::atomic<bool> done { false };
    QThread* client = QThread::create([&] {
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, port);
        if (socket.waitForConnected(10'000)) {
            socket.write("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n");
            while (socket.waitForReadyRead(30'000))
                reply += socket.readAll();
            reply += socket.readAll();
        }
        done = true;
    });
    client->start();
    if (!QTest::qWaitFor([&] { return done.load(); }, 60'000))
        qWarning("the HTTP client did not finish");
    client->wait();
    delete client;
    return reply;
}
} // namespace

class TestMetricsEndpoint : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void serveMetrics()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), u"svc \"quoted\""_qs, {});
        for (int i = 1; i <= 1000; ++i)
            store.recordOperation(key, u"db.query"_qs, quint64(i) * 1000, i % 100 != 0, {}); // 1 µs .. 1 ms
        store.sampleProcesses();

        MetricsEndpoint endpoint(&store);
        QString error;
        QVERIFY2(endpoint.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
        const QByteArray reply = get(endpoint.port(), "/metrics");
        QVERIFY2(reply.startsWith("HTTP/1.1 200 OK\r\n"), reply.left(200).constData());
        QVERIFY(reply.contains("Content-Type: text/plain; version=0.0.4"));
        const QByteArray body = reply.mid(reply.indexOf("\r\n\r\n") + 4);
        QCOMPARE(body, MetricsEndpoint::render(store));

        const QByteArray labels = "process=\"svc \\\"quoted\\\"\",pid=\"" + QByteArray::number(QCoreApplication::applicationPid())
            + "\",operation=\"db.query\"";
        QVERIFY(body.contains(QByteArray("perfdash_operation_duration_seconds_count{" + labels + "} 1000\n")));
        QVERIFY(body.contains(QByteArray("perfdash_operation_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} 1000\n")));
        QVERIFY(body.contains(QByteArray("perfdash_operation_errors_total{" + labels + "} 10\n")));
        QVERIFY(body.contains(QByteArray("perfdash_operation_duration_seconds_sum{" + labels + "} 0.5005\n")));
        QVERIFY(body.contains("perfdash_process_up{"));
        QVERIFY(body.contains("perfdash_process_resident_memory_bytes{"));
        // A log-linear bucket counts under a bound when all of it lies below: within 1.6% of exact.
        const auto bucket = [&](const char* le) {
            const QByteArray series = labels + ",le=\"" + le + "\"} ";
            return body.mid(body.indexOf(series) + series.size()).split('\n').constFirst().toInt();
        };
        QVERIFY2(bucket("0.0001") >= 98 && bucket("0.0001") <= 100, qPrintable(QString::number(bucket("0.0001"))));
        QVERIFY2(bucket("0.001") >= 984 && bucket("0.001") <= 1000, qPrintable(QString::number(bucket("0.001"))));
        QCOMPARE(bucket("0.005"), 1000);
        QVERIFY(bucket("1e-05") <= bucket("0.0001")); // cumulative
        QVERIFY(get(endpoint.port(), "/").startsWith("HTTP/1.1 404"));

        const QString promtool = QStandardPaths::findExecutable(u"promtool"_qs);
        if (promtool.isEmpty())
            QSKIP("promtool is not installed (Debian's prometheus package; setup.sh installs it)");
        QProcess check;
        check.start(promtool, { u"check"_qs, u"metrics"_qs });
        QVERIFY(check.waitForStarted());
        check.write(body);
        check.closeWriteChannel();
        QVERIFY(check.waitForFinished(60'000));
        QVERIFY2(check.exitCode() == 0, check.readAll().constData());
    }

    void addresses_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("ok");
        QTest::addColumn<QString>("host");
        QTest::addColumn<int>("port");
        QTest::newRow("port alone is loopback") << u"9464"_qs << true << u"127.0.0.1"_qs << 9464;
        QTest::newRow("host and port") << u"0.0.0.0:9000"_qs << true << u"0.0.0.0"_qs << 9000;
        QTest::newRow("ipv6") << u"[::1]:9000"_qs << true << u"::1"_qs << 9000;
        QTest::newRow("localhost") << u"localhost:80"_qs << true << u"127.0.0.1"_qs << 80;
        QTest::newRow("bad port") << u"127.0.0.1:http"_qs << false << QString() << 0;
        QTest::newRow("port too large") << u"70000"_qs << false << QString() << 0;
        QTest::newRow("bad host") << u"example.com:80"_qs << false << QString() << 0;
    }
    void addresses()
    {
        QFETCH(QString, text);
        QFETCH(bool, ok);
        QFETCH(QString, host);
        QFETCH(int, port);
        QHostAddress address;
        quint16 p = 0;
        QString error;
        QCOMPARE(MetricsEndpoint::parseAddress(text, &address, &p, &error), ok);
        if (ok) {
            QCOMPARE(address.toString(), host);
            QCOMPARE(int(p), port);
        } else {
            QVERIFY(!error.isEmpty());
        }
    }
};

QTEST_GUILESS_MAIN(TestMetricsEndpoint)
#include "tst_metricsendpoint.moc"
