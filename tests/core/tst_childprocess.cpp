// SPDX-License-Identifier: GPL-3.0-or-later
// The programs perfdash starts end when it does, however it ends: after `kill -9` of perfdash, the
// --demo children lived on with parent 1. The test process is a child subreaper, so that those
// orphans become its children: it sees whether they end, reaps them, and kills what outlived.
#include "core/childprocess.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QProcess>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <cerrno>
#include <csignal>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/// The parent pid and the name in /proc/PID/stat; -1 when the process is gone.
std::pair<qint64, QByteArray> parentAndName(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return { -1, {} };
    const QByteArray line = stat.readAll();
    const qsizetype open = line.indexOf('('), close = line.lastIndexOf(')');
    if (open < 0 || close < open)
        return { -1, {} };
    const QList<QByteArray> fields = line.mid(close + 2).split(' '); // state, ppid, ...
    if (fields.size() < 2 || fields[0] == "Z")
        return { -1, {} }; // a zombie has ended
    return { fields[1].toLongLong(), line.mid(open + 1, close - open - 1) };
}

/// The live children of @p parent named @p name.
QList<qint64> childrenOf(qint64 parent, const QByteArray& name)
{
    QList<qint64> found;
    const QStringList entries = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& entry : entries) {
        bool ok = false;
        const qint64 pid = entry.toLongLong(&ok);
        if (!ok)
            continue;
        const auto [ppid, comm] = parentAndName(pid);
        if (ppid == parent && comm == name)
            found.append(pid);
    }
    return found;
}

/// Ended: reaped here (this process is the orphans' subreaper), or no longer there.
bool ended(qint64 pid)
{
    const pid_t reaped = ::waitpid(pid_t(pid), nullptr, WNOHANG);
    if (reaped == pid_t(pid))
        return true;
    return parentAndName(pid).first < 0;
}
} // namespace

class TestChildProcess : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { QVERIFY(::prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); }

    void childrenEndWithPerfdash_data()
    {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<QByteArray>("child");
        QTest::addColumn<int>("count");
        QTest::newRow("--demo headless") << QStringList { s("--headless"), s("--quiet"), s("--demo") }
                                         << QByteArray("perfdash-demo") << 2;
        QTest::newRow("--demo in the window") << QStringList { s("--demo") } << QByteArray("perfdash-demo") << 2;
        QTest::newRow("-- COMMAND") << QStringList { s("--headless"), s("--quiet"), s("--"), s("sleep"), s("600") }
                                    << QByteArray("sleep") << 1;
    }

    /// Guards against: `kill -9` of perfdash left its --demo children running, with parent 1.
    void childrenEndWithPerfdash()
    {
        QFETCH(QStringList, arguments);
        QFETCH(QByteArray, child);
        QFETCH(int, count);
        QTemporaryDir dir;
        QProcess perfdash;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.insert(s("QT_QPA_PLATFORM"), s("offscreen"));
        perfdash.setProcessEnvironment(env);
        perfdash.setProcessChannelMode(QProcess::ForwardedErrorChannel);
        perfdash.start(QCoreApplication::applicationDirPath() + s("/perfdash"),
            QStringList { s("--socket"), dir.filePath(s("children.sock")) } + arguments);
        QVERIFY(perfdash.waitForStarted(30'000));
        QList<qint64> children;
        const auto cleanUp = qScopeGuard([&] {
            perfdash.kill();
            perfdash.waitForFinished(30'000);
            for (qint64 pid : std::as_const(children)) {
                if (!ended(pid)) { // outlived perfdash: the failure; do not leave it behind
                    ::kill(pid_t(pid), SIGKILL);
                    ::waitpid(pid_t(pid), nullptr, 0);
                }
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT((children = childrenOf(perfdash.processId(), child)).size() == count, 30'000);

        ::kill(pid_t(perfdash.processId()), SIGKILL); // no clean-up of its own can run
        QVERIFY(perfdash.waitForFinished(30'000));
        for (qint64 pid : std::as_const(children))
            QTRY_VERIFY2_WITH_TIMEOUT(ended(pid), qPrintable(s("child %1 outlived perfdash").arg(pid)), 20'000);
    }

    /// What perfdash relies on, on its own: a child started through endWithParent() ends when the
    /// process that started it is killed; one started without lives on.
    void endWithParentTiesTheChildToItsParent()
    {
        int report[2];
        QVERIFY(::pipe(report) == 0);
        const pid_t parent = ::fork();
        if (parent == 0) { // a parent of its own: starts two children, then is killed
            ::close(report[0]);
            qint64 pids[2] = {};
            QProcess tied, free;
            childprocess::endWithParent(tied);
            tied.start(s("sleep"), { s("600") });
            free.start(s("sleep"), { s("600") });
            if (!tied.waitForStarted(30'000) || !free.waitForStarted(30'000))
                ::_exit(1);
            pids[0] = tied.processId();
            pids[1] = free.processId();
            (void)!::write(report[1], pids, sizeof pids);
            ::kill(::getpid(), SIGKILL); // ~QProcess, which would stop them, never runs
        }
        ::close(report[1]);
        qint64 pids[2] = {};
        const ssize_t got = ::read(report[0], pids, sizeof pids);
        ::close(report[0]);
        int status = 0;
        QCOMPARE(::waitpid(parent, &status, 0), parent);
        QCOMPARE(got, ssize_t(sizeof pids));
        const auto cleanUp = qScopeGuard([&] {
            for (qint64 pid : pids) {
                if (!ended(pid)) {
                    ::kill(pid_t(pid), SIGKILL);
                    ::waitpid(pid_t(pid), nullptr, 0);
                }
            }
        });
        QTRY_VERIFY_WITH_TIMEOUT(ended(pids[0]), 20'000);
        QVERIFY(!ended(pids[1])); // the kernel's doing, not the sleep's: the other one is still there
    }
};

QTEST_GUILESS_MAIN(TestChildProcess)
#include "tst_childprocess.moc"
