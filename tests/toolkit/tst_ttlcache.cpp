// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/ttlcache.h"

#include <QSemaphore>
#include <QTest>
#include <QThread>

#include <atomic>
#include <stdexcept>

using namespace perfdash;

class TestTtlCache : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void expiry()
    {
        ManualClock clock;
        TtlCache<QString, int> cache(100, 10, &clock);
        cache.put(u"a"_qs, 1);
        clock.advanceMs(99);
        QCOMPARE(cache.get(u"a"_qs), std::optional<int>(1));
        clock.advanceMs(1);
        QCOMPARE(cache.get(u"a"_qs), std::nullopt); // exactly the TTL: gone
        QCOMPARE(cache.size(), 0);
        const CacheMetrics m = cache.metrics();
        QCOMPARE(m.hits, quint64(1));
        QCOMPARE(m.misses, quint64(1));
        QCOMPARE(m.expirations, quint64(1));
        cache.put(u"b"_qs, 2);
        clock.advanceMs(60);
        cache.put(u"b"_qs, 3); // a new value restarts its time
        clock.advanceMs(60);
        QCOMPARE(cache.get(u"b"_qs), std::optional<int>(3));
    }

    void leastRecentlyUsedEvictionOrder()
    {
        ManualClock clock;
        TtlCache<int, int> cache(10'000, 3, &clock);
        cache.put(1, 10);
        cache.put(2, 20);
        cache.put(3, 30);
        QVERIFY(cache.get(1)); // 1 is now the most recently used; 2 the least
        cache.put(4, 40);
        QCOMPARE(cache.get(2), std::nullopt);
        QVERIFY(cache.get(1) && cache.get(3) && cache.get(4));
        cache.put(5, 50); // read in the order 1, 3, 4: 1 is the least recently used now
        QCOMPARE(cache.get(1), std::nullopt);
        QCOMPARE(cache.metrics().evictions, quint64(2));
        QVERIFY(cache.remove(3));
        QVERIFY(!cache.remove(3));
        cache.clear();
        QCOMPARE(cache.size(), 0);
    }

    void getOrComputeRunsOnceForConcurrentMisses()
    {
        TtlCache<QString, int> cache(60'000, 10);
        QSemaphore computing, release;
        std::atomic<int> runs { 0 };
        QFuture<int> first;
        QThread* owner = QThread::create([&] {
            first = cache.getOrCompute(u"k"_qs, [&] {
                ++runs;
                computing.release();
                release.acquire(); // held until every other caller has asked
                return 42;
            });
        });
        owner->start();
        computing.acquire();
        QList<QFuture<int>> others;
        QList<QThread*> threads;
        QMutex othersMutex;
        for (int i = 0; i < 7; ++i) {
            threads.append(QThread::create([&] {
                auto f = cache.getOrCompute(u"k"_qs, [&] {
                    ++runs;
                    return -1;
                });
                QMutexLocker lock(&othersMutex);
                others.append(f);
            }));
            threads.last()->start();
        }
        for (QThread* t : threads) {
            QVERIFY(t->wait(30'000));
            delete t;
        }
        release.release();
        QVERIFY(owner->wait(30'000));
        delete owner;
        QCOMPARE(first.result(), 42);
        for (const auto& f : others)
            QCOMPARE(f.result(), 42);
        QCOMPARE(runs.load(), 1);
        QCOMPARE(cache.metrics().computations, quint64(1));
        QCOMPARE(cache.getOrCompute(u"k"_qs, [] { return 0; }).result(), 42); // now a hit
    }

    void failedComputationIsNotCached()
    {
        TtlCache<int, int> cache(60'000, 10);
        auto failed = cache.getOrCompute(1, []() -> int { throw std::runtime_error("no"); });
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, failed.waitForFinished());
        QCOMPARE(cache.size(), 0);
        QCOMPARE(cache.getOrCompute(1, [] { return 5; }).result(), 5);
    }
};

QTEST_GUILESS_MAIN(TestTtlCache)
#include "tst_ttlcache.moc"
