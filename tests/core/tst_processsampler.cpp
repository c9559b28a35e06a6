// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/memorymonitor.h"
#include "core/metricsstore.h"
#include "core/processsampler.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>
#include <QThread>

#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace perfdash;
using Status = ProcessSample::Status;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

void writeFile(const QString& path, const QByteArray& data)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(data);
}

QByteArray fakeStat(qint64 pid, const char* comm, char state, quint64 startTicks, quint64 rssPages = 2560)
{
    // Fields 3..24 of proc(5); utime 14, stime 15, threads 20, starttime 22, vsize 23, rss 24.
    return QByteArray::number(pid) + " (" + comm + ") " + state + " 1 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 "
        + QByteArray::number(startTicks) + " 104857600 " + QByteArray::number(rssPages)
        + " 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
}

/// A /proc under @p root with process 77 (its stat written by the test) and @p commandLine.
bool fakeProcess(const QTemporaryDir& root, const QByteArray& commandLine)
{
    if (!QDir(root.path()).mkpath(s("77")))
        return false;
    writeFile(root.filePath(s("stat")), "cpu 1 2 3\nbtime 1700000000\n");
    writeFile(root.filePath(s("77/cmdline")), commandLine);
    return true;
}

bool startMemhog(QProcess& child, int mib)
{
    child.setProgram(QCoreApplication::applicationDirPath() + s("/perfdash_test_memhog"));
    child.setArguments({ QString::number(mib) });
    child.start();
    if (!child.waitForStarted(30'000))
        return false;
    while (!child.canReadLine()) {
        if (!child.waitForReadyRead(60'000))
            return false;
    }
    return child.readLine().trimmed() == "ready";
}
} // namespace

class TestProcessSampler : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void ownProcess()
    {
        ProcessSampler sampler(QCoreApplication::applicationPid());
        const ProcessSample first = sampler.sample();
        QVERIFY2(first.isValid(), qPrintable(first.error));
        QCOMPARE(first.pid, QCoreApplication::applicationPid());
        // comm is cut at 15 characters; the program's file name is whole.
        QCOMPARE(first.name, QFileInfo(QCoreApplication::applicationFilePath()).fileName());
        QVERIFY(first.commandLine.value(0).endsWith(s("tst_processsampler")));
        QVERIFY(first.rssBytes > 1024 * 1024);
        QVERIFY(first.virtualBytes >= first.rssBytes);
        QVERIFY(first.threads >= 1);
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        QVERIFY2(first.startTimeMs <= now + 1000 && first.startTimeMs > now - 3'600'000,
            qPrintable(QString::number(now - first.startTimeMs)));
        QVERIFY(!first.cpuPercent.has_value()); // no interval yet

        // Burn CPU for a while (work, not a sleep), then the interval shows it.
        QElapsedTimer busy;
        busy.start();
        volatile quint64 sink = 0;
        while (busy.elapsed() < 300)
            sink = sink + 1;
        const ProcessSample second = sampler.sample();
        QVERIFY(second.cpuPercent.has_value());
        QVERIFY2(*second.cpuPercent > 10.0 && *second.cpuPercent < 100.0 * QThread::idealThreadCount() + 20,
            qPrintable(QString::number(*second.cpuPercent)));
    }

    void childThatAllocates100MB()
    {
        QProcess child;
        QVERIFY2(startMemhog(child, 100), qPrintable(child.errorString()));
        ProcessSampler sampler(child.processId());
        const ProcessSample sample = sampler.sample();
        QVERIFY2(sample.isValid(), qPrintable(sample.error));
        const double expected = 100.0 * 1024 * 1024;
        QVERIFY2(std::abs(double(sample.rssBytes) - expected) / expected < 0.10,
            qPrintable(QString::number(sample.rssBytes)));
        QCOMPARE(sample.name, s("perfdash_test_memhog")); // comm is cut at 15 characters: the file name
        QCOMPARE(sample.commandLine.value(1), s("100"));

        child.closeWriteChannel();
        QVERIFY(child.waitForFinished(30'000));
        QCOMPARE(child.exitCode(), 0);
        const ProcessSample gone = sampler.sample();
        QCOMPARE(gone.status, Status::Exited);
        QVERIFY(gone.error.contains(s("exited")));
        QCOMPARE(gone.rssBytes, 0); // no figures posing as data
    }

    void deadOrInvalidPid_data()
    {
        QTest::addColumn<qint64>("pid");
        QTest::newRow("never existed") << qint64(0x3fffffff);
        QTest::newRow("zero") << qint64(0);
        QTest::newRow("negative") << qint64(-5);
    }
    void deadOrInvalidPid()
    {
        QFETCH(qint64, pid);
        ProcessSampler sampler(pid);
        const ProcessSample sample = sampler.sample();
        QCOMPARE(sample.status, Status::NoSuchProcess);
        QVERIFY(!sample.error.isEmpty());
        QVERIFY(!sample.isValid());
    }

    void fakeProc_data()
    {
        QTest::addColumn<QByteArray>("firstStat");
        QTest::addColumn<QByteArray>("secondStat");
        QTest::addColumn<int>("expected");
        QTest::newRow("running") << fakeStat(77, "svc", 'S', 5000) << fakeStat(77, "svc", 'R', 5000) << int(Status::Ok);
        QTest::newRow("zombie") << fakeStat(77, "svc", 'S', 5000) << fakeStat(77, "svc", 'Z', 5000)
                                << int(Status::Exited);
        QTest::newRow("pid reused") << fakeStat(77, "svc", 'S', 5000) << fakeStat(77, "other", 'S', 9000)
                                    << int(Status::Exited);
        QTest::newRow("garbage") << fakeStat(77, "svc", 'S', 5000) << QByteArray("\x01\x02 not a stat file")
                                 << int(Status::Error);
        QTest::newRow("truncated") << fakeStat(77, "svc", 'S', 5000) << QByteArray("77 (svc) S 1 1 1")
                                   << int(Status::Error);
        QTest::newRow("between vfork and exec")
            << fakeStat(77, "svc", 'S', 5000) << fakeStat(77, "svc", 'R', 5000, 0) << int(Status::NoMemoryMap);
        QTest::newRow("parentheses in name")
            << fakeStat(77, "a) (b", 'S', 5000) << fakeStat(77, "a) (b", 'S', 5000) << int(Status::Ok);
    }
    void fakeProc()
    {
        QFETCH(QByteArray, firstStat);
        QFETCH(QByteArray, secondStat);
        QFETCH(int, expected);
        QTemporaryDir root;
        // The 16 bytes of the three NUL-terminated arguments.
        QVERIFY(fakeProcess(root,
            QByteArray("svc\0--port\0"
                       "8080\0",
                16)));
        writeFile(root.filePath(s("77/stat")), firstStat);
        ProcessSampler sampler(77, root.path());
        const ProcessSample first = sampler.sample();
        QVERIFY2(first.isValid(), qPrintable(first.error));
        QCOMPARE(first.commandLine, QStringList({ s("svc"), s("--port"), s("8080") }));
        QCOMPARE(first.rssBytes, 2560 * sysconf(_SC_PAGESIZE));
        QCOMPARE(first.virtualBytes, qint64(104857600));
        QCOMPARE(first.threads, 3);
        QCOMPARE(first.startTimeMs, 1'700'000'000'000 + 5000 * 1000 / sysconf(_SC_CLK_TCK));
        writeFile(root.filePath(s("77/stat")), secondStat);
        const ProcessSample second = sampler.sample();
        QCOMPARE(int(second.status), expected);
        if (expected == int(Status::NoMemoryMap))
            QCOMPARE(second.name, s("svc")); // a program just launched is named from the start
        if (expected != int(Status::Ok))
            QVERIFY(!second.error.isEmpty());
        else
            QCOMPARE(second.cpuPercent.value_or(-1), 0.0); // same ticks: idle
    }

    /// The kernel cuts a comm at 15 characters ("perfdash_heap_t"): where the program's file name
    /// (argv[0]'s last component) starts with it, that is the name, as top and htop show; a comm the
    /// program chose (a different name, or a shorter one) stays.
    void aCutCommTakesTheProgramsFileName_data()
    {
        QTest::addColumn<QByteArray>("comm");
        QTest::addColumn<QByteArray>("argv0");
        QTest::addColumn<QString>("name");
        QTest::newRow("cut") << QByteArray("perfdash_heap_t") << QByteArray("/opt/bin/perfdash_heap_target")
                             << s("perfdash_heap_target");
        QTest::newRow("short: as it is") << QByteArray("svc") << QByteArray("/usr/bin/svc-server") << s("svc");
        QTest::newRow("renamed itself") << QByteArray("orders-api-work") << QByteArray("/usr/bin/perfdash-demo")
                                        << s("orders-api-work");
    }
    void aCutCommTakesTheProgramsFileName()
    {
        QFETCH(QByteArray, comm);
        QFETCH(QByteArray, argv0);
        QFETCH(QString, name);
        QTemporaryDir root;
        QVERIFY(fakeProcess(root, argv0 + QByteArray("\0sites\0", 7)));
        for (const int rssPages : { 2560, 0 }) { // a full sample, and one of a program starting up
            writeFile(root.filePath(s("77/stat")), fakeStat(77, comm.constData(), 'S', 5000, rssPages));
            QCOMPARE(ProcessSampler(77, root.path()).sample().name, name);
        }
    }

    void unreadableIsAccessDenied()
    {
        QTemporaryDir root;
        QVERIFY(QDir(root.path()).mkpath(s("88")));
        writeFile(root.filePath(s("88/stat")), fakeStat(88, "x", 'S', 1));
        QFile::setPermissions(root.filePath(s("88/stat")), QFileDevice::Permissions());
        if (geteuid() != 0) {
            const ProcessSample sample = ProcessSampler(88, root.path()).sample();
            QCOMPARE(sample.status, Status::AccessDenied);
            return;
        }
        // Root reads everything (CI runs as root): the sampling runs in a child that became nobody.
        QFile::setPermissions(root.path(), QFileDevice::Permissions(0x7755));
        QFile::setPermissions(root.filePath(s("88")), QFileDevice::Permissions(0x7755));
        const QString path = root.path();
        const pid_t child = ::fork();
        if (child == 0) {
            if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
                ::_exit(10);
            ::_exit(ProcessSampler(88, path).sample().status == Status::AccessDenied ? 0 : 1);
        }
        int status = 0;
        QCOMPARE(::waitpid(child, &status, 0), child);
        QVERIFY(WIFEXITED(status));
        QCOMPARE(WEXITSTATUS(status), 0);
    }

    void attachedProcessKeepsHistoryAfterExit()
    {
        QProcess child;
        QVERIFY2(startMemhog(child, 20), qPrintable(child.errorString()));
        const qint64 pid = child.processId(); // QProcess forgets it once the child is reaped
        MetricsStore store;
        QSignalSpy changed(&store, &MetricsStore::processChanged);
        const quint64 key = store.attachPid(pid);
        QVERIFY(key != 0);
        QCOMPARE(store.attachPid(pid), key); // attaching twice gives the same entry
        store.sampleProcesses();
        store.sampleProcesses();
        QCOMPARE(store.process(key)->state, ProcessInfo::State::ProcOnly);
        child.closeWriteChannel();
        QVERIFY(child.waitForFinished(30'000));
        store.sampleProcesses();
        QCOMPARE(changed.count(), 1);
        store.sampleProcesses(); // an exited process is not sampled again
        QCOMPARE(changed.count(), 1);
        const ProcessInfo last = *store.process(key);
        QCOMPARE(last.state, ProcessInfo::State::Exited);
        QVERIFY(last.reason.contains(s("exited")));
        QVERIFY(last.rssBytes > 20 * 1024 * 1024); // the last good figures stay for inspection
        QVERIFY(!last.cpuPercent.has_value());
        const QList<MemoryRecord> records = store.memoryRecords();
        QCOMPARE(records.size(), 2);
        QCOMPARE(records.constFirst().process, s("perfdash_test_memhog"));
        QCOMPARE(records.constFirst().pid, pid);
        // attachPid() sampled once already, so even the first row has a CPU interval.
        QVERIFY(records.constFirst().cpuPercent.has_value());
        QVERIFY(records.constLast().cpuPercent.has_value());

        QString error;
        QCOMPARE(store.attachPid(0x3fffffff, &error), quint64(0));
        QVERIFY(error.contains(s("no process")));
    }

    void startedStoreSamplesOffItsThread()
    {
        // The store's owner is the GUI thread, which must not read /proc: start() samples elsewhere.
        QProcess child;
        QVERIFY2(startMemhog(child, 5), qPrintable(child.errorString()));
        MetricsStore store;
        const quint64 key = store.attachPid(child.processId());
        QVERIFY(key != 0);
        QThread* samplingThread = nullptr;
        connect(
            &store, &MetricsStore::processChanged, &store, [&] { samplingThread = QThread::currentThread(); },
            Qt::DirectConnection);
        QSignalSpy changed(&store, &MetricsStore::processChanged);
        store.start(std::chrono::milliseconds(20));
        QTRY_VERIFY_WITH_TIMEOUT(store.memoryRecords().size() >= 2, 30'000);
        child.closeWriteChannel();
        QVERIFY(child.waitForFinished(30'000));
        QVERIFY(changed.wait(30'000) || changed.count() == 1);
        QCOMPARE(store.process(key)->state, ProcessInfo::State::Exited);
        QVERIFY(samplingThread != nullptr);
        QVERIFY(samplingThread != QThread::currentThread());
        store.stop();
    }

    void memoryMonitorSnapshots()
    {
        MemoryMonitor memory;
        const MemorySnapshot before = memory.takeSnapshot(s("before"));
        QVERIFY(before.rssBytes > 0);
        if (before.heapBytes < 0)
            QSKIP("this allocator does not report its heap (a sanitizer's): heapBytes is -1, as it should be");
        QVERIFY(before.heapBytes > 0);
        std::vector<char> block(64 * 1024 * 1024, 1); // 64 MiB in use on the heap
        memory.takeSnapshot(s("after"));
        const auto delta = memory.compare(s("before"), s("after"));
        QVERIFY(delta.has_value());
        // The heap is the whole process's: another thread (Qt's, a finished test's) may free a few
        // kilobytes between the two snapshots, so the block is looked for within 1%.
        QVERIFY2(delta->heapBytes >= qint64(block.size()) * 99 / 100, qPrintable(QString::number(delta->heapBytes)));
        QVERIFY2(delta->rssBytes >= qint64(block.size()) * 9 / 10, qPrintable(QString::number(delta->rssBytes)));
        QVERIFY(!memory.compare(s("before"), s("unknown")).has_value());
        memory.takeSnapshot(s("before")); // a label taken again replaces the old one
        QCOMPARE(memory.snapshots().size(), 2);
        for (int i = 0; i < MemoryMonitor::MaxSnapshots + 10; ++i)
            memory.takeSnapshot(QString::number(i));
        QCOMPARE(memory.snapshots().size(), MemoryMonitor::MaxSnapshots);
        QVERIFY(!memory.snapshot(s("after")).has_value()); // the oldest went first
        memory.clear();
        QVERIFY(memory.snapshots().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestProcessSampler)
#include "tst_processsampler.moc"
