// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/throttler.h"

#include <QPromise>
#include <QSignalSpy>
#include <QTest>

#include <stdexcept>

using namespace perfdash;

class TestThrottler : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void concurrencyLimitInArrivalOrder()
    {
        ManualScheduler scheduler;
        Throttler throttler(ThrottleConfig { 2, 1000, 0, 0 }, &scheduler);
        QSignalSpy throttled(&throttler, &Throttler::throttled);
        std::vector<std::shared_ptr<QPromise<int>>> inFlight;
        QList<int> startOrder;
        QList<QFuture<int>> results;
        for (int i = 0; i < 5; ++i) {
            results.append(throttler.execute([&, i] {
                startOrder.append(i);
                inFlight.push_back(std::make_shared<QPromise<int>>());
                inFlight.back()->start();
                return inFlight.back()->future();
            }));
        }
        QCOMPARE(startOrder, QList<int>({ 0, 1 }));
        QCOMPARE(throttled.count(), 3);
        QCOMPARE(throttled.at(2).at(0).toInt(), 3); // queue lengths 1, 2, 3
        QCOMPARE(throttler.metrics().active, 2);
        QCOMPARE(throttler.metrics().queued, 3);

        inFlight[1]->addResult(11);
        inFlight[1]->finish();
        QTRY_COMPARE(startOrder, QList<int>({ 0, 1, 2 })); // a slot freed: the oldest waiting starts
        QCOMPARE(results[1].result(), 11);
        inFlight[0]->setException(std::make_exception_ptr(std::runtime_error("x")));
        inFlight[0]->finish();
        QTRY_COMPARE(startOrder, QList<int>({ 0, 1, 2, 3 }));
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, results[0].waitForFinished());
        for (std::size_t i = 2; i < 4; ++i) {
            inFlight[i]->addResult(int(i));
            inFlight[i]->finish();
        }
        QTRY_COMPARE(startOrder.size(), 5);
        inFlight[4]->addResult(4);
        inFlight[4]->finish();
        QTRY_COMPARE(throttler.metrics().completed, quint64(5));
        QCOMPARE(throttler.metrics().active, 0);
        QCOMPARE(throttler.metrics().duration->errorCount, quint64(1));
    }

    void ratePerSecond()
    {
        ManualScheduler scheduler;
        Throttler throttler(ThrottleConfig { 100, 3, 0, 0 }, &scheduler);
        QList<qint64> starts;
        QList<QFuture<int>> results;
        for (int i = 0; i < 5; ++i)
            results.append(throttler.execute([&, i] {
                starts.append(scheduler.nowMs());
                return i;
            }));
        QCOMPARE(starts, QList<qint64>({ 0, 0, 0 }));
        QCOMPARE(throttler.metrics().startsLastSecond, 3);
        scheduler.advance(999);
        QCOMPARE(starts.size(), 3);
        scheduler.advance(1); // the first starts leave the sliding second
        QCOMPARE(starts, QList<qint64>({ 0, 0, 0, 1000, 1000 }));
        QCOMPARE(results[4].result(), 4);
        QCOMPARE(throttler.metrics().throttled, quint64(2));
    }

    void burstTriggersCooldown()
    {
        ManualScheduler scheduler;
        Throttler throttler(ThrottleConfig { 100, 100, 3, 500 }, &scheduler);
        QList<qint64> starts;
        for (int i = 0; i < 5; ++i)
            throttler.execute([&] { starts.append(scheduler.nowMs()); });
        QCOMPARE(starts, QList<qint64>({ 0, 0, 0 }));
        QVERIFY(throttler.metrics().coolingDown);
        scheduler.advance(499);
        QCOMPARE(starts.size(), 3);
        scheduler.advance(1);
        QCOMPARE(starts, QList<qint64>({ 0, 0, 0, 500, 500 }));
        QVERIFY(!throttler.metrics().coolingDown);
    }

    void synchronousExceptionFailsOnlyItsFuture()
    {
        ManualScheduler scheduler;
        Throttler throttler(ThrottleConfig {}, &scheduler);
        auto bad = throttler.execute([]() -> int { throw std::logic_error("bad"); });
        auto good = throttler.execute([] { return 1; });
        QVERIFY_THROWS_EXCEPTION(std::logic_error, bad.waitForFinished());
        QCOMPARE(good.result(), 1);
        QCOMPARE(throttler.metrics().active, 0);
    }
};

QTEST_GUILESS_MAIN(TestThrottler)
#include "tst_throttler.moc"
