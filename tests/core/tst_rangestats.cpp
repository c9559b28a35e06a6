// SPDX-License-Identifier: GPL-3.0-or-later
// Statistics over a time range chosen on the charts: the Slow column counts the range's instances
// at or over the slow threshold (it read 0 on every row, even where Max was 672 ms).
#include "core/dashboardsnapshot.h"
#include "core/histogramqueries.h"
#include "core/metricsstore.h"

#include <QTest>

using namespace perfdash;

class TestRangeStats : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    /// Second 0: 5 fast, 2 slow; second 1: 1 fast, 1 slow; second 2: 4 slow.
    void slowCountIsThatOfTheRange_data()
    {
        QTest::addColumn<int>("fromSecond");
        QTest::addColumn<int>("toSecond");
        QTest::addColumn<int>("count");
        QTest::addColumn<int>("slow");
        QTest::newRow("first second") << 0 << 0 << 7 << 2;
        QTest::newRow("first two") << 0 << 1 << 9 << 3;
        QTest::newRow("last two") << 1 << 2 << 6 << 5;
        QTest::newRow("all") << 0 << 2 << 13 << 7;
    }
    void slowCountIsThatOfTheRange()
    {
        QFETCH(int, fromSecond);
        QFETCH(int, toSecond);
        QFETCH(int, count);
        QFETCH(int, slow);
        ManualClock clock(1'700'000'000'000);
        PerformanceMonitor monitor(&clock);
        monitor.setSlowThreshold(std::chrono::milliseconds(10));
        const qint64 start = clock.wallMs();
        const auto record = [&](int fast, std::initializer_list<quint64> slowNs) {
            for (int i = 0; i < fast; ++i)
                monitor.record(QStringLiteral("op"), std::chrono::microseconds(800));
            for (const quint64 ns : slowNs)
                monitor.record(QStringLiteral("op"), std::chrono::nanoseconds(ns));
            clock.advanceMs(1000);
        };
        record(5, { 10'000'000, 672'000'000 }); // at the threshold counts
        record(1, { 20'000'000 });
        record(0, { 11'000'000, 12'000'000, 50'000'000, 3'000'000'000 });
        const auto stats = rangeStats(monitor, { QStringLiteral("op") }, QStringLiteral("op"),
            start + fromSecond * 1000, start + toSecond * 1000 + 999);
        QVERIFY(stats);
        QCOMPARE(stats->count, quint64(count));
        QCOMPARE(stats->slowCount, quint64(slow));
    }

    /// Each operation is held to its own threshold (patterns), also when rows are merged
    /// ("db.*"), and counts sent as histograms (the client's way) are counted as well.
    void eachOperationItsOwnThreshold()
    {
        ManualClock clock(1'700'000'000'000);
        PerformanceMonitor monitor(&clock);
        monitor.setSlowThreshold(std::chrono::milliseconds(10));
        monitor.setThresholds(QStringLiteral("db.*"), std::chrono::milliseconds(100), std::chrono::milliseconds(500));
        const qint64 start = clock.wallMs();
        LatencyHistogram sent;
        sent.recordMany(20'000'000, 3); // 20 ms: slow for "http" (10 ms), not for "db.query" (100 ms)
        sent.recordMany(200'000'000, 2); // 200 ms: slow for both
        monitor.recordHistogram(QStringLiteral("db.query"), sent, 0);
        monitor.recordHistogram(QStringLiteral("http"), sent, 0);
        clock.advanceMs(1000);
        const auto db
            = rangeStats(monitor, { QStringLiteral("db.query") }, QStringLiteral("db.query"), start, start + 999);
        const auto http = rangeStats(monitor, { QStringLiteral("http") }, QStringLiteral("http"), start, start + 999);
        const auto both = rangeStats(
            monitor, { QStringLiteral("db.query"), QStringLiteral("http") }, QStringLiteral("*"), start, start + 999);
        QVERIFY(db && http && both);
        QCOMPARE(db->slowCount, quint64(2));
        QCOMPARE(http->slowCount, quint64(5));
        QCOMPARE(both->slowCount, quint64(7));
        QCOMPARE(both->count, quint64(10));
    }

    /// What the table gets: the rows of a snapshot over a range.
    void snapshotRowsOverARange()
    {
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        store.setSlowThreshold(std::chrono::milliseconds(50), std::chrono::milliseconds(500));
        const quint64 key = store.openProcess(4242, QStringLiteral("svc"), {});
        const qint64 start = clock.wallMs();
        for (int i = 0; i < 20; ++i)
            store.recordOperation(key, QStringLiteral("http.GET /users"), i < 17 ? 2'000'000 : 672'000'000, true, {});
        clock.advanceMs(1000);
        store.recordOperation(key, QStringLiteral("http.GET /users"), 900'000'000, true, {}); // outside the range
        clock.advanceMs(1000);
        SnapshotRequest request;
        request.statsFromMs = start;
        request.statsToMs = start + 999;
        const SnapshotPtr snapshot = buildSnapshot(store, request);
        QCOMPARE(snapshot->operations.size(), 1);
        QCOMPARE(snapshot->operations.constFirst().stats.count, quint64(20));
        QCOMPARE(snapshot->operations.constFirst().stats.maxNs, quint64(672'000'000));
        QCOMPARE(snapshot->operations.constFirst().stats.slowCount, quint64(3));
    }
};

QTEST_GUILESS_MAIN(TestRangeStats)
#include "tst_rangestats.moc"
