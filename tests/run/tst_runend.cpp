// SPDX-License-Identifier: GPL-3.0-or-later
// RunEnd, the end of every run (perfdash's --duration, a signal, the command's exit, the window
// closed), driven without the program: what it writes, what it says, the exit status it returns.
#include "core/headlessgate.h"
#include "core/metricsstore.h"
#include "profiler/heapprofiler.h"
#include "run/runend.h"

#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

using namespace perfdash;

class TestRunEnd : public QObject
{
    Q_OBJECT

    /// A store with one process that ran db.query 20 times at 10 ms.
    static void fill(MetricsStore& store)
    {
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), QStringLiteral("svc"), {});
        for (int i = 0; i < 20; ++i)
            store.recordOperation(key, QStringLiteral("db.query"), 10'000'000, i != 0, {});
    }
    static QByteArray read(const QString& path)
    {
        QFile file(path);
        return file.open(QIODevice::ReadOnly) ? file.readAll() : QByteArray();
    }

    /// What a RunEnd says, appended to @p said.
    static RunEnd::Say saidInto(QStringList& said)
    {
        return [&said](const QString& line) { said << line; };
    }

private Q_SLOTS:
    void writesEveryExportOnceAndSaysWhatItCannot()
    {
        QTemporaryDir dir;
        MetricsStore store;
        fill(store);
        RunOutputs outputs;
        outputs.statisticsCsv = dir.filePath(QStringLiteral("stats.csv"));
        outputs.seriesCsv = dir.filePath(QStringLiteral("series.csv"));
        outputs.memoryCsv = dir.filePath(QStringLiteral("memory.csv"));
        outputs.trace = dir.filePath(QStringLiteral("trace.json"));
        outputs.profile = dir.filePath(QStringLiteral("profile.folded")); // nothing was profiled
        QStringList said;
        RunParts parts { .store = &store };
        RunEnd end(parts, outputs, saidInto(said));
        QCOMPARE(end.finish(), 0);
        QVERIFY(end.finished());
        const QByteArray stats = read(outputs.statisticsCsv);
        QVERIFY2(stats.contains("db.query"), stats.constData());
        QVERIFY(stats.startsWith("pid,process,operation,count,errors,"));
        QVERIFY(stats.contains(",svc,db.query,20,1,")); // every operation, the one failure
        QVERIFY(read(outputs.seriesCsv).startsWith("timestamp_ms,pid,process,operation,"));
        QVERIFY(read(outputs.memoryCsv).startsWith("timestamp_ms,pid,process,rss_bytes,"));
        QVERIFY(read(outputs.trace).contains("traceEvents"));
        QVERIFY(!QFile::exists(outputs.profile));
        QCOMPARE(said, QStringList { outputs.profile + QStringLiteral(" not written: no process was profiled") });
        // Once: a second end (the window closed after --duration) writes and says nothing more.
        QFile::remove(outputs.statisticsCsv);
        QCOMPARE(end.finish(1), 0);
        QVERIFY(!QFile::exists(outputs.statisticsCsv));
        QCOMPARE(said.size(), 1);
    }

    void aFileNotWrittenIsStatusOne()
    {
        QTemporaryDir dir;
        MetricsStore store;
        fill(store);
        RunOutputs outputs;
        outputs.statisticsCsv = dir.filePath(QStringLiteral("gone/stats.csv"));
        outputs.seriesCsv = dir.filePath(QStringLiteral("series.csv"));
        QStringList said;
        RunParts parts { .store = &store };
        RunEnd end(parts, outputs, saidInto(said));
        QCOMPARE(end.finish(), 1);
        QCOMPARE(said.size(), 1);
        QVERIFY2(said.constFirst().contains(QStringLiteral("stats.csv")), qPrintable(said.constFirst()));
        QVERIFY(!read(outputs.seriesCsv).isEmpty()); // the others are written all the same
    }

    /// --export-heap when no program's heap was tracked (a static program refused, nothing launched):
    /// the file is not written, said, and the run's status is 1 as for any export that failed.
    void aHeapExportWithNothingTrackedIsStatusOne()
    {
        QTemporaryDir dir;
        MetricsStore store;
        fill(store);
        HeapProfiler heap(dir.path());
        RunOutputs outputs;
        outputs.heap = dir.filePath(QStringLiteral("heap.folded"));
        outputs.heapTracking = true;
        QStringList said;
        RunParts parts { .store = &store, .heapProfiler = &heap };
        RunEnd end(parts, outputs, saidInto(said));
        QCOMPARE(end.finish(), 1);
        QVERIFY(!QFile::exists(outputs.heap));
        QCOMPARE(said, QStringList { outputs.heap + QStringLiteral(" not written: no program's heap was tracked") });
        // The command's own failure still comes first.
        QProcess command;
        command.start(QStringLiteral("sh"), { QStringLiteral("-c"), QStringLiteral("exit 5") });
        QVERIFY(command.waitForFinished(30'000));
        RunEnd failed(parts, outputs, saidInto(said));
        failed.addChild(&command, true);
        QCOMPARE(failed.finish(), 64 + 5);
    }

    void aBrokenBudgetIsStatusThree()
    {
        MetricsStore store;
        QString error;
        const auto budget = HeadlessGate::parseBudget(QStringLiteral("db.*:p99<=1ms"), &error);
        QVERIFY2(budget, qPrintable(error));
        store.setBudgets({ *budget });
        fill(store);
        QStringList said;
        RunParts parts { .store = &store, .live = true };
        RunEnd end(parts, {}, saidInto(said));
        QCOMPARE(end.finish(), int(HeadlessGate::BudgetBroken));
        QCOMPARE(said.size(), 1);
        QVERIFY2(said.constFirst().contains(QStringLiteral("db.query")), qPrintable(said.constFirst()));
        // An opened capture is not judged: its budgets were the recording's business.
        MetricsStore recorded;
        recorded.setBudgets({ *budget });
        fill(recorded);
        parts.store = &recorded;
        parts.live = false;
        RunEnd shown(parts, {}, saidInto(said));
        QCOMPARE(shown.finish(), 0);
    }

    void theCommandsFailureComesFirstAndChildrenAreStopped()
    {
        MetricsStore store;
        QProcess command;
        command.start(QStringLiteral("sh"), { QStringLiteral("-c"), QStringLiteral("exit 5") });
        QVERIFY(command.waitForFinished(30'000));
        QProcess child; // still running at the end: stopped by it
        child.start(QStringLiteral("sleep"), { QStringLiteral("600") });
        QVERIFY(child.waitForStarted(30'000));
        RunParts parts { .store = &store };
        RunEnd end(parts, {}, [](const QString&) {});
        end.addChild(&command, true);
        end.addChild(&child);
        QCOMPARE(end.finish(1), HeadlessGate::exitStatus(1, HeadlessGate::commandStatus(false, 5)));
        QCOMPARE(end.exitCode(), 64 + 5);
        QCOMPARE(child.state(), QProcess::NotRunning);
        QCOMPARE(child.exitStatus(), QProcess::CrashExit); // by SIGTERM
    }

    void aCommandStoppedByTheEndIsNotItsFailure()
    {
        MetricsStore store;
        QProcess command;
        command.start(QStringLiteral("sleep"), { QStringLiteral("600") });
        QVERIFY(command.waitForStarted(30'000));
        RunParts parts { .store = &store };
        RunEnd end(parts, {}, [](const QString&) {});
        end.addChild(&command, true);
        QCOMPARE(end.finish(), 0); // killed by our SIGTERM: not the command failing
        QCOMPARE(command.state(), QProcess::NotRunning);
    }
};

QTEST_GUILESS_MAIN(TestRunEnd)
#include "tst_runend.moc"
