// SPDX-License-Identifier: GPL-3.0-or-later
// The /proc reader: a fake tree with the names a thread may give itself (parentheses, ") ",
// spaces, nothing, the full 15 bytes), missing, empty and cut files; then the real /proc/self.
#include "core/procfs.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cerrno>
#include <unistd.h>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/// Writes @p data to @p relative below @p root, making the folders on the way.
bool writeFile(const QTemporaryDir& root, const char* relative, const QByteArray& data)
{
    const QString path = root.filePath(s(relative));
    QFile f(path);
    return QDir().mkpath(QFileInfo(path).path()) && f.open(QIODevice::WriteOnly) && f.write(data) == data.size();
}

QByteArray fakeStat(qint64 pid, const QByteArray& comm, char state = 'S')
{
    // Fields 3..52 of proc(5); utime 14 = 250, stime 15 = 50, threads 20 = 3, starttime 22 = 5000,
    // vsize 23 = 104857600, rss 24 = 2560.
    return QByteArray::number(pid) + " (" + comm + ") " + state
        + " 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 5000 104857600 2560"
          " 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
}
} // namespace

class TestProcFs : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void statNames_data();
    void statNames();
    void statBroken_data();
    void statBroken();
    void statMissing();
    void commNames_data();
    void commNames();
    void entries();
    void commandLine();
    void maps();
    void statmAndSysctl();
    void bootTime();
    void realSelf();
};

void TestProcFs::statNames_data()
{
    QTest::addColumn<QByteArray>("comm");
    QTest::newRow("plain") << QByteArray("svc");
    QTest::newRow("close paren and space") << QByteArray("a) b");
    QTest::newRow("looks like the next fields") << QByteArray("x) R 1 2 3");
    QTest::newRow("open paren") << QByteArray("(x");
    QTest::newRow("both") << QByteArray("a) (b");
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("15 bytes") << QByteArray("abcdefghijklmno");
    QTest::newRow("spaces around") << QByteArray(" x ");
}

void TestProcFs::statNames()
{
    QFETCH(QByteArray, comm);
    QTemporaryDir root;
    QVERIFY(writeFile(root, "77/stat", fakeStat(77, comm)));
    QVERIFY(writeFile(root, "77/task/78/stat", fakeStat(78, comm, 'Z')));
    const ProcFs proc(root.path());
    QString error;
    const std::optional<ProcStat> stat = proc.stat(77, &error);
    QVERIFY2(stat, qPrintable(error));
    QCOMPARE(stat->comm, QString::fromUtf8(comm));
    QCOMPARE(stat->state, 'S');
    QVERIFY(!stat->exited());
    QCOMPARE(stat->utimeTicks, quint64(250));
    QCOMPARE(stat->stimeTicks, quint64(50));
    QCOMPARE(stat->threads, 3);
    QCOMPARE(stat->startTicks, quint64(5000));
    QCOMPARE(stat->virtualBytes, qint64(104857600));
    QCOMPARE(stat->rssPages, qint64(2560));

    const std::optional<ProcStat> task = proc.taskStat(77, 78, &error);
    QVERIFY2(task, qPrintable(error));
    QCOMPARE(task->comm, QString::fromUtf8(comm));
    QCOMPARE(task->state, 'Z');
    QVERIFY(task->exited());
}

void TestProcFs::statBroken_data()
{
    QTest::addColumn<QByteArray>("text");
    QTest::newRow("empty") << QByteArray();
    QTest::newRow("garbage") << QByteArray("\x01\x02 not a stat file");
    QTest::newRow("cut in the name") << QByteArray("77 (sv");
    QTest::newRow("cut after the name") << QByteArray("77 (svc)");
    QTest::newRow("too few fields") << QByteArray("77 (svc) S 1 1 1");
    QTest::newRow("one field short") << fakeStat(77, "svc").left(fakeStat(77, "svc").indexOf(" 2560"));
    QTest::newRow("not a number") << fakeStat(77, "svc").replace(" 250 ", " x50 ");
    QTest::newRow("state of two letters") << fakeStat(77, "svc", 'S').replace(") S ", ") SS ");
}

void TestProcFs::statBroken()
{
    QFETCH(QByteArray, text);
    QTemporaryDir root;
    QVERIFY(writeFile(root, "77/stat", text));
    int systemError = -1;
    QString error;
    QVERIFY(!ProcFs(root.path()).stat(77, &systemError, &error));
    QCOMPARE(systemError, 0); // read, but not understood
    QCOMPARE(error, s("unexpected format of %1/77/stat").arg(root.path()));
    QVERIFY(!ProcFs(root.path()).stat(77)); // without anyone to tell
}

void TestProcFs::statMissing()
{
    QTemporaryDir root;
    const ProcFs proc(root.path());
    int systemError = 0;
    QString error;
    QVERIFY(!proc.stat(77, &systemError, &error));
    QCOMPARE(systemError, ENOENT);
    QVERIFY2(error.startsWith(s("cannot read %1/77/stat: ").arg(root.path())), qPrintable(error));
    QVERIFY(!proc.taskStat(77, 78));
    QVERIFY(!proc.exists(77));
    QVERIFY(!proc.ownerUid(77, &error));
    QVERIFY(!error.isEmpty());
    QVERIFY(!proc.tasks(77, &error));
    QVERIFY2(error.startsWith(s("cannot list %1/77/task: ").arg(root.path())), qPrintable(error));
    QVERIFY(!proc.comm(77));
    QVERIFY(!proc.taskComm(77, 78));
    QVERIFY(!proc.commandLine(77));
    QVERIFY(!proc.maps(77));
}

void TestProcFs::commNames_data()
{
    QTest::addColumn<QByteArray>("file");
    QTest::addColumn<QString>("expected");
    QTest::newRow("plain") << QByteArray("svc\n") << s("svc");
    QTest::newRow("close paren and space") << QByteArray("a) b\n") << s("a) b");
    QTest::newRow("open paren") << QByteArray("(x\n") << s("(x");
    QTest::newRow("empty") << QByteArray("\n") << QString();
    QTest::newRow("15 bytes") << QByteArray("abcdefghijklmno\n") << s("abcdefghijklmno");
    QTest::newRow("spaces kept") << QByteArray(" x \n") << s(" x ");
    QTest::newRow("cut before the newline") << QByteArray("svc") << s("svc");
    QTest::newRow("nothing at all") << QByteArray() << QString();
}

void TestProcFs::commNames()
{
    QFETCH(QByteArray, file);
    QFETCH(QString, expected);
    QTemporaryDir root;
    QVERIFY(writeFile(root, "77/comm", file));
    QVERIFY(writeFile(root, "77/task/78/comm", file));
    const ProcFs proc(root.path());
    QString error;
    const std::optional<QString> comm = proc.comm(77, &error);
    QVERIFY2(comm, qPrintable(error));
    QCOMPARE(*comm, expected);
    QCOMPARE(proc.taskComm(77, 78).value_or(s("unread")), expected);
}

void TestProcFs::entries()
{
    QTemporaryDir root;
    QVERIFY(writeFile(root, "100/stat", fakeStat(100, "a")));
    QVERIFY(writeFile(root, "9/stat", fakeStat(9, "b")));
    QVERIFY(writeFile(root, "9/task/9/stat", fakeStat(9, "b")));
    QVERIFY(writeFile(root, "9/task/12/stat", fakeStat(12, "b")));
    QVERIFY(writeFile(root, "9/task/notatask/stat", ""));
    QVERIFY(writeFile(root, "sys/kernel/pid_max", "4194304\n"));
    QVERIFY(writeFile(root, "self/statm", "1 2 3 4 5 6 7\n"));
    QVERIFY(writeFile(root, "42", "a file, not a process\n"));
    QVERIFY(QDir(root.path()).mkpath(s("12abc")));
    const ProcFs proc(root.path());
    QCOMPARE(proc.root(), root.path());
    QString error;
    QCOMPARE(proc.pids(&error).value_or(QList<qint64>()), QList<qint64>({ 9, 100 }));
    QCOMPARE(proc.tasks(9, &error).value_or(QList<qint64>()), QList<qint64>({ 9, 12 }));
    QVERIFY(!proc.tasks(100, &error)); // no task folder
    QVERIFY(proc.exists(9));
    QCOMPARE(proc.ownerUid(9, &error), std::optional<uint>(::geteuid()));
}

void TestProcFs::commandLine()
{
    QTemporaryDir root;
    QVERIFY(writeFile(root, "77/cmdline",
        QByteArray("svc\0--port\0"
                   "8080\0\0",
            17)));
    QVERIFY(writeFile(root, "78/cmdline", QByteArray())); // a kernel thread
    QVERIFY(writeFile(root, "79/cmdline", QByteArray("a b", 3))); // cut, or rewritten by the process
    const ProcFs proc(root.path());
    QCOMPARE(proc.commandLine(77).value_or(QStringList()), QStringList({ s("svc"), s("--port"), s("8080") }));
    QCOMPARE(proc.commandLine(78), std::optional<QStringList>(QStringList()));
    QCOMPARE(proc.commandLine(79).value_or(QStringList()), QStringList({ s("a b") }));
}

void TestProcFs::maps()
{
    QTemporaryDir root;
    QVERIFY(writeFile(root, "77/maps",
        "55d0c5a00000-55d0c5a21000 r-xp 00001000 fd:01 1234                       /usr/bin/my app\n"
        "55d0c6000000-55d0c6021000 rw-p 00000000 00:00 0                          [heap]\n"
        "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
        "7f0000001000-7f0000002000 r--p 00002000 fd:01 99 /lib/libx.so (deleted)\n"
        "not a mapping at all\n"
        "7f0000003000-7f000000zzzz r--p 00000000 00:00 0 [cut]\n"
        "7f0000003000 r--p 00000000 00:00 0 [no end]\n"
        "7f0000004000-7f0000005000 r--p 0000"));
    QString error;
    const std::optional<QList<ProcMapping>> maps = ProcFs(root.path()).maps(77, &error);
    QVERIFY2(maps, qPrintable(error));
    QCOMPARE(maps->size(), 4);
    const ProcMapping& app = maps->at(0);
    QCOMPARE(app.start, 0x55d0c5a00000ull);
    QCOMPARE(app.end, 0x55d0c5a21000ull);
    QCOMPARE(app.permissions, QByteArray("r-xp"));
    QCOMPARE(app.offset, 0x1000ull);
    QCOMPARE(app.device, QByteArray("fd:01"));
    QCOMPARE(app.inode, 1234ull);
    QCOMPARE(app.path, QByteArray("/usr/bin/my app"));
    QCOMPARE(maps->at(1).path, QByteArray("[heap]"));
    QCOMPARE(maps->at(1).inode, 0ull);
    QCOMPARE(maps->at(2).path, QByteArray());
    QCOMPARE(maps->at(3).path, QByteArray("/lib/libx.so (deleted)"));
    QCOMPARE(maps->at(3).offset, 0x2000ull);
}

void TestProcFs::statmAndSysctl()
{
    QTemporaryDir root;
    QVERIFY(writeFile(root, "self/statm", "2500 640 300 10 0 900 0\n"));
    QVERIFY(writeFile(root, "sys/kernel/perf_event_paranoid", "-1\n"));
    QVERIFY(writeFile(root, "sys/kernel/perf_event_max_sample_rate", "100000\n"));
    QVERIFY(writeFile(root, "sys/kernel/garbage", "two\n"));
    QVERIFY(writeFile(root, "sys/kernel/empty", ""));
    const ProcFs proc(root.path());
    QString error;
    const std::optional<ProcStatm> statm = proc.selfStatm(&error);
    QVERIFY2(statm, qPrintable(error));
    QCOMPARE(statm->sizePages, qint64(2500));
    QCOMPARE(statm->residentPages, qint64(640));
    QCOMPARE(proc.sysctl(s("kernel.perf_event_paranoid")), std::optional<int>(-1));
    QCOMPARE(proc.sysctl(s("kernel.perf_event_max_sample_rate")), std::optional<int>(100000));
    QVERIFY(!proc.sysctl(s("kernel.garbage"), &error));
    QCOMPARE(error, s("unexpected format of %1/sys/kernel/garbage").arg(root.path()));
    QVERIFY(!proc.sysctl(s("kernel.empty")));
    QVERIFY(!proc.sysctl(s("kernel.missing"), &error));
    QVERIFY(error.startsWith(s("cannot read ")));

    QVERIFY(writeFile(root, "self/statm", "2500\n")); // cut after the first field
    QVERIFY(!proc.selfStatm(&error));
    QCOMPARE(error, s("unexpected format of %1/self/statm").arg(root.path()));
    QVERIFY(!proc.selfExecutable(&error)); // no exe link in the fake tree
    QVERIFY(!error.isEmpty());
}

void TestProcFs::bootTime()
{
    QTemporaryDir root;
    const ProcFs proc(root.path());
    QVERIFY(!proc.bootTimeSeconds());
    QVERIFY(writeFile(root, "stat", "cpu 1 2 3\nintr 5\n"));
    QString error;
    QVERIFY(!proc.bootTimeSeconds(&error));
    QCOMPARE(error, s("unexpected format of %1/stat").arg(root.path()));
    QVERIFY(writeFile(root, "stat", "cpu 1 2 3\nbtime 1700000000\nprocesses 9\n"));
    QCOMPARE(proc.bootTimeSeconds(), std::optional<qint64>(1'700'000'000));
}

void TestProcFs::realSelf()
{
    const ProcFs proc;
    const qint64 self = ::getpid();
    QString error;
    const std::optional<ProcStat> stat = proc.stat(self, &error);
    QVERIFY2(stat, qPrintable(error));
    QCOMPARE(stat->state, 'R'); // reading its own stat, it runs
    QVERIFY(stat->threads >= 1);
    QVERIFY(stat->rssPages > 0);
    QVERIFY(stat->virtualBytes > 0);
    QVERIFY(stat->startTicks > 0);
    const std::optional<QString> comm = proc.comm(self, &error);
    QVERIFY2(comm, qPrintable(error));
    QCOMPARE(*comm, stat->comm);
    QCOMPARE(*comm, QCoreApplication::applicationName().left(15));

    const std::optional<QList<qint64>> tasks = proc.tasks(self, &error);
    QVERIFY2(tasks, qPrintable(error));
    QVERIFY(tasks->contains(self));
    QCOMPARE(proc.taskComm(self, self), comm);
    QVERIFY(proc.taskStat(self, self));
    QVERIFY(proc.pids().value_or(QList<qint64>()).contains(self));
    QVERIFY(proc.exists(self));
    QCOMPARE(proc.ownerUid(self), std::optional<uint>(::geteuid()));

    const std::optional<QStringList> arguments = proc.commandLine(self);
    QVERIFY(arguments && !arguments->isEmpty());
    const std::optional<QString> exe = proc.selfExecutable(&error);
    QVERIFY2(exe, qPrintable(error));
    QCOMPARE(*exe, QFileInfo(QCoreApplication::applicationFilePath()).canonicalFilePath());
    const std::optional<QList<ProcMapping>> maps = proc.maps(self, &error);
    QVERIFY2(maps, qPrintable(error));
    QVERIFY(std::any_of(maps->begin(), maps->end(), [&](const ProcMapping& m) {
        return m.inode != 0 && QString::fromUtf8(m.path) == *exe && m.permissions.contains('x');
    }));

    const std::optional<ProcStatm> statm = proc.selfStatm(&error);
    QVERIFY2(statm, qPrintable(error));
    QVERIFY(statm->residentPages > 0 && statm->sizePages >= statm->residentPages);
    QVERIFY(proc.bootTimeSeconds().value_or(0) > 1'000'000'000);
    QVERIFY(proc.sysctl(s("kernel.pid_max")).value_or(0) > 0);
}

QTEST_GUILESS_MAIN(TestProcFs)
#include "tst_procfs.moc"
