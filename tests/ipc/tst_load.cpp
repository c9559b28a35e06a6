// SPDX-License-Identifier: GPL-3.0-or-later
// Load is not abuse: a burst of connections at once, connection churn, running out of file
// descriptors, thousands of operation names. Counts are reconciled while the connections are
// still open. ctest runs the short sizes; PERFDASH_LOAD_LONG=1 runs the long ones by hand.
#include "core/memorymonitor.h"
#include "core/metricsstore.h"
#include "http/metricsendpoint.h"
#include "http/refusalsummary.h"
#include "ipc/ingestserver.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QRegularExpression>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <vector>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

bool longRun()
{
    return qEnvironmentVariableIntValue("PERFDASH_LOAD_LONG") != 0;
}

/// An ingest server and its store, on a socket of their own in a temporary directory.
struct Dashboard
{
    QTemporaryDir dir;
    QString path;
    MetricsStore store;
    IngestServer server { &store };
    QString error; ///< why listen() failed

    explicit Dashboard(const char* socket)
        : path(dir.filePath(s(socket)))
    {
    }
    bool listen() { return server.listen(path, &error); }
};

/// A blocking AF_UNIX connection, without Qt, so that the test's own event loop plays no part.
int connectUnix(const QString& path)
{
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    const QByteArray native = QFile::encodeName(path);
    std::memcpy(
        address.sun_path, native.constData(), std::min<std::size_t>(native.size(), sizeof address.sun_path - 1));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// A blocking TCP connection to 127.0.0.1:@p port, or -1.
int connectTcp(quint16 port)
{
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// The peer closed @p fd (end of stream or reset), without reading what it sent.
/// Closed by perfdash, or answered 503 (an HTTP connection over the cap is told so before it is closed).
bool closedByPeer(int fd)
{
    char head[12];
    const ssize_t n = ::recv(fd, head, sizeof head, MSG_PEEK | MSG_DONTWAIT);
    if (n == ssize_t(sizeof head) && std::memcmp(head, "HTTP/1.1 503", sizeof head) == 0)
        return true;
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

bool sendAll(int fd, const QByteArray& data)
{
    qsizetype done = 0;
    while (done < data.size()) {
        const ssize_t n = ::send(fd, data.constData() + done, std::size_t(data.size() - done), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += n;
    }
    return true;
}

QByteArray helloAndOp(const QString& name, const QString& operation)
{
    return "{\"type\":\"hello\",\"version\":1,\"name\":\"" + name.toUtf8() + "\"}\n{\"type\":\"op\",\"name\":\""
        + operation.toUtf8() + "\",\"duration_us\":5}\n";
}

/// Live processes whose name starts with @p prefix and that have recorded @p operations each.
int liveWith(const MetricsStore& store, const QString& prefix, quint64 operations)
{
    int n = 0;
    for (const ProcessInfo& p : store.processes())
        n += p.state == ProcessInfo::State::Live && p.name.startsWith(prefix) && p.operations == operations;
    return n;
}

std::atomic<int> g_timerWarnings { 0 };
QtMessageHandler g_previousHandler = nullptr;

void countTimerWarnings(QtMsgType type, const QMessageLogContext& context, const QString& message)
{
    if (message.contains(QLatin1String("Timers cannot be started from another thread")))
        ++g_timerWarnings;
    else
        g_previousHandler(type, context, message);
}

quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

/// GET /metrics, synchronously; empty when it could not be fetched.
QByteArray fetchMetrics(quint16 port)
{
    QTcpSocket socket;
    socket.connectToHost(QHostAddress::LocalHost, port);
    if (!socket.waitForConnected(10'000))
        return {};
    socket.write("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    QByteArray response;
    while (socket.waitForReadyRead(10'000))
        response += socket.readAll();
    response += socket.readAll();
    return response;
}

/// The value of the sample line @p series (name and labels, exactly), or -1.
double metricValue(const QByteArray& text, const QByteArray& series)
{
    for (const QByteArray& line : text.split('\n')) {
        if (line.startsWith(QByteArray(series + ' ')))
            return line.mid(series.size() + 1).toDouble();
    }
    return -1;
}

/// The value of the first sample line that starts with @p prefix, or -1.
double metricStartingWith(const QByteArray& text, const QByteArray& prefix)
{
    for (const QByteArray& line : text.split('\n')) {
        if (line.startsWith(prefix))
            return line.mid(line.lastIndexOf(' ') + 1).toDouble();
    }
    return -1;
}
} // namespace

class TestLoad : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase()
    {
        // The in-process dashboard and the clients share this process's descriptors.
        rlimit limit {};
        QVERIFY(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
        limit.rlim_cur = limit.rlim_max;
        QVERIFY(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
        QVERIFY2(limit.rlim_cur >= 4096, "the burst needs 4096 descriptors");
        g_previousHandler = qInstallMessageHandler(countTimerWarnings);
    }

    void burstOfConnectionsIsCountedWhileOpen_data()
    {
        QTest::addColumn<int>("connections");
        QTest::newRow("900 at once") << 900;
        if (longRun())
            QTest::newRow("1800 at once") << 1800;
    }

    /// Each connection sends hello and one operation and stays open.
    void burstOfConnectionsIsCountedWhileOpen()
    {
        QFETCH(int, connections);
        Dashboard d("burst.sock");
        QVERIFY2(d.listen(), qPrintable(d.error));
        g_timerWarnings = 0;
        std::vector<int> fds;
        for (int i = 0; i < connections; ++i) {
            const int fd = connectUnix(d.path);
            QVERIFY2(fd >= 0, std::strerror(errno));
            fds.push_back(fd);
            QVERIFY(sendAll(fd, helloAndOp(s("burst-%1").arg(i), s("burst.op"))));
        }
        // Generous for a loaded machine; without backpressure resuming, the last ones never come.
        QElapsedTimer counted;
        counted.start();
        QTRY_COMPARE_WITH_TIMEOUT(liveWith(d.store, s("burst-"), 1), connections, 20'000);
        qInfo("%d connections counted %lld ms after the last one sent", connections, counted.elapsed());
        QCOMPARE(d.server.stats().connections, connections);
        QCOMPARE(g_timerWarnings.load(), 0);
        for (int fd : fds)
            ::close(fd);
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().connections, 0, 20'000);
    }

    /// Point 2 in the suite: idle connections that hold the cap make the waiting ones refused and
    /// counted (after a grace that lets churn through), the listener stays, and a place freed is
    /// taken again.
    void capHeldByIdleConnectionsRefusesAndRecovers()
    {
        Dashboard d("cap.sock");
        d.server.setMaxConnections(4);
        QVERIFY2(d.listen(), qPrintable(d.error));
        std::vector<int> idle;
        for (int i = 0; i < 4; ++i) {
            idle.push_back(connectUnix(d.path));
            QVERIFY(idle.back() >= 0);
        }
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().connections, 4, 20'000);
        std::vector<int> excess;
        for (int i = 0; i < 3; ++i) {
            excess.push_back(connectUnix(d.path)); // waits in the backlog, then is refused
            QVERIFY(excess.back() >= 0);
        }
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().refusedLimit, quint64(3), 20'000);
        QCOMPARE(d.server.stats().connections, 4);
        QVERIFY(QFile::exists(d.path));
        for (int fd : excess)
            ::close(fd);
        ::close(idle.back());
        idle.pop_back();
        const int fd = connectUnix(d.path);
        QVERIFY(fd >= 0);
        QVERIFY(sendAll(fd, helloAndOp(s("after-cap"), s("cap.op"))));
        QTRY_COMPARE_WITH_TIMEOUT(liveWith(d.store, s("after-cap"), 1), 1, 20'000);
        QCOMPARE(d.server.stats().refusedLimit, quint64(3));
        ::close(fd);
        for (int i : idle)
            ::close(i);
    }

    /// Points 1 and 3: connect, hello, op, close as fast as one client can, for a while. Every
    /// cycle is counted, nothing warns, and memory stays bounded although the processes come and go.
    void connectionChurnIsCountedAndBounded()
    {
        Dashboard d("churn.sock");
        QVERIFY2(d.listen(), qPrintable(d.error));
        g_timerWarnings = 0;
        const qint64 rssBefore = MemoryMonitor::current().rssBytes;
        QElapsedTimer clock;
        clock.start();
        const qint64 runMs = longRun() ? 20'000 : 2'000;
        quint64 cycles = 0;
        qint64 peakRss = rssBefore;
        while (clock.elapsed() < runMs) {
            const int fd = connectUnix(d.path);
            QVERIFY2(fd >= 0, std::strerror(errno));
            QVERIFY(sendAll(fd, helloAndOp(s("churn-%1").arg(cycles), s("churn.op"))));
            ::close(fd);
            ++cycles;
            if (cycles % 1000 == 0)
                peakRss = std::max(peakRss, MemoryMonitor::current().rssBytes);
        }
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().accepted, cycles, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().connections, 0, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().messages, 2 * cycles, 30'000);
        peakRss = std::max(peakRss, MemoryMonitor::current().rssBytes);
        qInfo("churn: %llu cycles, RSS %.1f -> peak %.1f MiB, %d processes kept",
            static_cast<unsigned long long>(cycles), double(rssBefore) / 1048576.0, double(peakRss) / 1048576.0,
            int(d.store.processes().size()));
        QCOMPARE(g_timerWarnings.load(), 0);
        // The store keeps at most MaxProcesses; each costs kilobytes when it saw one event.
        QVERIFY2(peakRss - rssBefore < 300LL * 1024 * 1024,
            qPrintable(s("RSS grew by %1 MiB").arg((peakRss - rssBefore) >> 20)));
        QVERIFY(d.store.processes().size() <= MetricsStore::MaxProcesses);
    }

    /// Point 2: under a descriptor limit of 128, 300 socket connections and 150 idle HTTP ones.
    /// The dashboard keeps listening, refuses the excess with a count, and recovers when they close.
    void descriptorLimitRefusesVisiblyAndRecovers()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(s("fd.sock"));
        const QString csv = dir.filePath(s("stats.csv"));
        const quint16 port = freePort();
        QProcess perfdash;
        perfdash.setProcessChannelMode(QProcess::SeparateChannels);
        // prlimit (util-linux) sets the limit of the child alone and execs it in place, so the pid is perfdash's.
        perfdash.start(QStandardPaths::findExecutable(s("prlimit")),
            { s("--nofile=128:128"), QCoreApplication::applicationDirPath() + s("/perfdash"), s("--headless"),
                s("--quiet"), s("--socket"), path, s("--prometheus"), QString::number(port), s("--export-csv"), csv });
        QVERIFY(perfdash.waitForStarted(30'000));
        QElapsedTimer waited;
        waited.start();
        while (!(QFile::exists(path) && !fetchMetrics(port).isEmpty()) && perfdash.state() == QProcess::Running
            && waited.elapsed() < 60'000)
            QTest::qWait(100); // polling the child: nothing to wait on but its answers
        QVERIFY2(
            QFile::exists(path) && perfdash.state() == QProcess::Running, perfdash.readAllStandardError().constData());

        std::vector<int> idle;
        for (int i = 0; i < 150; ++i) {
            const int fd = connectTcp(port);
            QVERIFY(fd >= 0); // the kernel completes the handshake; perfdash accepts, then holds or closes
            idle.push_back(fd);
        }
        // The HTTP side holds at most its share, a quarter of the 128 descriptors, and refuses the
        // rest at once: the connections it closed are seen here before the socket flood starts.
        QTRY_VERIFY_WITH_TIMEOUT(std::count_if(idle.begin(), idle.end(), closedByPeer) >= 150 - 128 / 4
                || perfdash.state() != QProcess::Running,
            30'000);
        QVERIFY2(perfdash.state() == QProcess::Running && QFile::exists(path),
            qPrintable(QString::fromUtf8(perfdash.readAllStandardError()) + QString::number(perfdash.exitCode())));
        std::vector<int> fds;
        int notConnected = 0; // the kernel's own refusals (ECONNREFUSED while the listener drops the excess)
        for (int i = 0; i < 300; ++i) {
            const int fd = connectUnix(path);
            if (fd < 0) {
                ++notConnected;
                continue;
            }
            fds.push_back(fd);
            sendAll(fd, helloAndOp(s("fd-%1").arg(i), s("fd.op"))); // a refused one may be closed already
        }
        QVERIFY2(notConnected < 300, "no connection got through");
        const double tried = 300.0 - notConnected;
        QVERIFY2(QFile::exists(path), "the socket file must stay");
        QCOMPARE(perfdash.state(), QProcess::Running);
        for (int fd : idle) // the HTTP side frees its share; the socket connections stay open
            ::close(fd);
        QByteArray text;
        QTRY_VERIFY_WITH_TIMEOUT(!(text = fetchMetrics(port)).isEmpty(), 30'000);
        // While the 300 are open: the ones let in are counted as processes, the rest as refused.
        const auto refusedOf = [](const QByteArray& metrics) {
            return metricValue(metrics, "perfdash_ingest_connections_refused_total{reason=\"limit\"}")
                + metricValue(metrics, "perfdash_ingest_connections_refused_total{reason=\"descriptors\"}");
        };
        QTRY_VERIFY_WITH_TIMEOUT(
            (text = fetchMetrics(port),
                metricValue(text, "perfdash_ingest_connections_accepted_total") + refusedOf(text) == tried),
            30'000);
        const double open = metricValue(text, "perfdash_ingest_connections");
        const double refused = refusedOf(text);
        QVERIFY2(open > 0 && refused > 0, text.constData());
        QCOMPARE(open + refused, tried);
        QTRY_COMPARE_WITH_TIMEOUT(metricValue(fetchMetrics(port), "perfdash_processes{state=\"live\"}"), open, 30'000);

        for (int fd : fds)
            ::close(fd);
        QTRY_COMPARE_WITH_TIMEOUT(metricValue(fetchMetrics(port), "perfdash_ingest_connections"), 0.0, 30'000);
        // Recovered: a new client gets in and is counted.
        const int late = connectUnix(path);
        QVERIFY(late >= 0);
        QVERIFY(sendAll(late, helloAndOp(s("after-limit"), s("after.op"))));
        QTRY_COMPARE_WITH_TIMEOUT(
            metricStartingWith(fetchMetrics(port), "perfdash_operation_duration_seconds_count{process=\"after-limit\""),
            1.0, 30'000);
        ::close(late);
        perfdash.terminate();
        QVERIFY(perfdash.waitForFinished(30'000));
        // The end-of-run summary, not only the "refusing connections" said while it happened: the
        // counts of both sides, consistent with what /metrics said while the connections were open.
        const QString errors = QString::fromUtf8(perfdash.readAllStandardError());
        const QRegularExpressionMatch summary = QRegularExpression(
            s(R"(perfdash: refused: connections (\d+) \(limit (\d+), no descriptor (\d+), other uid 0; \d+ open of \d+\), )"
              R"(HTTP (\d+) \(limit (\d+), timed out \d+, too large \d+\), messages over the process limit 0)"))
                                                    .match(errors);
        QVERIFY2(summary.hasMatch(), qPrintable(errors));
        QCOMPARE(summary.captured(1).toDouble(), refused);
        QCOMPARE(summary.captured(2).toDouble() + summary.captured(3).toDouble(), refused);
        QVERIFY2(summary.captured(4).toInt() >= 150 - 128 / 4 && summary.captured(5).toInt() > 0, qPrintable(errors));
        QCOMPARE(perfdash.exitCode(), 0);
        QFile stats(csv);
        QVERIFY(stats.open(QIODevice::ReadOnly));
        QVERIFY(stats.readAll().contains("after-limit"));
    }

    /// Point 4: with MaxProcesses live processes held, one more client is refused with a count:
    /// every message it sends is counted (not thrown away silently), the connection is placed (and
    /// /proc read for it) once, not once per message, and /metrics says how many were refused.
    void oneProcessOverTheLimitIsRefusedWithACount()
    {
        Dashboard d("full.sock");
        for (int i = 0; i < MetricsStore::MaxProcesses; ++i)
            QVERIFY(d.store.openProcess(2'000'000 + i, s("held-%1").arg(i), { s("held") }) != 0);
        QSignalSpy problems(&d.server, &IngestServer::connectionProblem);
        QVERIFY2(d.listen(), qPrintable(d.error));
        const int fd = connectUnix(d.path);
        QVERIFY(fd >= 0);
        QVERIFY(sendAll(fd, helloAndOp(s("one-too-many"), s("late.op")))); // hello + op
        QTRY_COMPARE_WITH_TIMEOUT(d.store.refusals().processLimit, quint64(2), 20'000);
        QCOMPARE(d.store.refusals().processLimitConnections, quint64(1));
        // Later messages, each in a read of its own: counted one by one, the connection not placed again.
        const QByteArray op = "{\"type\":\"op\",\"name\":\"late.op\",\"duration_us\":5}\n";
        for (int i = 1; i <= 5; ++i) {
            QVERIFY(sendAll(fd, op));
            QTRY_COMPARE_WITH_TIMEOUT(d.store.refusals().processLimit, quint64(2 + i), 20'000);
        }
        QCOMPARE(d.store.refusals().processLimitConnections, quint64(1));
        QCOMPARE(problems.count(), 1); // said once, not once per message
        QVERIFY2(problems.constFirst().constFirst().toString().contains(s("live processes, its limit")),
            qPrintable(problems.constFirst().constFirst().toString()));
        QCOMPARE(d.store.processes().size(), qsizetype(MetricsStore::MaxProcesses));
        for (const ProcessInfo& p : d.store.processes())
            QVERIFY(p.name != s("one-too-many"));
        const QByteArray text = MetricsEndpoint::render(d.store, &d.server);
        QCOMPARE(metricValue(text, "perfdash_refused_total{reason=\"process_limit\"}"), 7.0);
        ::close(fd);
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().connections, 0, 20'000);
        QCOMPARE(d.store.refusals().processLimit, quint64(7));
    }

    /// At the process limit a client of the library was let in silently: it said connected, its
    /// flush() returned OK and it reported no drop while all its operations were refused. It is
    /// told (REJECT), counts what it recorded as dropped, and /metrics and the summary say so.
    void aClientAtTheProcessLimitIsToldSo()
    {
        Dashboard d("full.sock");
        for (int i = 0; i < MetricsStore::MaxProcesses; ++i)
            QVERIFY(d.store.openProcess(2'000'000 + i, s("held-%1").arg(i), { s("held") }) != 0);
        QVERIFY2(d.listen(), qPrintable(d.error));
        QProcess client;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(s("PERFDASH_SOCKET"), d.path);
        env.insert(s("PERFDASH_NAME"), s("one-too-many"));
        client.setProcessEnvironment(env);
        client.start(QCoreApplication::applicationDirPath() + s("/perfdash_test_client"), { s("refused"), s("4998") });
        QVERIFY(client.waitForFinished(60'000));
        const QString out = QString::fromUtf8(client.readAllStandardOutput());
        const QString err = QString::fromUtf8(client.readAllStandardError());
        const QRegularExpressionMatch m
            = QRegularExpression(s(R"(flush (.*) dropped (\d+) rejected (\d+))")).match(out);
        QVERIFY2(m.hasMatch(), qPrintable(out + err));
        QVERIFY2(m.captured(1) != s("success"), qPrintable(out)); // flush() does not say all is well
        QCOMPARE(m.captured(2).toULongLong(), quint64(4998)); // every operation recorded is counted as dropped
        QCOMPARE(m.captured(3).toULongLong(), quint64(4998));
        QVERIFY2(err.contains(s("refused this process")) && err.contains(s("live processes")), qPrintable(err));
        QTRY_COMPARE_WITH_TIMEOUT(d.server.stats().rejectedProcessLimit, quint64(1), 20'000);
        QTRY_COMPARE_WITH_TIMEOUT(d.store.refusals().processLimitConnections, quint64(1), 20'000);
        const QByteArray text = MetricsEndpoint::render(d.store, &d.server);
        QCOMPARE(metricValue(text, "perfdash_ingest_connections_rejected_total{reason=\"process_limit\"}"), 1.0);
        const QString summary = refusalSummary(d.store, d.server.stats(), LimitedTcpServer::Stats {});
        QVERIFY2(summary.contains(s("(clients told so: 1)")), qPrintable(summary));
    }

    /// Point 4: counters and gauges past 10,000 names each: the excess is refused with a count,
    /// per process and store-wide, and shown in /metrics; names already held still update.
    void counterAndGaugeNamesOverTheLimitAreCounted()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("metrics"), { s("metrics") });
        QVERIFY(key != 0);
        for (int i = 0; i <= MetricsStore::MaxCountersPerProcess; ++i) // 10,001 names
            store.setMetric(key, s("counter.%1").arg(i), false, double(i));
        for (int i = 0; i <= MetricsStore::MaxGaugesPerProcess; ++i)
            store.setMetric(key, s("gauge.%1").arg(i), true, double(i));
        store.setMetric(key, s("counter.0"), false, 42.0); // held: updated, not refused
        store.setMetric(key, s("gauge.0"), true, 43.0);
        const MetricsStore::Refusals r = store.refusals();
        QCOMPARE(r.counterLimit, quint64(1));
        QCOMPARE(r.gaugeLimit, quint64(1));
        const ProcessInfo p = *store.process(key);
        QCOMPARE(p.counters.size(), qsizetype(MetricsStore::MaxCountersPerProcess));
        QCOMPARE(p.gauges.size(), qsizetype(MetricsStore::MaxGaugesPerProcess));
        QVERIFY(!p.counters.contains(s("counter.10000")));
        QVERIFY(!p.gauges.contains(s("gauge.10000")));
        QCOMPARE(p.counters.value(s("counter.0")), 42.0);
        QCOMPARE(p.gauges.value(s("gauge.0")), 43.0);
        QCOMPARE(p.refusedValues, quint64(2));
        QVERIFY2(p.lastProblem.contains(s("gauge.10000")), qPrintable(p.lastProblem));
        QVERIFY(p.drops() >= 2);
        const QByteArray text = MetricsEndpoint::render(store);
        QCOMPARE(metricValue(text, "perfdash_refused_total{reason=\"counter_limit\"}"), 1.0);
        QCOMPARE(metricValue(text, "perfdash_refused_total{reason=\"gauge_limit\"}"), 1.0);
    }

    void thousandsOfNamesStaySmall_data()
    {
        QTest::addColumn<int>("names");
        QTest::newRow("3000 one-event names") << 3000;
        QTest::newRow("6000 names: over the limit") << 6000;
        if (longRun())
            QTest::newRow("20000 one-event names") << 20000;
    }

    /// Point 3: each name seen once must cost kilobytes; past the per-process limit new names fold
    /// into one overflow row, counted.
    void thousandsOfNamesStaySmall()
    {
        QFETCH(int, names);
        Dashboard d("names.sock");
        QVERIFY2(d.listen(), qPrintable(d.error));
        const int fd = connectUnix(d.path);
        QVERIFY(fd >= 0);
        QByteArray lines = "{\"type\":\"hello\",\"version\":1,\"name\":\"names\"}\n";
        for (int i = 0; i < names; ++i)
            lines += "{\"type\":\"op\",\"name\":\"GET /users/" + QByteArray::number(i)
                + "\",\"duration_us\":" + QByteArray::number(10 + i % 500) + "}\n";
        QVERIFY(sendAll(fd, lines));
        const auto total = [&] {
            for (const ProcessInfo& p : d.store.processes()) {
                if (p.name == s("names"))
                    return p.operations;
            }
            return quint64(0);
        };
        QTRY_COMPARE_WITH_TIMEOUT(total(), quint64(names), 30'000); // folded ones too: nothing is lost
        const ProcessInfo p = d.store.processes().constFirst();
        const auto monitor = d.store.sharedMonitor(p.key);
        const int kept = std::min(names, MetricsStore::MaxOperationsPerProcess);
        const QStringList operations = monitor->operations();
        QCOMPARE(operations.size(), qsizetype(kept + (names > kept ? 1 : 0)));
        if (names > kept) {
            QVERIFY(operations.contains(MetricsStore::overflowOperationName()));
            QCOMPARE(monitor->stats(MetricsStore::overflowOperationName())->count, quint64(names - kept));
            QCOMPARE(p.droppedOperations, quint64(names - kept));
        }
        std::size_t bytes = 0;
        for (const QString& name : operations)
            bytes += monitor->memoryBytes(name);
        qInfo("%d names: %.1f MiB held (%zu bytes per name)", names, double(bytes) / 1048576.0,
            bytes / std::size_t(operations.size()));
        // The target: 3,000 one-event operations under 30 MB, i.e. 10 KB each.
        QVERIFY2(bytes / std::size_t(operations.size()) < 10'000,
            qPrintable(s("%1 bytes per operation").arg(bytes / std::size_t(operations.size()))));
        ::close(fd);
    }
};

QTEST_GUILESS_MAIN(TestLoad)
#include "tst_load.moc"
