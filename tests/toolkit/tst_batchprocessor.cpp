// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/batchprocessor.h"

#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <atomic>
#include <stdexcept>

using namespace perfdash;

class TestBatchProcessor : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void runsWhenSizeIsReachedExactly()
    {
        ManualScheduler scheduler;
        QList<QList<int>> batches;
        BatchProcessor<int, QString> batcher(
            [&](const QList<int>& items) {
                batches.append(items);
                QList<QString> out;
                for (int i : items)
                    out.append(QString::number(i * 10));
                return out;
            },
            BatchConfig { 3, 1000, 0, 0 }, &scheduler);
        auto a = batcher.add(1);
        auto b = batcher.add(2);
        QVERIFY(batches.isEmpty());
        QCOMPARE(batcher.metrics().currentBatchSize, 2);
        auto c = batcher.add(3); // the third item fills the batch: it runs now, no timer needed
        QCOMPARE(batches, QList<QList<int>>({ { 1, 2, 3 } }));
        QCOMPARE(a.result(), u"10"_qs);
        QCOMPARE(b.result(), u"20"_qs);
        QCOMPARE(c.result(), u"30"_qs);
        scheduler.advance(5000);
        QCOMPARE(batches.size(), 1); // the delay timer was cancelled with the batch
    }

    void runsWhenDelayElapsesExactly()
    {
        ManualScheduler scheduler;
        QList<QList<int>> batches;
        BatchProcessor<int, int> batcher(
            [&](const QList<int>& items) {
                batches.append(items);
                return items;
            },
            BatchConfig { 10, 50, 0, 0 }, &scheduler);
        batcher.add(1);
        scheduler.advance(20);
        auto second = batcher.add(2);
        scheduler.advance(29);
        QVERIFY(batches.isEmpty()); // 49 ms after the first item
        scheduler.advance(1);
        QCOMPARE(batches, QList<QList<int>>({ { 1, 2 } })); // 50 ms: delay counted from the first item
        QCOMPARE(second.result(), 2);
    }

    void itemsAddedWhileProcessingGoToTheNextBatch()
    {
        ManualScheduler scheduler;
        QList<QList<int>> batches;
        BatchProcessor<int, int>* self = nullptr;
        QList<QFuture<int>> late;
        BatchProcessor<int, int> batcher(
            [&](const QList<int>& items) {
                batches.append(items);
                if (batches.size() == 1) {
                    late.append(self->add(100)); // re-entrant add from inside the processor
                    late.append(self->add(101));
                }
                return items;
            },
            BatchConfig { 2, 30, 0, 0 }, &scheduler);
        self = &batcher;
        batcher.add(1);
        batcher.add(2);
        QCOMPARE(batches.size(), 2); // the late pair filled a batch, which ran right after
        QCOMPARE(batches[1], QList<int>({ 100, 101 }));
        QCOMPARE(late[1].result(), 101);
        QCOMPARE(batcher.metrics().batches, quint64(2));
        QCOMPARE(batcher.metrics().items, quint64(4));
    }

    void retriesThenSuccess()
    {
        ManualScheduler scheduler;
        int attempts = 0;
        QList<qint64> attemptTimes;
        BatchProcessor<int, int> batcher(
            [&](const QList<int>& items) {
                attemptTimes.append(scheduler.nowMs());
                if (++attempts < 3)
                    throw std::runtime_error("transient");
                return items;
            },
            BatchConfig { 2, 100, 3, 10 }, &scheduler);
        QSignalSpy progress(&batcher, &BatchProcessorBase::progress);
        auto a = batcher.add(5);
        auto b = batcher.add(6);
        QVERIFY(!a.isFinished());
        scheduler.advance(100);
        QCOMPARE(attemptTimes, QList<qint64>({ 0, 10, 30 })); // delays of 10, then 20 ms
        QCOMPARE(a.result(), 5);
        QCOMPARE(b.result(), 6);
        const BatchMetrics m = batcher.metrics();
        QCOMPARE(m.retries, quint64(2));
        QCOMPARE(m.failedBatches, quint64(0));
        QCOMPARE(m.batchDuration->count, quint64(1));
        QCOMPARE(progress.count(), 1);
        QCOMPARE(progress.at(0).at(0).toULongLong(), quint64(2));
    }

    void retriesExhaustedFailEveryItem()
    {
        ManualScheduler scheduler;
        int attempts = 0;
        BatchProcessor<int, int> batcher(
            [&](const QList<int>&) -> QList<int> {
                ++attempts;
                throw std::runtime_error("database down");
            },
            BatchConfig { 3, 100, 2, 10 }, &scheduler);
        QSignalSpy failed(&batcher, &BatchProcessorBase::batchFailed);
        QList<QFuture<int>> futures { batcher.add(1), batcher.add(2), batcher.add(3) };
        scheduler.advance(1000);
        QCOMPARE(attempts, 3);
        for (auto& f : futures) {
            QVERIFY(f.isFinished());
            QVERIFY_THROWS_EXCEPTION(std::runtime_error, f.waitForFinished());
        }
        QCOMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(0).toString(), u"database down"_qs);
        QCOMPARE(failed.at(0).at(1).toInt(), 3);
        const BatchMetrics m = batcher.metrics();
        QCOMPARE(m.failedBatches, quint64(1));
        QCOMPARE(m.failedItems, quint64(3));
        QCOMPARE(m.batchDuration->errorCount, quint64(1));
    }

    void wrongResultCountFails()
    {
        ManualScheduler scheduler;
        BatchProcessor<int, int> batcher(
            [](const QList<int>&) { return QList<int> { 1 }; }, BatchConfig { 2, 10, 0, 0 }, &scheduler);
        auto a = batcher.add(1);
        batcher.add(2);
        QVERIFY_THROWS_EXCEPTION(std::length_error, a.waitForFinished());
    }

    void flushRunsNow()
    {
        ManualScheduler scheduler;
        BatchProcessor<int, int> batcher(
            [](const QList<int>& items) { return items; }, BatchConfig { 10, 1000, 0, 0 }, &scheduler);
        auto a = batcher.add(1);
        batcher.flush();
        QVERIFY(a.isFinished());
        QCOMPARE(scheduler.pendingTasks(), 0);
    }

    void stressEightThreadsEveryItemOnce()
    {
        constexpr int Threads = 8, PerThread = 12'500, Total = Threads * PerThread;
        std::vector<std::atomic<int>> seen(Total);
        BatchProcessor<int, int> batcher(
            [&](const QList<int>& items) {
                QList<int> out;
                out.reserve(items.size());
                for (int i : items) {
                    seen[std::size_t(i)].fetch_add(1);
                    out.append(i * 2);
                }
                return out;
            },
            BatchConfig { 256, 5, 0, 0 });
        std::vector<QList<QFuture<int>>> futures(Threads);
        QList<QThread*> threads;
        for (int t = 0; t < Threads; ++t) {
            threads.append(QThread::create([&, t] {
                for (int i = 0; i < PerThread; ++i)
                    futures[std::size_t(t)].append(batcher.add(t * PerThread + i));
            }));
            threads.last()->start();
        }
        for (QThread* t : threads) {
            QVERIFY(t->wait(120'000));
            delete t;
        }
        QTRY_COMPARE_WITH_TIMEOUT(batcher.metrics().items, quint64(Total), 120'000);
        for (int t = 0; t < Threads; ++t) {
            for (int i = 0; i < PerThread; ++i) {
                const QFuture<int>& f = futures[std::size_t(t)][i];
                QVERIFY(f.isFinished());
                QCOMPARE(f.result(), (t * PerThread + i) * 2);
            }
        }
        for (int i = 0; i < Total; ++i)
            QCOMPARE(seen[std::size_t(i)].load(), 1);
        QCOMPARE(batcher.metrics().currentBatchSize, 0);
    }
};

QTEST_GUILESS_MAIN(TestBatchProcessor)
#include "tst_batchprocessor.moc"
