// SPDX-License-Identifier: GPL-3.0-or-later
// Ingest through a real socket: the client library and NDJSON in, the store and CSV out.
#include "core/csvexport.h"
#include "core/csvwriter.h"
#include "core/metricsstore.h"
#include "http/metricsendpoint.h"
#include "http/refusalsummary.h"
#include "ipc/ingestserver.h"
#include "ipc/protocol.h"

#include <perfdash/perfdash.hpp>

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLocalSocket>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>
#include <QTimer>
#include <QtEndian>

#include <cstring>
#include <random>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

std::optional<ProcessInfo> findProcess(const MetricsStore& store, const QString& name)
{
    for (const ProcessInfo& p : store.processes()) {
        if (p.name == name)
            return p;
    }
    return std::nullopt;
}

quint64 countOf(const MetricsStore& store, const QString& process, const QString& operation)
{
    const auto p = findProcess(store, process);
    if (!p)
        return 0;
    const auto st = store.sharedMonitor(p->key)->stats(operation);
    return st ? st->count : 0;
}

QString helper()
{
    return QCoreApplication::applicationDirPath() + s("/perfdash_test_client");
}

bool startHelper(QProcess& process, const QString& socketPath, const QStringList& args, const QByteArray& firstLine)
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(s("PERFDASH_SOCKET"), socketPath);
    env.insert(s("PERFDASH_NAME"), s("helper-") + args.constFirst());
    process.setProcessEnvironment(env);
    process.start(helper(), args);
    if (!process.waitForStarted(30'000))
        return false;
    while (!process.canReadLine()) {
        if (!process.waitForReadyRead(60'000))
            return false;
    }
    return process.readLine().trimmed() == firstLine;
}

/// A child that becomes nobody (uid 65534), connects to @p path, sends @p lines and reads until the
/// connection ends: exit status 0, 10 when it could not become nobody, 11 when it could not connect.
pid_t connectAsNobody(const QString& path, const char* lines)
{
    const QByteArray native = QFile::encodeName(path);
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(10);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr {};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, native.constData(), sizeof addr.sun_path - 1);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
            ::_exit(11);
        // The refusal may come before this is written: a failed send is part of being refused.
        (void)::send(fd, lines, std::strlen(lines), MSG_NOSIGNAL);
        char buffer[64];
        while (::read(fd, buffer, sizeof buffer) > 0) { }
        ::_exit(0);
    }
    return child;
}

/// QProcess::waitForFinished() is false for a process that has already finished.
bool waitFinished(QProcess& process)
{
    return process.state() == QProcess::NotRunning || process.waitForFinished(60'000);
}

double exactQuantile(std::vector<quint64> sorted, double q)
{
    return double(sorted[std::size_t(std::max(1.0, std::ceil(q * double(sorted.size()) - 1e-9))) - 1]);
}

/// A server and its store on their own socket path.
struct Dashboard
{
    MetricsStore store;
    IngestServer server { &store };
    bool listen(const QString& path)
    {
        QString error;
        const bool ok = server.listen(path, &error);
        if (!ok)
            qWarning("%s", qPrintable(error));
        return ok;
    }
};

/// The helper run with @p args on @p path while no dashboard is there (it says @p firstLine once it
/// has recorded); then @p late listens there and the helper runs to its end. The words of its last
/// line; none, with a warning, when a step failed or it exited with another status than 0.
QList<QByteArray> runBeforeTheDashboard(
    Dashboard& late, const QString& path, const QStringList& args, const QByteArray& firstLine)
{
    QProcess client;
    if (!startHelper(client, path, args, firstLine)) {
        qWarning("the helper did not start and say \"%s\"", firstLine.constData());
        return {};
    }
    if (!late.listen(path) || !waitFinished(client))
        return {};
    if (client.exitCode() != 0) {
        qWarning("the helper exited with %d", client.exitCode());
        return {};
    }
    return client.readAllStandardOutput().trimmed().split(' ');
}
} // namespace

class TestIngest : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    QString m_path;
    std::unique_ptr<Dashboard> m_main;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_path = m_dir.filePath(s("main.sock"));
        // Before the first call into the client library, which reads it once.
        qputenv("PERFDASH_SOCKET", QFile::encodeName(m_path));
        qputenv("PERFDASH_NAME", "tst_ingest");
        m_main = std::make_unique<Dashboard>();
        QVERIFY(m_main->listen(m_path));
        struct stat st
        {
        };
        QCOMPARE(::stat(QFile::encodeName(m_path).constData(), &st), 0);
        QCOMPARE(st.st_mode & 0777, 0600u);
    }

    void cleanupTestCase() { m_main.reset(); }

    void fourThreadsExactCountsAndPercentiles()
    {
        constexpr int Threads = 4, PerThread = 25'000;
        const perfdash::OpId op = perfdash::operation("exact.op");
        std::vector<std::vector<quint64>> values(Threads);
        QList<QThread*> threads;
        for (int t = 0; t < Threads; ++t) {
            std::mt19937_64 rng(quint64(t) + 1);
            std::lognormal_distribution<double> dist(std::log(3e5), 1.1);
            for (int i = 0; i < PerThread; ++i)
                values[std::size_t(t)].push_back(quint64(dist(rng)) + 1);
            threads.append(QThread::create([&values, op, t] {
                int i = 0;
                for (quint64 v : values[std::size_t(t)])
                    perfdash::record(op, v, ++i % 50 != 0);
            }));
            threads.last()->start();
        }
        for (QThread* t : threads) {
            QVERIFY(t->wait(60'000));
            delete t;
        }
        QCOMPARE(perfdash::flush(20'000), PERFDASH_OK);
        QTRY_COMPARE_WITH_TIMEOUT(
            countOf(m_main->store, s("tst_ingest"), s("exact.op")), quint64(Threads * PerThread), 30'000);

        const QString csvPath = m_dir.filePath(s("stats.csv"));
        const auto statistics = m_main->store.statistics();
        QVERIFY(csvexport::writeFile(
            csvPath, [&](CsvWriter& csv) { csvexport::writeStatistics(csv, statistics); }, nullptr));
        QFile file(csvPath);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QStringList row;
        for (const QByteArray& line : file.readAll().split('\n')) {
            if (line.contains(",exact.op,"))
                row = QString::fromUtf8(line.trimmed()).split(u',');
        }
        QCOMPARE(row.size(), 18); // cpu_us and cpu_share, empty: not profiled; total_us at the end
        QVERIFY(row[15].isEmpty() && row[16].isEmpty());
        QCOMPARE(row[0].toLongLong(), QCoreApplication::applicationPid());
        QCOMPARE(row[3], QString::number(Threads * PerThread));
        QCOMPARE(row[4], QString::number(Threads * PerThread / 50));
        std::vector<quint64> all;
        for (const auto& v : values)
            all.insert(all.end(), v.begin(), v.end());
        std::sort(all.begin(), all.end());
        QCOMPARE(row[6].toDouble(), double(all.front()) / 1000.0);
        QCOMPARE(row[13].toDouble(), double(all.back()) / 1000.0);
        // total_us: the sum of every duration (exact: the histograms keep the sum).
        double sumNs = 0;
        for (quint64 v : all)
            sumNs += double(v);
        QVERIFY2(std::abs(row[17].toDouble() - sumNs / 1000.0) <= 0.001 + sumNs / 1000.0 * 1e-12,
            qPrintable(QStringLiteral("total_us %1, the sum %2").arg(row[17]).arg(sumNs / 1000.0, 0, 'f', 3)));
        const QList<std::pair<int, double>> percentiles { { 8, 0.5 }, { 9, 0.9 }, { 10, 0.95 }, { 11, 0.99 },
            { 12, 0.999 } };
        for (const auto& [column, q] : percentiles) {
            const double exact = exactQuantile(all, q) / 1000.0;
            const double got = row[column].toDouble();
            QVERIFY2(std::abs(got - exact) / exact < 0.01,
                qPrintable(QStringLiteral("q=%1 exact=%2 got=%3").arg(q).arg(exact).arg(got)));
        }
    }

    void metadataTravelsWithRawEvents()
    {
        // Every operation is slow for a moment, so each goes as a raw event with its metadata.
        perfdash::setSlowThresholdNs(1);
        perfdash::record(
            perfdash::operation("meta.record"), 5'000'000, false, { { "route", "/users/:id" }, { "status", "503" } });
        {
            perfdash::Scope scope("meta.scope");
            scope.meta("table", "orders");
        }
        perfdash::setSlowThresholdNs(100'000'000);
        QCOMPARE(perfdash::flush(20'000), PERFDASH_OK);
        const auto sampleOf = [&](const QString& operation) -> std::optional<OperationSample> {
            const auto p = findProcess(m_main->store, s("tst_ingest"));
            const QList<OperationSample> samples
                = p ? m_main->store.sharedMonitor(p->key)->samples(operation) : QList<OperationSample> {};
            return samples.isEmpty() ? std::nullopt : std::optional(samples.constLast());
        };
        QTRY_VERIFY_WITH_TIMEOUT(sampleOf(s("meta.record")) && sampleOf(s("meta.scope")), 30'000);
        const OperationSample recorded = *sampleOf(s("meta.record"));
        QCOMPARE(recorded.durationNs, quint64(5'000'000));
        QVERIFY(!recorded.ok);
        QCOMPARE(recorded.metadata.value(s("route")).toString(), s("/users/:id"));
        QCOMPARE(recorded.metadata.value(s("status")).toString(), s("503"));
        QCOMPARE(sampleOf(s("meta.scope"))->metadata.value(s("table")).toString(), s("orders"));
    }

    void ndjsonClient()
    {
        QLocalSocket socket;
        socket.connectToServer(m_path);
        QVERIFY(socket.waitForConnected(10'000));
        QByteArray data = "{\"type\":\"hello\",\"version\":1,\"pid\":"
            + QByteArray::number(QCoreApplication::applicationPid()) + ",\"name\":\"ndjson-client\"}\n";
        std::vector<quint64> durations;
        for (int i = 1; i <= 1000; ++i) {
            durations.push_back(quint64(i) * 1000);
            data += "{\"type\":\"op\",\"name\":\"node.handler\",\"duration_us\":" + QByteArray::number(i)
                + ",\"ok\":" + (i % 20 == 0 ? "false" : "true") + ",\"meta\":{\"route\":\"/x\"}}\n";
        }
        data += "{\"type\":\"memory\",\"rss_bytes\":52428800,\"heap_bytes\":31457280}\n";
        data += "{\"type\":\"drops\",\"operations\":15}\n"; // what the client could not queue
        QCOMPARE(socket.write(data), data.size());
        QVERIFY(socket.waitForBytesWritten(10'000));
        QTRY_COMPARE_WITH_TIMEOUT(countOf(m_main->store, s("ndjson-client"), s("node.handler")), quint64(1000), 30'000);
        const auto p = *findProcess(m_main->store, s("ndjson-client"));
        const auto st = *m_main->store.sharedMonitor(p.key)->stats(s("node.handler"));
        QCOMPARE(st.errorCount, quint64(50));
        QVERIFY(std::abs(double(st.p99Ns) - 990'000.0) / 990'000.0 < 0.01);
        QCOMPARE(st.maxNs, quint64(1'000'000));
        QTRY_COMPARE(m_main->store.process(p.key)->heapBytes, qint64(31457280));
        QTRY_COMPARE(m_main->store.process(p.key)->lostOperations, quint64(15));
        socket.disconnectFromServer();
        QTRY_COMPARE_WITH_TIMEOUT(m_main->store.process(p.key)->state, ProcessInfo::State::Exited, 10'000);
    }

    void closeCountsWhatWasAlreadySent()
    {
        // A command that flushed and exited: its data is in the kernel, maybe not yet accepted.
        // close() is synchronous, so everything sent must be counted when it returns.
        const QString path = m_dir.filePath(s("close.sock"));
        Dashboard d;
        QVERIFY(d.listen(path));
        QLocalSocket socket;
        socket.connectToServer(path);
        QVERIFY(socket.waitForConnected(10'000));
        QByteArray data = "{\"type\":\"hello\",\"version\":1,\"pid\":1,\"name\":\"short-lived\"}\n";
        for (int i = 1; i <= 500; ++i)
            data += "{\"type\":\"op\",\"name\":\"last.words\",\"duration_us\":" + QByteArray::number(i) + "}\n";
        QCOMPARE(socket.write(data), data.size());
        QVERIFY(socket.waitForBytesWritten(10'000));
        socket.disconnectFromServer();
        d.server.close();
        QCOMPARE(countOf(d.store, s("short-lived"), s("last.words")), quint64(500));
    }

    void clientStartedBeforeServer()
    {
        const QString path = m_dir.filePath(s("late.sock"));
        QProcess client;
        QVERIFY(startHelper(client, path, { s("early"), s("5000") }, "recorded"));
        Dashboard late; // appears after the client recorded everything
        QVERIFY(late.listen(path));
        QTRY_COMPARE_WITH_TIMEOUT(countOf(late.store, s("helper-early"), s("early.op")), quint64(5000), 30'000);
        QVERIFY(waitFinished(client));
        QCOMPARE(client.exitCode(), 0);
        const auto p = *findProcess(late.store, s("helper-early"));
        QCOMPARE(late.store.sharedMonitor(p.key)->stats(s("early.op"))->errorCount, quint64(500));
    }

    /// The kernel's pid, not the hello's; out-of-range values are refused with a reason.
    void helloCannotPoseAsAnotherPid()
    {
        const QString path = m_dir.filePath(s("pose.sock"));
        Dashboard d;
        QVERIFY(d.listen(path));
        const quint64 attached = d.store.attachPid(QCoreApplication::applicationPid());
        QVERIFY(attached);
        QLocalSocket socket;
        socket.connectToServer(path);
        QVERIFY(socket.waitForConnected(10'000));
        socket.write("{\"type\":\"hello\",\"version\":1,\"pid\":1,\"name\":\"posing\"}\n"
                     "{\"type\":\"op\",\"name\":\"a\",\"duration_us\":1}\n");
        QVERIFY(socket.waitForBytesWritten(10'000));
        QTRY_VERIFY_WITH_TIMEOUT(findProcess(d.store, s("posing")).has_value(), 30'000);
        QCOMPARE(findProcess(d.store, s("posing"))->pid, qint64(QCoreApplication::applicationPid()));
        for (const ProcessInfo& p : d.store.processes())
            QVERIFY2(p.pid != 1, "a client posed as pid 1");
        QCOMPARE(d.store.process(attached)->name, s("posing")); // its own attached entry: the same process
    }

    void outOfRangeValuesAreRefusedWithAReason_data()
    {
        QTest::addColumn<QByteArray>("line");
        QTest::addColumn<QString>("reason");
        QTest::newRow("duration_us 9.2e15")
            << QByteArray("{\"type\":\"op\",\"name\":\"a\",\"duration_us\":9.2e15}") << s("duration_us");
        QTest::newRow("duration_us 1e300")
            << QByteArray("{\"type\":\"op\",\"name\":\"a\",\"duration_us\":1e300}") << s("duration_us");
        QTest::newRow("rss_bytes 1e300") << QByteArray("{\"type\":\"memory\",\"rss_bytes\":1e300}") << s("rss_bytes");
        QTest::newRow("ts_us 1e300") << QByteArray("{\"type\":\"op\",\"name\":\"a\",\"duration_us\":1,\"ts_us\":1e300}")
                                     << s("ts_us");
    }
    void outOfRangeValuesAreRefusedWithAReason()
    {
        QFETCH(QByteArray, line);
        QFETCH(QString, reason);
        const QString path = m_dir.filePath(s("range.sock"));
        Dashboard d;
        QVERIFY(d.listen(path));
        QLocalSocket socket;
        socket.connectToServer(path);
        QVERIFY(socket.waitForConnected(10'000));
        socket.write("{\"type\":\"hello\",\"version\":1,\"name\":\"range\"}\n" + line
            + "\n{\"type\":\"op\",\"name\":\"after\",\"duration_us\":2}\n");
        QVERIFY(socket.waitForBytesWritten(10'000));
        QTRY_COMPARE_WITH_TIMEOUT(countOf(d.store, s("range"), s("after")), quint64(1), 30'000);
        const ProcessInfo p = *findProcess(d.store, s("range"));
        QCOMPARE(p.malformed, quint64(1));
        QVERIFY2(p.lastProblem.contains(reason), qPrintable(p.lastProblem));
        QCOMPARE(countOf(d.store, s("range"), s("a")), quint64(0)); // not recorded as 0 ns
        QCOMPARE(p.rssBytes < (qint64(1) << 48), true);
    }

    /// Point 8: a symlinked socket directory was chmodded and used.
    void symlinkedSocketDirectoryIsRefused()
    {
        QTemporaryDir elsewhere;
        const QString runtime = m_dir.filePath(s("runtime"));
        QVERIFY(QDir().mkpath(runtime));
        QVERIFY(QFile::link(elsewhere.path(), runtime + s("/perfdash")));
        QFile::setPermissions(elsewhere.path(),
            QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner | QFileDevice::ReadGroup
                | QFileDevice::ExeGroup | QFileDevice::ReadOther | QFileDevice::ExeOther);
        const QByteArray oldSocket = qgetenv("PERFDASH_SOCKET"), oldRuntime = qgetenv("XDG_RUNTIME_DIR");
        qunsetenv("PERFDASH_SOCKET");
        qputenv("XDG_RUNTIME_DIR", QFile::encodeName(runtime));
        MetricsStore store;
        IngestServer server(&store);
        QString error;
        const bool listened = server.listen(IngestServer::defaultSocketPath(), &error);
        qputenv("PERFDASH_SOCKET", oldSocket);
        qputenv("XDG_RUNTIME_DIR", oldRuntime);
        QVERIFY(!listened);
        QVERIFY2(error.contains(s("symbolic link")), qPrintable(error));
        struct stat st
        {
        };
        QVERIFY(::stat(QFile::encodeName(elsewhere.path()).constData(), &st) == 0);
        QCOMPARE(st.st_mode & 0777, mode_t(0755)); // not chmodded through the link
    }

    void clientDropsAreCountedInOperations()
    {
        // A client whose history overflowed before any dashboard came: what arrived and what it
        // says it gave up add up to what it recorded.
        const QString path = m_dir.filePath(s("overflow.sock"));
        Dashboard late;
        const QList<QByteArray> words = runBeforeTheDashboard(late, path, { s("overflow") }, "overflowed");
        QCOMPARE(words.size(), 4);
        const quint64 recorded = words[1].toULongLong(), dropped = words[3].toULongLong();
        QVERIFY2(dropped > 0 && dropped < recorded, words.join(' ').constData());
        QTRY_COMPARE_WITH_TIMEOUT(
            findProcess(late.store, s("helper-overflow")).value_or(ProcessInfo {}).lostOperations, dropped, 30'000);
        late.server.close(); // everything sent is applied
        const ProcessInfo p = *findProcess(late.store, s("helper-overflow"));
        QCOMPARE(p.operations + p.lostOperations, recorded);
        QVERIFY(p.drops() >= dropped);
    }

    /// Guards against: a host with a backlog recorded while no dashboard was there exited just after one
    /// came; its exit handler made one non-blocking write and most of the backlog was accounted
    /// nowhere (counted by neither side). Now what the dashboard counts plus what the client says it
    /// gave up at exit is what it recorded, and the dashboard is told the drops.
    void clientExitingWithABacklogLosesNothingSilently()
    {
        const QString path = m_dir.filePath(s("backlog.sock"));
        Dashboard late;
        const QList<QByteArray> words = runBeforeTheDashboard(late, path, { s("exit-backlog") }, "backlog");
        QCOMPARE(words.size(), 6);
        const quint64 recorded = words[1].toULongLong(), dropped = words[3].toULongLong(),
                      atExit = words[5].toULongLong();
        QCOMPARE(atExit, dropped); // nothing given up before: the backlog fits the client's history
        QTRY_VERIFY_WITH_TIMEOUT(findProcess(late.store, s("helper-exit-backlog")).value_or(ProcessInfo {}).state
                == ProcessInfo::State::Exited,
            30'000);
        late.server.close(); // everything sent is applied
        const ProcessInfo p = *findProcess(late.store, s("helper-exit-backlog"));
        qInfo("recorded %llu: the dashboard counted %llu, the client gave up %llu at exit and said so (%llu)",
            static_cast<unsigned long long>(recorded), static_cast<unsigned long long>(p.operations),
            static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(p.lostOperations));
        QCOMPARE(p.operations + dropped, recorded);
        QCOMPARE(p.lostOperations, dropped);
    }

    void serverRestartLosesNoClient()
    {
        const QString path = m_dir.filePath(s("restart.sock"));
        QProcess client;
        auto first = std::make_unique<Dashboard>();
        QVERIFY(first->listen(path));
        QVERIFY(startHelper(client, path, { s("stream") }, "streaming"));
        QTRY_VERIFY_WITH_TIMEOUT(countOf(first->store, s("helper-stream"), s("stream.op")) > 0, 30'000);
        first.reset(); // the dashboard goes away while the client streams
        QCOMPARE(client.state(), QProcess::Running);
        Dashboard second;
        QVERIFY(second.listen(path));
        QTRY_VERIFY_WITH_TIMEOUT(countOf(second.store, s("helper-stream"), s("stream.op")) > 0, 30'000);
        QCOMPARE(findProcess(second.store, s("helper-stream"))->state, ProcessInfo::State::Live);
        client.closeWriteChannel();
        QVERIFY(waitFinished(client));
        QCOMPARE(client.exitCode(), 0);
    }

    void clientKilledMidFrame()
    {
        QProcess client;
        QVERIFY(startHelper(client, m_path, { s("partial") }, "sent"));
        QTRY_VERIFY_WITH_TIMEOUT(findProcess(m_main->store, s("half-frame")).has_value(), 30'000);
        client.write("x");
        QVERIFY(waitFinished(client));
        QCOMPARE(client.exitStatus(), QProcess::CrashExit);
        QTRY_COMPARE_WITH_TIMEOUT(
            findProcess(m_main->store, s("half-frame"))->state, ProcessInfo::State::Exited, 30'000);
        // The dashboard goes on: another client is served as before.
        const perfdash::OpId op = perfdash::operation("after.kill");
        perfdash::record(op, 1000, true);
        QCOMPARE(perfdash::flush(20'000), PERFDASH_OK);
        QTRY_COMPARE_WITH_TIMEOUT(countOf(m_main->store, s("tst_ingest"), s("after.kill")), quint64(1), 30'000);
    }

    void forkedChildIsASeparateClient()
    {
        const QString path = m_dir.filePath(s("fork.sock"));
        Dashboard dashboard;
        QVERIFY(dashboard.listen(path));
        QProcess parent;
        QVERIFY(startHelper(parent, path, { s("fork") }, "forking"));
        QVERIFY(waitFinished(parent));
        QCOMPARE(parent.exitCode(), 0);
        QTRY_COMPARE_WITH_TIMEOUT(dashboard.store.processes().size(), 2, 30'000);
        QTRY_COMPARE_WITH_TIMEOUT(countOf(dashboard.store, s("helper-fork"), s("parent.op")), quint64(10), 30'000);
        quint64 childCount = 0, parentChildOps = 0;
        qint64 parentPid = 0, childPid = 0;
        for (const ProcessInfo& p : dashboard.store.processes()) {
            const auto childOps = dashboard.store.sharedMonitor(p.key)->stats(s("child.op"));
            const auto parentOps = dashboard.store.sharedMonitor(p.key)->stats(s("parent.op"));
            if (parentOps) {
                parentPid = p.pid;
                parentChildOps = childOps ? childOps->count : 0;
            } else if (childOps) {
                childPid = p.pid;
                childCount = childOps->count;
            }
        }
        QCOMPARE(childCount, quint64(20));
        QCOMPARE(parentChildOps, quint64(0)); // the child's work is not the parent's
        QVERIFY(parentPid != childPid && childPid != 0);
    }

    void malformedInputClosesOnlyItsConnection()
    {
        QSignalSpy problems(&m_main->server, &IngestServer::connectionProblem);
        QLocalSocket bad;
        bad.connectToServer(m_path);
        QVERIFY(bad.waitForConnected(10'000));
        bad.write("GET / HTTP/1.1\r\n\r\n");
        QVERIFY(bad.waitForDisconnected(10'000));
        QTRY_VERIFY(problems.count() >= 1);
        QVERIFY(problems.constLast().at(0).toString().contains(s("not a perfdash client")));

        QLocalSocket good;
        good.connectToServer(m_path);
        QVERIFY(good.waitForConnected(10'000));
        good.write("{\"type\":\"hello\",\"name\":\"after-garbage\"}\n"
                   "{\"type\":\"op\",\"name\":\"a\",\"duration_us\":3}\n"
                   "this line is not JSON\n"
                   "{\"type\":\"op\",\"name\":\"a\",\"duration_us\":4}\n");
        QTRY_COMPARE_WITH_TIMEOUT(countOf(m_main->store, s("after-garbage"), s("a")), quint64(2), 30'000);
        const auto p = *findProcess(m_main->store, s("after-garbage"));
        QCOMPARE(p.malformed, quint64(1));
        QVERIFY(p.lastProblem.contains(s("line 3")));
        QCOMPARE(p.state, ProcessInfo::State::Live);
    }

    void versionMismatchIsRejectedWithAReason()
    {
        QLocalSocket socket;
        socket.connectToServer(m_path);
        QVERIFY(socket.waitForConnected(10'000));
        protocol::Hello hello;
        hello.version = 9;
        hello.name = s("from-the-future");
        socket.write(protocol::encodeHello(hello));
        QVERIFY(socket.waitForDisconnected(10'000) || socket.state() == QLocalSocket::UnconnectedState);
        const QByteArray reply = socket.readAll();
        QVERIFY(reply.size() > 9);
        QCOMPARE(quint8(reply[4]), quint8(protocol::FrameType::Reject));
        QVERIFY2(reply.contains("version 9"), reply.constData());
    }

    /// The socket's refusals after accept() were only a line on stderr and a process in state
    /// error: a client of another version (REJECT) and bytes that are not the protocol are counted
    /// in /metrics and the summary, as the refusals before accept() are.
    void connectionsClosedForTheirInputAreCounted()
    {
        const QString path = m_dir.filePath(s("closed.sock"));
        Dashboard d;
        QVERIFY(d.listen(path));
        const auto send = [&](const QByteArray& bytes) {
            QLocalSocket socket;
            socket.connectToServer(path);
            QVERIFY(socket.waitForConnected(10'000));
            socket.write(bytes);
            QVERIFY(socket.waitForDisconnected(10'000) || socket.state() == QLocalSocket::UnconnectedState);
        };
        protocol::Hello future;
        future.version = 9;
        future.name = s("from-the-future");
        send(protocol::encodeHello(future));
        send("{\"type\":\"hello\",\"version\":7,\"name\":\"ndjson-future\"}\n");
        send("GET / HTTP/1.1\r\n\r\n");
        QTRY_COMPARE_WITH_TIMEOUT(
            d.server.stats().rejectedVersion + d.server.stats().closedProtocol, quint64(3), 10'000);
        QCOMPARE(d.server.stats().rejectedVersion, quint64(2));
        QCOMPARE(d.server.stats().closedProtocol, quint64(1));
        const QByteArray text = MetricsEndpoint::render(d.store, &d.server);
        QVERIFY2(text.contains("perfdash_ingest_connections_rejected_total{reason=\"version\"} 2\n"), text.constData());
        QVERIFY2(
            text.contains("perfdash_ingest_connections_rejected_total{reason=\"protocol\"} 1\n"), text.constData());
        const QString summary = refusalSummary(d.store, d.server.stats(), LimitedTcpServer::Stats {});
        QVERIFY2(summary.contains(s("clients of a wrong version 2, connections not speaking the protocol 1")),
            qPrintable(summary));
    }

    void syncIsAnsweredWithTheBytesRead()
    {
        // The client counts what a dashboard that went away never read: the server says, when
        // asked (SYNC), how many bytes of the connection it has read, and once more when it stops.
        const QString path = m_dir.filePath(s("sync.sock"));
        Dashboard d;
        QVERIFY(d.listen(path));
        QLocalSocket socket;
        socket.connectToServer(path);
        QVERIFY(socket.waitForConnected(10'000));
        protocol::Hello hello;
        hello.name = s("syncing");
        LatencyHistogram h;
        h.record(1000);
        QByteArray data = protocol::encodeHello(hello) + protocol::encodeDefineOp(0, s("sync.op"))
            + protocol::encodeHistogram(0, h, 0, 1) + protocol::encodeSync();
        QCOMPARE(socket.write(data), data.size());
        const auto receivedAfter = [&socket](qsizetype at) -> qint64 {
            // Replies: WELCOME, then RECEIVED (u32 length 9, type 0x83, u64 bytes read).
            QByteArray replies;
            while (true) {
                replies += socket.readAll();
                for (qsizetype i = at; i + 13 <= replies.size();) {
                    const auto length = qFromLittleEndian<quint32>(replies.constData() + i);
                    if (quint8(replies[i + 4]) == quint8(protocol::FrameType::Received))
                        return qint64(qFromLittleEndian<quint64>(replies.constData() + i + 5));
                    i += 4 + length;
                }
                if (!socket.waitForReadyRead(10'000))
                    return -1;
            }
        };
        QCOMPARE(receivedAfter(0), qint64(data.size()));
        // Written, not asked about, then the dashboard stops: close() reads it and says so.
        const QByteArray more = protocol::encodeHistogram(0, h, 0, 2);
        QCOMPARE(socket.write(more), more.size());
        QVERIFY(socket.waitForBytesWritten(10'000));
        d.server.close();
        QCOMPARE(countOf(d.store, s("syncing"), s("sync.op")), quint64(2));
        QCOMPARE(receivedAfter(0), qint64(data.size() + more.size()));
    }

    void secondServerOnTheSamePathIsRefused()
    {
        Dashboard second;
        QString error;
        QVERIFY(!second.server.listen(m_path, &error));
        QVERIFY2(error.contains(s("already listening")), qPrintable(error));
    }

    void staleSocketIsReplaced()
    {
        const QString path = m_dir.filePath(s("stale.sock"));
        const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0); // bound, never listening: like a crashed perfdash
        sockaddr_un addr {};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, QFile::encodeName(path).constData(), sizeof addr.sun_path - 1);
        QCOMPARE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
        ::close(fd);
        Dashboard fresh;
        QVERIFY(fresh.listen(path));

        const QString regular = m_dir.filePath(s("regular-file"));
        QFile f(regular);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.close();
        Dashboard refused;
        QString error;
        QVERIFY(!refused.server.listen(regular, &error));
        QVERIFY(error.contains(s("not a socket")));
    }

    void otherUidIsRefused()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to run a client as another user");
        QTemporaryDir open;
        const QString path = open.filePath(s("open.sock"));
        Dashboard dashboard;
        QVERIFY(dashboard.listen(path));
        // Open the file system's doors on purpose: the peer-credential check must still refuse.
        ::chmod(QFile::encodeName(open.path()).constData(), 0755);
        ::chmod(QFile::encodeName(path).constData(), 0666);
        const pid_t child = connectAsNobody(
            path, "{\"type\":\"hello\",\"name\":\"intruder\"}\n{\"type\":\"op\",\"name\":\"x\",\"duration_us\":1}\n");
        // The child's own failure (10: setuid, 11: connect, e.g. a directory on the path it cannot
        // search) is told as such, not as a missing refusal.
        int status = 0;
        bool exited = false;
        QTRY_VERIFY_WITH_TIMEOUT(dashboard.server.stats().refused == 1
                || (!exited && (exited = ::waitpid(child, &status, WNOHANG) == child) && WEXITSTATUS(status) != 0),
            30'000);
        if (!exited)
            QCOMPARE(::waitpid(child, &status, 0), child);
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 0);
        QCOMPARE(dashboard.server.stats().refused, quint64(1));
        QVERIFY(!findProcess(dashboard.store, s("intruder")).has_value());
    }

    /// perfdash printed the refusal of another user's connection twice (a qWarning, then its own line).
    void otherUidRefusalIsSaidOnce()
    {
        if (::geteuid() != 0)
            QSKIP("needs root to run a client as another user");
        QTemporaryDir open;
        const QString path = open.filePath(s("open.sock"));
        QProcess perfdash;
        perfdash.start(QCoreApplication::applicationDirPath() + s("/perfdash"),
            { s("--headless"), s("--quiet"), s("--socket"), path });
        QVERIFY(perfdash.waitForStarted(30'000));
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(path).exists(), 30'000);
        ::chmod(QFile::encodeName(open.path()).constData(), 0755);
        ::chmod(QFile::encodeName(path).constData(), 0666);
        const pid_t child = connectAsNobody(path, "{\"type\":\"hello\",\"name\":\"intruder\"}\n");
        int status = 0;
        QCOMPARE(::waitpid(child, &status, 0), child);
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 0);
        QString err;
        QTRY_VERIFY_WITH_TIMEOUT(
            (err += QString::fromUtf8(perfdash.readAllStandardError())).contains(s("uid 65534")), 30'000);
        perfdash.terminate();
        QVERIFY(perfdash.waitForFinished(30'000));
        err += QString::fromUtf8(perfdash.readAllStandardError());
        QCOMPARE(err.count(s("uid 65534")), 1);
        QVERIFY2(err.contains(s("other uid 1")), qPrintable(err)); // and counted in the end summary
    }

    void trickleClientDoesNotDisturbOthers()
    {
        // One byte at a time, 20 ms apart (a slow client), while another client streams normally.
        const QByteArray line
            = "{\"type\":\"hello\",\"name\":\"trickle\"}\n{\"type\":\"op\",\"name\":\"slowly\",\"duration_us\":7}\n";
        QLocalSocket trickle;
        trickle.connectToServer(m_path);
        QVERIFY(trickle.waitForConnected(10'000));
        qsizetype sent = 0;
        QTimer drip;
        connect(&drip, &QTimer::timeout, this, [&] {
            if (sent < line.size())
                trickle.write(line.mid(sent++, 1));
        });
        drip.start(20);
        const perfdash::OpId op = perfdash::operation("while.trickling");
        for (int i = 0; i < 100; ++i)
            perfdash::record(op, 1000, true);
        QCOMPARE(perfdash::flush(20'000), PERFDASH_OK);
        QTRY_COMPARE_WITH_TIMEOUT(countOf(m_main->store, s("tst_ingest"), s("while.trickling")), quint64(100), 30'000);
        QVERIFY(sent < line.size()); // the others were served while the trickle was still coming
        QTRY_COMPARE_WITH_TIMEOUT(countOf(m_main->store, s("trickle"), s("slowly")), quint64(1), 60'000);
    }

    void dashboardKilledAndRestarted()
    {
        // A real perfdash, killed with SIGKILL while a client streams, then started again.
        const QString path = m_dir.filePath(s("killed.sock"));
        const QString perfdash = QCoreApplication::applicationDirPath() + s("/perfdash");
        const QString csv = m_dir.filePath(s("after-restart.csv"));
        QProcess first;
        first.start(perfdash, { s("--headless"), s("--quiet"), s("--socket"), path });
        QVERIFY(first.waitForStarted(10'000));
        QTRY_VERIFY_WITH_TIMEOUT(QFile::exists(path), 30'000);
        QProcess client;
        QVERIFY(startHelper(client, path, { s("stream") }, "streaming"));
        first.kill(); // no goodbye, no cleanup: the socket file stays behind
        QVERIFY(first.waitForFinished(10'000));
        QVERIFY(QFile::exists(path));
        QCOMPARE(client.state(), QProcess::Running); // the client goes on
        QProcess second;
        second.start(perfdash,
            { s("--headless"), s("--quiet"), s("--socket"), path, s("--duration"), s("4"), s("--export-csv"), csv });
        QVERIFY(second.waitForFinished(60'000));
        QCOMPARE(second.exitCode(), 0); // it replaced the stale socket
        QFile file(csv);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY2(file.readAll().contains(",helper-stream,stream.op,"), "the client reconnected to the new dashboard");
        client.closeWriteChannel();
        QVERIFY(waitFinished(client));
    }

    void disabledClientIsANoOp()
    {
        QProcess client;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(s("PERFDASH_SOCKET"), m_path);
        env.insert(s("PERFDASH_DISABLE"), s("1"));
        env.insert(s("PERFDASH_NAME"), s("disabled-client"));
        client.setProcessEnvironment(env);
        client.start(helper(), { s("early"), s("100") });
        QVERIFY(waitFinished(client));
        QVERIFY(client.readAllStandardOutput().contains("perfdash is disabled"));
        QVERIFY(!findProcess(m_main->store, s("disabled-client")).has_value());
    }
};

QTEST_GUILESS_MAIN(TestIngest)
#include "tst_ingest.moc"
