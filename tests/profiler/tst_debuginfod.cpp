// SPDX-License-Identifier: GPL-3.0-or-later
// Symbols from debuginfod: a stripped program of ours, its debug file served by
// a local debuginfod server (Debian's debuginfod package), fetched off the naming path into the
// cache, then its addresses named again; a server that hangs, one that has nothing and one that
// sends the wrong file.
#include "profiler/debuginfod.h"
#include "profiler/symbolizer.h"

#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QNetworkAccessManager>
#include <QNetworkReply>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;

namespace {

/// The stripped target, running: its pid and the address of its function.
struct Target
{
    QProcess process;
    std::uint64_t function = 0;

    bool start()
    {
        process.start(QStringLiteral(PERFDASH_DEBUGINFOD_TARGET), {});
        if (!process.waitForStarted(10'000))
            return false;
        QByteArray out;
        while (!out.contains("ready") && process.waitForReadyRead(10'000))
            out += process.readAllStandardOutput();
        bool ok = false;
        function = out.split('\n').value(0).trimmed().toULongLong(&ok, 16);
        return ok && function;
    }
    ~Target()
    {
        process.closeWriteChannel();
        if (!process.waitForFinished(10'000))
            process.kill();
    }
};

/// The innermost name @p symbolizer gives @p pc once it is named; empty before.
QString nameOf(Symbolizer& symbolizer, std::uint64_t pc, QString* location = nullptr)
{
    const auto lock = symbolizer.lock();
    const std::vector<std::uint32_t>* frames = symbolizer.framesOf(pc);
    if (!frames || frames->empty())
        return {};
    const ProfileFunction& f = symbolizer.functions().at(frames->front());
    if (location)
        *location = f.location;
    return f.name;
}

/// A server on a free local port that answers each request with @p answer (none: it never answers).
class FakeServer : public QTcpServer
{
public:
    explicit FakeServer(QByteArray answer)
        : m_answer(std::move(answer))
    {
        connect(this, &QTcpServer::newConnection, this, [this] {
            while (QTcpSocket* socket = nextPendingConnection()) {
                connect(socket, &QTcpSocket::readyRead, socket, [this, socket] {
                    socket->readAll();
                    if (!m_answer.isEmpty()) {
                        socket->write(m_answer);
                        socket->disconnectFromHost();
                    }
                });
            }
        });
        listen(QHostAddress::LocalHost, 0);
    }
    QString url() const { return QStringLiteral("http://127.0.0.1:%1").arg(serverPort()); }

private:
    QByteArray m_answer;
};

quint16 freePort()
{
    QTcpServer probe;
    probe.listen(QHostAddress::LocalHost, 0);
    return probe.serverPort();
}

} // namespace

class TestDebuginfod : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase();
    void fetchedFromALocalServer();
    void aHungServerHoldsNothingUp();
    void refusedAndWrongFiles();
    void buildIds();

private:
    QByteArray m_buildId;
};

void TestDebuginfod::initTestCase()
{
    m_buildId = elfBuildId(QStringLiteral(PERFDASH_DEBUGINFOD_TARGET));
    QVERIFY2(!m_buildId.isEmpty(), "the stripped target has a build ID");
    QCOMPARE(elfBuildId(QStringLiteral(PERFDASH_DEBUGINFOD_FILES "/debuginfodtarget.debug")), m_buildId);
}

void TestDebuginfod::buildIds()
{
    QVERIFY(elfBuildId(QStringLiteral("/nonexistent")).isEmpty());
    QTemporaryDir dir;
    QFile text(dir.filePath(QStringLiteral("not-elf")));
    QVERIFY(text.open(QIODevice::WriteOnly) && text.write("hello") == 5);
    text.close();
    QVERIFY(elfBuildId(text.fileName()).isEmpty());
    // A name that is not a build id never reaches a path.
    QCOMPARE(Debuginfod::instance().lookup("../../etc/passwd", QStringLiteral("x")), Debuginfod::State::Failed);
}

void TestDebuginfod::fetchedFromALocalServer()
{
    const QString server = QStandardPaths::findExecutable(QStringLiteral("debuginfod"));
    QVERIFY2(!server.isEmpty(), "Debian's debuginfod package (setup.sh installs it for the tests)");
    Target target;
    QVERIFY(target.start());
    const std::uint64_t pc = target.function + 4;
    QTemporaryDir cache;

    // No server: the stripped program's address is its module and offset.
    Debuginfod::instance().configure({}, cache.path(), 10'000);
    {
        Symbolizer symbolizer(pid_t(target.process.processId()));
        symbolizer.request({ pc });
        QVERIFY(symbolizer.waitIdle(30'000));
        const QString name = nameOf(symbolizer, pc);
        QVERIFY2(name.startsWith(QStringLiteral("perfdash_debuginfod_target+0x")), qPrintable(name));
    }

    // A debuginfod server over the folder that holds the debug file.
    QTemporaryDir data;
    const quint16 port = freePort();
    QProcess debuginfod;
    debuginfod.setProcessChannelMode(QProcess::MergedChannels);
    debuginfod.start(server,
        { QStringLiteral("-F"), QStringLiteral(PERFDASH_DEBUGINFOD_FILES), QStringLiteral("-p"), QString::number(port),
            QStringLiteral("-d"), data.filePath(QStringLiteral("db.sqlite")) });
    QVERIFY(debuginfod.waitForStarted(10'000));
    const QString url = QStringLiteral("http://127.0.0.1:%1").arg(port);
    // Ready once it has scanned the folder: it answers for the build id (GET: it refuses HEAD).
    QNetworkAccessManager network;
    const auto answers = [&] {
        QNetworkReply* reply = network.get(QNetworkRequest(
            QUrl(url + QStringLiteral("/buildid/") + QString::fromLatin1(m_buildId) + QStringLiteral("/debuginfo"))));
        QSignalSpy done(reply, &QNetworkReply::finished);
        if (!reply->isFinished())
            done.wait(5000);
        const int status = reply->attribute(QNetworkRequest::HttpStatusCodeAttribute).toInt();
        reply->deleteLater();
        return status == 200;
    };
    QDeadlineTimer ready(90'000);
    bool served = false;
    while (!served && !ready.hasExpired()) {
        served = answers();
        if (!served)
            QTest::qWait(200); // a poll of the server's state, not a wait for it
    }
    QVERIFY2(served, qPrintable(QString::fromLocal8Bit(debuginfod.readAll())));

    Debuginfod::instance().configure({ QStringLiteral("http://127.0.0.1:1"), url }, cache.path(), 20'000);
    const std::uint64_t before = Debuginfod::instance().status().fetched;
    {
        Symbolizer symbolizer(pid_t(target.process.processId()));
        symbolizer.request({ pc });
        QVERIFY(symbolizer.waitIdle(30'000));
        // Named at once without it (module+offset), then again when the file arrives: the first
        // server refuses the connection, the second has it.
        QString location;
        QTRY_VERIFY_WITH_TIMEOUT(
            nameOf(symbolizer, pc, &location).contains(QStringLiteral("fetchedByBuildId")), 60'000);
        QVERIFY2(location.startsWith(QStringLiteral("debuginfodtarget.cpp:")), qPrintable(location));
        QVERIFY(symbolizer.generation() > 0);
    }
    const Debuginfod::Status s = Debuginfod::instance().status();
    QCOMPARE(s.fetched, before + 1);
    QVERIFY(s.fetching.isEmpty());
    QVERIFY(QFile::exists(cache.filePath(QString::fromLatin1(m_buildId) + QStringLiteral("/debuginfo"))));

    // The cache answers without the server.
    debuginfod.kill();
    debuginfod.waitForFinished(10'000);
    Debuginfod::instance().configure({ url }, cache.path(), 20'000);
    Symbolizer again(pid_t(target.process.processId()));
    again.request({ pc });
    QVERIFY(again.waitIdle(30'000));
    QVERIFY2(nameOf(again, pc).contains(QStringLiteral("fetchedByBuildId")), qPrintable(nameOf(again, pc)));
    QCOMPARE(Debuginfod::instance().status().fetched, before + 1);
}

void TestDebuginfod::aHungServerHoldsNothingUp()
{
    // A server that accepts and never answers: the address is named (without symbols) while the
    // fetch still waits; "fetching" says which module.
    FakeServer hung { QByteArray() };
    Target target;
    QVERIFY(target.start());
    QTemporaryDir cache;
    Debuginfod::instance().configure({ hung.url() }, cache.path(), 60'000);
    Symbolizer symbolizer(pid_t(target.process.processId()));
    symbolizer.request({ target.function + 4 });
    QVERIFY(symbolizer.waitIdle(30'000));
    QVERIFY(nameOf(symbolizer, target.function + 4).startsWith(QStringLiteral("perfdash_debuginfod_target+0x")));
    QVERIFY(Debuginfod::instance().status().fetching.contains(QStringLiteral("perfdash_debuginfod_target")));
}

void TestDebuginfod::refusedAndWrongFiles()
{
    Target target;
    QVERIFY(target.start());
    // Nobody has it: failed, said, not asked again.
    FakeServer missing { QByteArray("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") };
    QTemporaryDir cache;
    Debuginfod::instance().configure({ missing.url() }, cache.path(), 20'000);
    const std::uint64_t failed = Debuginfod::instance().status().failed;
    QCOMPARE(Debuginfod::instance().lookup(m_buildId, QStringLiteral("target")), Debuginfod::State::Fetching);
    QTRY_COMPARE_WITH_TIMEOUT(Debuginfod::instance().status().failed, failed + 1, 30'000);
    QVERIFY2(Debuginfod::instance().status().lastError.contains(QStringLiteral("HTTP 404")),
        qPrintable(Debuginfod::instance().status().lastError));
    QCOMPARE(Debuginfod::instance().lookup(m_buildId, QStringLiteral("target")), Debuginfod::State::Failed);

    // A file that is not the one asked for (another ELF) never enters the cache.
    QFile other(QStringLiteral("/bin/true"));
    QVERIFY(other.open(QIODevice::ReadOnly));
    const QByteArray body = other.readAll();
    FakeServer wrong { QByteArray("HTTP/1.1 200 OK\r\nContent-Length: ") + QByteArray::number(body.size())
        + "\r\nConnection: close\r\n\r\n" + body };
    Debuginfod::instance().configure({ wrong.url() }, cache.path(), 20'000);
    QCOMPARE(Debuginfod::instance().lookup(m_buildId, QStringLiteral("target")), Debuginfod::State::Fetching);
    QTRY_COMPARE_WITH_TIMEOUT(Debuginfod::instance().status().failed, failed + 2, 30'000);
    QVERIFY2(Debuginfod::instance().status().lastError.contains(QStringLiteral("not the ELF of build ID")),
        qPrintable(Debuginfod::instance().status().lastError));
    QVERIFY(!QFile::exists(cache.filePath(QString::fromLatin1(m_buildId) + QStringLiteral("/debuginfo"))));
    QVERIFY(QDir(cache.filePath(QString::fromLatin1(m_buildId))).entryList(QDir::Files | QDir::Hidden).isEmpty());
}

QTEST_GUILESS_MAIN(TestDebuginfod)
#include "tst_debuginfod.moc"
