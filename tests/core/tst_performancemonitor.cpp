// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/performancemonitor.h"

#include <QPromise>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <stdexcept>

using namespace perfdash;
using namespace std::chrono_literals;

class TestPerformanceMonitor : public QObject
{
    Q_OBJECT
private:
    static QString s(const char* text) { return QString::fromUtf8(text); }

private Q_SLOTS:
    void trackOperationReturnsResultAndTimesIt()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        const int result = monitor.trackOperation(s("db.query"), [&] {
            clock.advanceNs(5'000'000);
            return 42;
        });
        QCOMPARE(result, 42);
        const auto st = monitor.stats(s("db.query"));
        QVERIFY(st.has_value());
        QCOMPARE(st->count, quint64(1));
        QCOMPARE(st->successCount, quint64(1));
        QCOMPARE(st->maxNs, quint64(5'000'000));
        QCOMPARE(st->p50Ns, quint64(5'000'000));

        monitor.trackOperation(s("void.op"), [&] { clock.advanceNs(10); });
        QCOMPARE(monitor.stats(s("void.op"))->minNs, quint64(10));
        QCOMPARE(monitor.operations(), QStringList({ s("db.query"), s("void.op") }));
        QVERIFY(!monitor.stats(s("unknown")).has_value());
    }

    void exceptionMarksFailureAndPropagates()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, monitor.trackOperation(s("http.get"), [&]() -> int {
            clock.advanceNs(2000);
            throw std::runtime_error("boom");
        }));
        const auto st = monitor.stats(s("http.get"));
        QCOMPARE(st->count, quint64(1));
        QCOMPARE(st->errorCount, quint64(1));
        QCOMPARE(st->errorRate, 1.0);
        QCOMPARE(st->maxNs, quint64(2000));
    }

    void futureIsTrackedWhenItFinishes()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        QPromise<int> promise;
        promise.start();
        QFuture<int> tracked = monitor.trackOperation(s("async.ok"), [&] { return promise.future(); });
        QVERIFY(!monitor.stats(s("async.ok")).has_value()); // not finished, not recorded
        clock.advanceNs(7'000'000);
        promise.addResult(9);
        promise.finish();
        QCOMPARE(tracked.result(), 9);
        QCOMPARE(monitor.stats(s("async.ok"))->count, quint64(1));
        QCOMPARE(monitor.stats(s("async.ok"))->maxNs, quint64(7'000'000));

        QPromise<void> failing;
        failing.start();
        QFuture<void> trackedFailure = monitor.trackOperation(s("async.fail"), [&] { return failing.future(); });
        failing.setException(std::make_exception_ptr(std::runtime_error("nope")));
        failing.finish();
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, trackedFailure.waitForFinished());
        QCOMPARE(monitor.stats(s("async.fail"))->errorCount, quint64(1));
    }

    void timer()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        OperationTimer t = monitor.startTimer();
        clock.advanceNs(300);
        QCOMPARE(t.elapsed(), 300ns);
        QVERIFY(t.isRunning());
        QCOMPARE(t.stop(), 300ns);
        clock.advanceNs(1000);
        QCOMPARE(t.elapsed(), 300ns);
        QCOMPARE(t.stop(), 300ns);
        monitor.record(s("manual"), t.elapsed(), false, { { s("k"), 1 } });
        QCOMPARE(monitor.stats(s("manual"))->errorCount, quint64(1));
    }

    void windows()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        monitor.record(s("op"), 1ms);
        clock.advanceMs(30'000);
        monitor.record(s("op"), 2ms);
        QCOMPARE(monitor.stats(s("op"), StatsWindow::last(10))->count, quint64(1));
        QCOMPARE(monitor.stats(s("op"), StatsWindow::last(60))->count, quint64(2));
        clock.advanceMs(300'000);
        QCOMPARE(monitor.stats(s("op"), StatsWindow::last(300))->count, quint64(0));
        QCOMPARE(monitor.stats(s("op"))->count, quint64(2));
    }

    void scopesPrefixAndLimit()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        MonitorScope api = monitor.scope(s("api"));
        api.record(s("users.list"), 1ms);
        api.record(s("users.get"), 3ms, false);
        monitor.record(s("db.query"), 100ms);
        MonitorScope users = api.scope(s("users"));
        users.record(s("delete"), 2ms);
        QCOMPARE(monitor.operations(),
            QStringList({ s("api.users.delete"), s("api.users.get"), s("api.users.list"), s("db.query") }));
        QCOMPARE(api.operations(), QStringList({ s("users.delete"), s("users.get"), s("users.list") }));
        QCOMPARE(users.operations(), QStringList({ s("delete"), s("get"), s("list") }));
        QCOMPARE(users.qualified(s("x")), s("api.users.x"));
        const auto totals = api.totals();
        QCOMPARE(totals->count, quint64(3));
        QCOMPARE(totals->errorCount, quint64(1));
        QCOMPARE(totals->maxNs, quint64(3'000'000)); // db.query's 100 ms is outside the scope
        QCOMPARE(api.stats(s("users.get"))->count, quint64(1));
        QCOMPARE(api.allStats().size(), 3);
        QCOMPARE(api.allStats().constFirst().operation, s("users.delete"));
        const int result = users.trackOperation(s("list"), [] { return 5; });
        QCOMPARE(result, 5);
        QCOMPARE(monitor.stats(s("api.users.list"))->count, quint64(2));
        QVERIFY(!monitor.scope(s("none")).totals().has_value());
    }

    void thresholdsAndSlowSignal()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        monitor.setSlowThreshold(100ms);
        monitor.setVerySlowThreshold(1s);
        monitor.setThresholds(s("db.*"), 10ms, 50ms);
        monitor.setThresholds(s("db.cache.*"), 1ms, 5ms);
        monitor.setThresholds(s("db.cache.hot"), 100us, 500us);
        QCOMPARE(monitor.thresholdsFor(s("http.get")), (Thresholds { 100'000'000, 1'000'000'000 }));
        QCOMPARE(monitor.thresholdsFor(s("db.query")), (Thresholds { 10'000'000, 50'000'000 }));
        QCOMPARE(monitor.thresholdsFor(s("db.cache.cold")), (Thresholds { 1'000'000, 5'000'000 }));
        QCOMPARE(monitor.thresholdsFor(s("db.cache.hot")), (Thresholds { 100'000, 500'000 }));

        QSignalSpy slow(&monitor, &PerformanceMonitor::slowOperation);
        monitor.record(s("http.get"), 50ms);
        QCOMPARE(slow.count(), 0);
        monitor.record(s("http.get"), 150ms, true, { { s("route"), s("/users") } });
        monitor.record(s("db.query"), 60ms);
        monitor.record(s("db.cache.hot"), 200us);
        QCOMPARE(slow.count(), 3);
        const auto first = slow.at(0).at(0).value<OperationSample>();
        QCOMPARE(first.operation, s("http.get"));
        QCOMPARE(first.durationNs, quint64(150'000'000));
        QCOMPARE(first.severity, OperationSample::Severity::Slow);
        QCOMPARE(first.metadata.value(s("route")).toString(), s("/users"));
        QCOMPARE(slow.at(1).at(0).value<OperationSample>().severity, OperationSample::Severity::VerySlow);
        QCOMPARE(slow.at(2).at(0).value<OperationSample>().severity, OperationSample::Severity::Slow);
        QCOMPARE(monitor.stats(s("http.get"))->slowCount, quint64(1));

        // Changing thresholds applies at once, also to operations already seen.
        monitor.removeThresholds(s("db.*"));
        QCOMPARE(monitor.thresholdsFor(s("db.query")), (Thresholds { 100'000'000, 1'000'000'000 }));
    }

    void listenerGetsEverySample()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        monitor.setSamplingRate(0.0);
        {
            QSignalSpy all(&monitor, &PerformanceMonitor::operationRecorded);
            for (int i = 0; i < 10; ++i)
                monitor.record(s("op"), 1us, i % 2 == 0);
            QCOMPARE(all.count(), 10);
            QCOMPARE(all.at(1).at(0).value<OperationSample>().ok, false);
        }
        // With nobody listening, nothing is built for listeners; the statistics still count all.
        monitor.record(s("op"), 1us);
        QCOMPARE(monitor.stats(s("op"))->count, quint64(11));
        QVERIFY(monitor.samples(s("op")).isEmpty());
    }

    void budgets()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        monitor.setBudget(s("api.*"), 95, 10ms, StatsWindow::last(10));
        QSignalSpy changed(&monitor, &PerformanceMonitor::budgetViolationChanged);
        for (int i = 0; i < 100; ++i)
            monitor.record(s("api.users"), i < 90 ? 1ms : 40ms); // p95 = 40 ms
        monitor.record(s("db.query"), 1s); // no budget
        QList<BudgetViolation> v = monitor.budgetViolations();
        QCOMPARE(v.size(), 1);
        QCOMPARE(v.constFirst().operation, s("api.users"));
        QCOMPARE(v.constFirst().budget.limitNs, quint64(10'000'000));
        QVERIFY(std::abs(double(v.constFirst().actualNs) - 40e6) / 40e6 < 0.01);
        QVERIFY(std::abs(v.constFirst().severity - 4.0) < 0.04);

        monitor.checkBudgets();
        QCOMPARE(changed.count(), 1);
        QCOMPARE(changed.at(0).at(1).toBool(), true);
        monitor.checkBudgets(); // no change, no signal
        QCOMPARE(changed.count(), 1);

        // Ten seconds later the slow ones have left the window; the next record checks by itself.
        clock.advanceMs(11'000);
        monitor.record(s("api.users"), 1ms);
        QCOMPARE(changed.count(), 2);
        QCOMPARE(changed.at(1).at(1).toBool(), false);
        QCOMPARE(changed.at(1).at(0).value<BudgetViolation>().actualNs, quint64(1'000'000));
        QVERIFY(monitor.budgetViolations().isEmpty());

        monitor.setBudget(s("api.*"), 95, 20ms, StatsWindow::last(10)); // replaces, not adds
        QCOMPARE(monitor.budgets().size(), 1);
        monitor.removeBudget(s("api.*"), 95);
        QVERIFY(monitor.budgets().isEmpty());
    }

    void samplingAndBoundedSamples()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        monitor.setMaxSamplesPerOperation(5);
        for (int i = 0; i < 20; ++i) {
            monitor.record(s("op"), std::chrono::microseconds(i));
            clock.advanceMs(1);
        }
        QList<OperationSample> kept = monitor.samples(s("op"));
        QCOMPARE(kept.size(), 5);
        QCOMPARE(kept.constFirst().durationNs, quint64(15'000)); // the oldest went first
        QCOMPARE(kept.constLast().durationNs, quint64(19'000));

        monitor.clear();
        monitor.setSamplingRate(0.0);
        monitor.setSlowThreshold(1ms);
        monitor.record(s("op"), 10us);
        monitor.record(s("op"), 2ms);
        kept = monitor.samples(s("op"));
        QCOMPARE(kept.size(), 1); // slow ones are always kept
        QCOMPARE(kept.constFirst().severity, OperationSample::Severity::Slow);

        monitor.clear();
        monitor.setMaxSamplesPerOperation(100'000);
        monitor.setSamplingRate(0.25);
        for (int i = 0; i < 20'000; ++i)
            monitor.record(s("op"), 10us);
        const double share = double(monitor.samples(s("op")).size()) / 20'000.0;
        QVERIFY2(share > 0.22 && share < 0.28, qPrintable(QString::number(share)));
        QCOMPARE(monitor.stats(s("op"))->count, quint64(20'000)); // statistics are not sampled

        monitor.record(s("other"), 1us);
        QCOMPARE(monitor.exportSamples().size(), monitor.samples(s("op")).size() + monitor.samples(s("other")).size());
        monitor.clear();
        QVERIFY(monitor.operations().isEmpty());
        QVERIFY(monitor.exportSamples().isEmpty());
    }

    void operationCountIsBounded()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        monitor.setMaxOperations(3);
        for (int i = 0; i < 5; ++i)
            monitor.record(QStringLiteral("op%1").arg(i), 1us);
        monitor.record(s("op0"), 1us);
        QCOMPARE(monitor.operations().size(), 3);
        QCOMPARE(monitor.droppedOperations(), quint64(2));
        QCOMPARE(monitor.stats(s("op0"))->count, quint64(2));
    }

    void scopedOperation()
    {
        ManualClock clock;
        PerformanceMonitor monitor(&clock);
        {
            ScopedOperation op(&monitor, "work");
            clock.advanceNs(1234);
        }
        {
            ScopedOperation op(&monitor, "work");
            op.fail();
        }
        try {
            ScopedOperation op(&monitor, "work");
            throw std::logic_error("unwinding");
        } catch (const std::logic_error&) {
        }
        {
            PERFDASH_TRACK_IN(&monitor, "work");
        }
        const auto st = monitor.stats(s("work"));
        QCOMPARE(st->count, quint64(4));
        QCOMPARE(st->errorCount, quint64(2));
        QCOMPARE(st->maxNs, quint64(1234));

        {
            PERFDASH_TRACK("global.work");
        }
        QCOMPARE(PerformanceMonitor::instance()->stats(s("global.work"))->count, quint64(1));
    }

    void concurrentRecordingIsExact()
    {
        PerformanceMonitor monitor;
        monitor.setSamplingRate(0.01);
        constexpr int Threads = 8, PerThread = 20'000;
        QList<QThread*> threads;
        for (int t = 0; t < Threads; ++t) {
            threads.append(QThread::create([&monitor, t] {
                for (int i = 0; i < PerThread; ++i)
                    monitor.record(QStringLiteral("op%1").arg(t % 2), std::chrono::nanoseconds(i), i % 100 != 0);
            }));
            threads.last()->start();
        }
        for (QThread* t : threads) {
            QVERIFY(t->wait(60'000));
            delete t;
        }
        const auto total = monitor.aggregateStats(QString());
        QCOMPARE(total->count, quint64(Threads * PerThread));
        QCOMPARE(total->errorCount, quint64(Threads * PerThread / 100));
        QCOMPARE(monitor.stats(s("op0"))->count, quint64(Threads / 2 * PerThread));
    }
};

QTEST_GUILESS_MAIN(TestPerformanceMonitor)
#include "tst_performancemonitor.moc"
