// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/csvexport.h"
#include "core/metricsstore.h"
#include "http/httpaddress.h"
#include "http/metricsendpoint.h"

#include <QCoreApplication>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpSocket>
#include <QTest>
#include <QThread>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

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
            socket.write("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
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
/// `promtool check metrics` (Debian's prometheus package, installed by setup.sh) accepts @p body.
void promtoolAccepts(const QByteArray& body)
{
    const QString promtool = QStandardPaths::findExecutable(u"promtool"_qs);
    QVERIFY2(!promtool.isEmpty(), "promtool is not installed (Debian's prometheus package; setup.sh installs it)");
    QProcess check;
    check.setProcessChannelMode(QProcess::MergedChannels);
    check.start(promtool, { u"check"_qs, u"metrics"_qs });
    QVERIFY(check.waitForStarted());
    check.write(body);
    check.closeWriteChannel();
    QVERIFY(check.waitForFinished(60'000));
    QVERIFY2(check.exitCode() == 0, check.readAll().constData());
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
        QVERIFY(body.startsWith(MetricsEndpoint::render(store))); // then the endpoint's own counters
        QVERIFY(body.contains("perfdash_http_connections_refused_total{reason=\"limit\"} 0\n"));

        const QByteArray labels = "process=\"svc \\\"quoted\\\"\",pid=\""
            + QByteArray::number(QCoreApplication::applicationPid()) + "\",operation=\"db.query\"";
        QVERIFY(body.contains(QByteArray("perfdash_operation_duration_seconds_count{" + labels + "} 1000\n")));
        QVERIFY(
            body.contains(QByteArray("perfdash_operation_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} 1000\n")));
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

        promtoolAccepts(body);
    }

    /// A value equal to a bound is under it (a 5 µs operation is in le="5e-06").
    void valueOnABoundIsUnderIt_data()
    {
        QTest::addColumn<quint64>("ns");
        QTest::addColumn<QByteArray>("le");
        QTest::newRow("1 us") << quint64(1'000) << QByteArray("1e-06");
        QTest::newRow("5 us") << quint64(5'000) << QByteArray("5e-06");
        QTest::newRow("50 us") << quint64(50'000) << QByteArray("5e-05");
        QTest::newRow("5 ms") << quint64(5'000'000) << QByteArray("0.005");
        QTest::newRow("1 s") << quint64(1'000'000'000) << QByteArray("1");
    }
    void valueOnABoundIsUnderIt()
    {
        QFETCH(quint64, ns);
        QFETCH(QByteArray, le);
        MetricsStore store;
        const quint64 key = store.openProcess(4242, u"svc"_qs, {});
        store.recordOperation(key, u"op"_qs, ns, true, {});
        const QByteArray body = MetricsEndpoint::render(store);
        QVERIFY2(body.contains(QByteArray(
                     "perfdash_operation_duration_seconds_bucket{process=\"svc\",pid=\"4242\",operation=\"op\",le=\""
                     + le + "\"} 1\n")),
            body.constData());
    }

    /// Point 7: a process that reconnected is two store entries with equal labels: one series, summed.
    void reconnectedProcessIsOneSeries()
    {
        MetricsStore store;
        const quint64 first = store.openProcess(4242, u"svc"_qs, {});
        store.recordOperation(first, u"op"_qs, 1000, true, {});
        store.closeProcess(first);
        const quint64 second = store.openProcess(4242, u"svc"_qs, {});
        QVERIFY(second != first);
        store.recordOperation(second, u"op"_qs, 2000, false, {});
        const QByteArray body = MetricsEndpoint::render(store);
        const QByteArray count
            = "perfdash_operation_duration_seconds_count{process=\"svc\",pid=\"4242\",operation=\"op\"} ";
        QCOMPARE(body.count(count), 1);
        QVERIFY(body.contains(QByteArray(count + "2\n")));
        QVERIFY(body.contains("perfdash_operation_errors_total{process=\"svc\",pid=\"4242\",operation=\"op\"} 1\n"));
        QCOMPARE(body.count("perfdash_process_up{process=\"svc\",pid=\"4242\"} "), 1);
        QVERIFY(body.contains("perfdash_process_up{process=\"svc\",pid=\"4242\"} 1\n")); // the newest entry is live
        promtoolAccepts(body);
    }

    void slowAndOversizedClientsAreClosed_data()
    {
        QTest::addColumn<QByteArray>("request");
        QTest::addColumn<bool>("answered413");
        QTest::newRow("idle: sends nothing") << QByteArray() << false;
        QTest::newRow("partial headers") << QByteArray("GET /metrics HTTP/1.1\r\nHost: loc") << false;
        QTest::newRow("oversized request in one write")
            << QByteArray("GET /metrics HTTP/1.1\r\nX-Pad: " + QByteArray(64 * 1024, 'a') + "\r\n\r\n") << true;
    }
    /// Point 7: no connection stays open for want of a timeout or a size limit.
    void slowAndOversizedClientsAreClosed()
    {
        QFETCH(QByteArray, request);
        QFETCH(bool, answered413);
        MetricsStore store;
        MetricsEndpoint endpoint(&store);
        LimitedTcpServer::Limits limits;
        limits.responseDeadlineMs = 300;
        limits.maxRequestBytes = 8 * 1024;
        endpoint.setLimits(limits);
        QString error;
        QVERIFY2(endpoint.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
        QTcpSocket socket;
        socket.connectToHost(QHostAddress::LocalHost, endpoint.port());
        QVERIFY(socket.waitForConnected(10'000));
        if (!request.isEmpty())
            socket.write(request);
        QByteArray reply;
        QTRY_VERIFY_WITH_TIMEOUT(
            (reply += socket.readAll(), socket.state() == QAbstractSocket::UnconnectedState), 20'000);
        reply += socket.readAll();
        QCOMPARE(reply.startsWith("HTTP/1.1 413"), answered413);
        QTRY_COMPARE_WITH_TIMEOUT(endpoint.httpStats().open, 0, 10'000);
        QCOMPARE(endpoint.httpStats().oversized, quint64(answered413 ? 1 : 0));
        QCOMPARE(endpoint.httpStats().timedOut, quint64(answered413 ? 0 : 1));
    }

    /// A scraper that hangs up before its answer is ready (a timeout, Ctrl+C on curl) must not take the
    /// dashboard down: with Qt 6.4's QFuture responses the answer was written to the freed socket
    /// (SIGSEGV within a few hundred such requests, with or without a descriptor limit).
    void aClientThatHangsUpBeforeTheAnswerIsHarmless()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), u"svc"_qs, {});
        for (int op = 0; op < 300; ++op) // enough to make each rendering take a while
            store.recordOperation(key, u"op.%1"_qs.arg(op), 1000 + quint64(op), true, {});
        MetricsEndpoint endpoint(&store);
        QString error;
        QVERIFY2(endpoint.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
        const quint16 port = endpoint.port();
        std::atomic<int> sent { 0 };
        QThread* client = QThread::create([&] {
            for (int i = 0; i < 400; ++i) {
                QTcpSocket socket;
                socket.connectToHost(QHostAddress::LocalHost, port);
                if (!socket.waitForConnected(10'000))
                    continue;
                socket.write("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
                socket.flush(); // written to the kernel now
                socket.abort();
                ++sent;
            }
        });
        QSignalSpy finished(client, &QThread::finished); // runs the event loop (qWaitFor sleeps 10 ms a turn)
        client->start();
        QVERIFY(finished.wait(120'000));
        client->wait();
        delete client;
        QCOMPARE(sent.load(), 400);
        QTRY_COMPARE_WITH_TIMEOUT(endpoint.httpStats().open, 0, 30'000);
        const QByteArray reply = get(port, "/metrics");
        QVERIFY2(reply.startsWith("HTTP/1.1 200"), reply.left(200).constData());
        QVERIFY(reply.contains("operation=\"op.299\"} 1\n"));
    }

    /// Point 2: past the cap, connections are refused with a count; closing them makes room again.
    void connectionCapRefusesAndRecovers()
    {
        MetricsStore store;
        MetricsEndpoint endpoint(&store);
        LimitedTcpServer::Limits limits;
        limits.maxConnections = 3;
        limits.closeAfterResponse = true;
        endpoint.setLimits(limits);
        QString error;
        QVERIFY2(endpoint.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
        std::vector<std::unique_ptr<QTcpSocket>> idle;
        for (int i = 0; i < 5; ++i) {
            idle.push_back(std::make_unique<QTcpSocket>());
            idle.back()->connectToHost(QHostAddress::LocalHost, endpoint.port());
            QVERIFY(idle.back()->waitForConnected(10'000));
        }
        QTRY_COMPARE_WITH_TIMEOUT(endpoint.httpStats().refusedLimit, quint64(2), 10'000);
        QCOMPARE(endpoint.httpStats().open, 3);
        // Refused with an answer a scraper understands (it got a reset, as from a dead dashboard).
        for (int i = 3; i < 5; ++i) {
            QByteArray refused;
            QTRY_VERIFY_WITH_TIMEOUT((refused += idle[std::size_t(i)]->readAll()).startsWith("HTTP/1.1 503"), 10'000);
        }
        idle.clear();
        QTRY_COMPARE_WITH_TIMEOUT(endpoint.httpStats().open, 0, 10'000);
        const QByteArray reply = get(endpoint.port(), "/metrics");
        QVERIFY2(reply.startsWith("HTTP/1.1 200"), reply.left(200).constData());
        QVERIFY(reply.contains("perfdash_http_connections_refused_total{reason=\"limit\"} 2\n"));
    }

    /// What the /metrics renderer, the headless table and the capture writer
    /// hold (a shared monitor) stays usable after the store evicts its process. Under ASan (CI), a
    /// dangling monitor is a use after free here.
    void aHeldMonitorOutlivesEviction()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(3'000'000, u"evicted"_qs, { u"evicted"_qs });
        for (int i = 0; i < 100; ++i)
            store.recordOperation(key, u"held.op"_qs, 5'000 + quint64(i), i % 10 != 0, {});
        const std::shared_ptr<PerformanceMonitor> held = store.sharedMonitor(key);
        QVERIFY(held);
        store.closeProcess(key); // exited: the first to go when the store is full
        for (int i = 0; i < MetricsStore::MaxProcesses; ++i)
            QVERIFY(store.openProcess(3'100'000 + i, u"filler"_qs, { u"filler"_qs }) != 0);
        QVERIFY(!store.process(key)); // evicted
        QVERIFY(!store.sharedMonitor(key));
        // Used as each holder uses it, after the eviction.
        QCOMPARE(held->stats(u"held.op"_qs)->count, quint64(100));
        QCOMPARE(held->stats(u"held.op"_qs)->errorCount, quint64(10));
        QCOMPARE(held->allStats(StatsWindow::last(10)).size(), qsizetype(1));
        QCOMPARE(csvexport::statisticsOf(*held, 3'000'000, u"evicted"_qs, StatsWindow::session()).operations.size(),
            qsizetype(1));
        QVERIFY(!csvexport::seriesOf(*held, 3'000'000, u"evicted"_qs).isEmpty());
        held->record(u"held.op"_qs, std::chrono::microseconds(7), true, {});
        QCOMPARE(held->stats(u"held.op"_qs)->count, quint64(101));
    }

    /// Point 5, raced: /metrics renderings and the headless table's reading run on another thread
    /// while processes come, go and are evicted by the thousand.
    void renderingWhileProcessesAreEvicted()
    {
        MetricsStore store;
        std::atomic<bool> stop { false };
        std::atomic<int> renders { 0 };
        std::thread reader([&] {
            while (!stop.load()) {
                const QByteArray text = MetricsEndpoint::render(store);
                for (const ProcessInfo& p : store.processes()) { // as the headless table reads
                    if (const auto monitor = store.sharedMonitor(p.key))
                        monitor->allStats(StatsWindow::last(10));
                }
                if (!text.isEmpty())
                    ++renders;
            }
        });
        quint64 evictedSeen = 0;
        for (int i = 0; i < 3 * MetricsStore::MaxProcesses; ++i) {
            const quint64 key = store.openProcess(4'000'000 + i, u"churn-%1"_qs.arg(i % 7), { u"churn"_qs });
            QVERIFY(key != 0);
            store.recordOperation(key, u"churn.op"_qs, 1'000, true, {});
            store.closeProcess(key);
            evictedSeen = key;
        }
        QTRY_VERIFY_WITH_TIMEOUT(renders.load() >= 3, 30'000);
        stop = true;
        reader.join();
        QCOMPARE(store.processes().size(), qsizetype(MetricsStore::MaxProcesses));
        QVERIFY(evictedSeen > quint64(MetricsStore::MaxProcesses));
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
        QCOMPARE(parseHttpAddress(text, u"--prometheus"_qs, u"HOST:PORT or PORT"_qs, &address, &p, &error), ok);
        if (ok) {
            QCOMPARE(address.toString(), host);
            QCOMPARE(int(p), port);
        } else {
            QVERIFY(!error.isEmpty());
        }
    }

    /// What a refused address is told, in the words of its option.
    void addressMessages_data()
    {
        QTest::addColumn<QString>("option");
        QTest::addColumn<QString>("form");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        const QString otlp = u"--otlp"_qs;
        const QString prometheus = u"--prometheus"_qs;
        QTest::newRow("bad port") << prometheus << u"HOST:PORT or PORT"_qs << u"127.0.0.1:http"_qs
                                  << u"--prometheus needs HOST:PORT or PORT, not '127.0.0.1:http'"_qs;
        QTest::newRow("port too large") << otlp << u"[HOST:]PORT"_qs << u"70000"_qs
                                        << u"--otlp needs [HOST:]PORT, not '70000'"_qs;
        QTest::newRow("no host before the colon")
            << otlp << u"[HOST:]PORT"_qs << u":4318"_qs << u"--otlp needs [HOST:]PORT, not ':4318'"_qs;
        QTest::newRow("bad host") << prometheus << u"HOST:PORT or PORT"_qs << u"example.com:80"_qs
                                  << u"--prometheus: 'example.com' is not an IP address"_qs;
        QTest::newRow("bad ipv6") << otlp << u"[HOST:]PORT"_qs << u"[::g]:4318"_qs
                                  << u"--otlp: '[::g]' is not an IP address"_qs;
    }
    void addressMessages()
    {
        QFETCH(QString, option);
        QFETCH(QString, form);
        QFETCH(QString, text);
        QFETCH(QString, message);
        QHostAddress host;
        quint16 port = 0;
        QString error;
        QVERIFY(!parseHttpAddress(text, option, form, &host, &port, &error));
        QCOMPARE(error, message);
        QVERIFY(!parseHttpAddress(text, option, form, &host, &port, nullptr)); // the reason is optional
    }
};

QTEST_GUILESS_MAIN(TestMetricsEndpoint)
#include "tst_metricsendpoint.moc"
