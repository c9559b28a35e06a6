// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/optimizationmanager.h"

#include <QTest>

using namespace perfdash;

class TestOptimizationManager : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void routesByOptions()
    {
        ManualScheduler scheduler;
        OptimizationConfig config;
        config.batching = BatchConfig { 2, 50, 0, 0 };
        config.debouncing = DebounceConfig { 100, std::nullopt, false, true };
        config.workerPoolSize = 2;
        OptimizationManager manager(config, &scheduler);

        int computed = 0;
        const auto expensive = [&] { return QVariant(++computed); };
        OptimizationOptions cached;
        cached.cacheKey = u"users"_qs;
        QCOMPARE(manager.optimize(expensive, cached).result().toInt(), 1);
        QCOMPARE(manager.optimize(expensive, cached).result().toInt(), 1); // served from the cache
        QCOMPARE(computed, 1);

        OptimizationOptions worker;
        worker.useWorker = true;
        worker.type = u"render"_qs;
        QCOMPARE(
            manager.optimize([] { return QVariant(u"off-thread"_qs); }, worker).result().toString(), u"off-thread"_qs);

        OptimizationOptions batch;
        batch.batch = true;
        auto b1 = manager.optimize([] { return QVariant(1); }, batch);
        QVERIFY(!b1.isFinished());
        auto b2 = manager.optimize([] { return QVariant(2); }, batch);
        QCOMPARE(b1.result().toInt() + b2.result().toInt(), 3);

        OptimizationOptions throttle;
        throttle.throttle = true;
        QCOMPARE(manager.optimize([] { return QVariant(7); }, throttle).result().toInt(), 7);

        OptimizationOptions debounce;
        debounce.debounce = true;
        auto d1 = manager.optimize([] { return QVariant(u"first"_qs); }, debounce);
        auto d2 = manager.optimize([] { return QVariant(u"second"_qs); }, debounce);
        scheduler.advance(100);
        QCOMPARE(d1.result().toString(), u"second"_qs);
        QCOMPARE(d2.result().toString(), u"second"_qs);

        QCOMPARE(manager.optimize([] { return QVariant(9); }).result().toInt(), 9); // direct

        const OptimizationMetrics m = manager.metrics();
        QCOMPARE(m.cache.hits, quint64(1));
        QCOMPARE(m.cache.computations, quint64(1));
        QCOMPARE(m.workers.completed, quint64(1));
        QCOMPARE(m.batching.batches, quint64(1));
        QCOMPARE(m.throttling.completed, quint64(1));
        QCOMPARE(m.debouncing.invocations, quint64(1));
        QCOMPARE(m.performance->count, quint64(9));
        const auto samples = manager.monitor()->samples(u"optimized.operation"_qs);
        QCOMPARE(samples.size(), 9);
        QCOMPARE(samples.constFirst().metadata.value(u"route"_qs).toString(), u"cache"_qs);
        QCOMPARE(samples.constLast().metadata.value(u"route"_qs).toString(), u"direct"_qs);
    }

    void disabledRouteFallsThrough()
    {
        ManualScheduler scheduler;
        OptimizationConfig config;
        config.cachingEnabled = false;
        OptimizationManager manager(config, &scheduler);
        int computed = 0;
        OptimizationOptions cached;
        cached.cacheKey = u"k"_qs;
        manager.optimize([&] { return QVariant(++computed); }, cached).waitForFinished();
        manager.optimize([&] { return QVariant(++computed); }, cached).waitForFinished();
        QCOMPARE(computed, 2);
        QCOMPARE(manager.metrics().cache.computations, quint64(0));
    }
};

QTEST_GUILESS_MAIN(TestOptimizationManager)
#include "tst_optimizationmanager.moc"
