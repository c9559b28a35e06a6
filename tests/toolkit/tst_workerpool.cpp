// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/workerpool.h"

#include <QSemaphore>
#include <QSignalSpy>
#include <QTest>

#include <stdexcept>

using namespace perfdash;

class TestWorkerPool : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void resultsAndPerTypeStats()
    {
        WorkerPool pool(2);
        QList<QFuture<int>> squares;
        for (int i = 0; i < 20; ++i)
            squares.append(pool.submit(u"square"_qs, [i] { return i * i; }));
        auto done = pool.submit(u"noop"_qs, [] {});
        for (int i = 0; i < 20; ++i)
            QCOMPARE(squares[i].result(), i * i);
        done.waitForFinished();
        QVERIFY(pool.waitForDone(30'000));
        const WorkerPool::Metrics m = pool.metrics();
        QCOMPARE(m.poolSize, 2);
        QCOMPARE(m.submitted, quint64(21));
        QCOMPARE(m.completed, quint64(21));
        QCOMPARE(m.failed, quint64(0));
        QCOMPARE(m.queueLength, 0);
        QCOMPARE(m.activeWorkers, 0);
        QCOMPARE(m.perType.size(), 2);
        QCOMPARE(m.perType[0].operation, u"worker.noop"_qs);
        QCOMPARE(m.perType[1].count, quint64(20));
    }

    void throwingTaskFailsItsFutureNotThePool()
    {
        WorkerPool pool(1);
        QSignalSpy failed(&pool, &WorkerPool::taskFailed);
        auto bad = pool.submit(u"parse"_qs, []() -> int { throw std::invalid_argument("bad frame"); });
        auto good = pool.submit(u"parse"_qs, [] { return 1; });
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, bad.waitForFinished());
        QCOMPARE(good.result(), 1);
        QVERIFY(pool.waitForDone(30'000));
        QTRY_COMPARE(failed.count(), 1);
        QCOMPARE(failed.at(0).at(1).toString(), u"bad frame"_qs);
        QCOMPARE(pool.metrics().failed, quint64(1));
        QCOMPARE(pool.metrics().perType[0].errorCount, quint64(1));
    }

    void cancellationOfQueuedWork()
    {
        WorkerPool pool(1);
        QSemaphore started, release;
        auto blocker = pool.submit(u"block"_qs, [&] {
            started.release();
            release.acquire();
            return 0;
        });
        started.acquire(); // the only worker is busy now
        std::atomic<int> ran { 0 };
        QList<QFuture<void>> queued;
        for (int i = 0; i < 5; ++i)
            queued.append(pool.submit(u"queued"_qs, [&] { ++ran; }));
        QCOMPARE(pool.metrics().queueLength, 5);
        QCOMPARE(pool.metrics().activeWorkers, 1);
        queued[4].cancel(); // one through its future...
        QCOMPARE(pool.cancelQueued(), 5); // ...and all of them through the pool
        for (const auto& f : queued)
            QVERIFY(f.isCanceled());
        release.release();
        QCOMPARE(blocker.result(), 0);
        QVERIFY(pool.waitForDone(30'000));
        QCOMPARE(ran.load(), 0);
        QCOMPARE(pool.metrics().cancelled, quint64(5));
        QCOMPARE(pool.metrics().queueLength, 0);
    }

    void cancelledThroughFutureIsSkipped()
    {
        WorkerPool pool(1);
        QSemaphore started, release;
        pool.submit(u"block"_qs, [&] {
            started.release();
            release.acquire();
        });
        started.acquire();
        std::atomic<bool> ran { false };
        auto skipped = pool.submit(u"later"_qs, [&] { ran = true; });
        skipped.cancel();
        release.release();
        QVERIFY(pool.waitForDone(30'000));
        QVERIFY(!ran.load());
        QCOMPARE(pool.metrics().cancelled, quint64(1));
    }
};

QTEST_GUILESS_MAIN(TestWorkerPool)
#include "tst_workerpool.moc"
