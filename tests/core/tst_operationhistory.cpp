// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/operationhistory.h"

#include <QTest>

#include <cmath>
#include <random>

using namespace perfdash;

namespace {
constexpr qint64 T0 = 1'699'999'200'000; // a whole hour, in ms
}

class TestOperationHistory : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    /// An operation that saw one event cost 134 KB (five dense histograms and a
    /// 300-slot ring); it must cost what it holds, with the same statistics.
    void sparseOperationCostsLittle_data()
    {
        QTest::addColumn<int>("events");
        QTest::addColumn<int>("maxBytes");
        QTest::newRow("one event") << 1 << 4096;
        QTest::newRow("a handful") << 5 << 4096;
        // 300 one-bucket seconds in the window, and 600 points of the per-second series (kept an hour)
        QTest::newRow("one event a second for 10 minutes") << 600 << 96 * 1024;
    }
    void sparseOperationCostsLittle()
    {
        QFETCH(int, events);
        QFETCH(int, maxBytes);
        OperationHistory h;
        const qint64 start = 1'700'000'000'000;
        for (int i = 0; i < events; ++i)
            h.record(start + qint64(i) * (events > 10 ? 1000 : 10), 5'000 + quint64(i), true);
        h.advanceTo(start + qint64(events) * 1000 + 1000);
        QVERIFY2(h.memoryBytes() < std::size_t(maxBytes), qPrintable(QString::number(h.memoryBytes())));
        QCOMPARE(h.totalCount(), quint64(events));
        const OperationStats s
            = h.stats(start + qint64(events) * 1000 + 1000, StatsWindow::session(), QStringLiteral("op"));
        QCOMPARE(s.count, quint64(events));
        QCOMPARE(s.minNs, quint64(5'000));
        QCOMPARE(s.maxNs, quint64(5'000 + events - 1));
    }

    void windowSlotsDropOffOnTime_data()
    {
        QTest::addColumn<int>("window");
        QTest::newRow("10 s") << 10;
        QTest::newRow("1 min") << 60;
        QTest::newRow("5 min (accumulator)") << 300;
        QTest::newRow("37 s (any length)") << 37;
    }
    void windowSlotsDropOffOnTime()
    {
        QFETCH(int, window);
        OperationHistory h;
        // One operation per second, lasting (second index + 1) microseconds.
        for (int s = 0; s < 400; ++s)
            h.record(T0 + s * 1000 + 500, quint64(s + 1) * 1000, s % 10 != 0);
        const qint64 now = T0 + 399 * 1000 + 900; // still inside second 399
        const OperationStats st = h.stats(now, StatsWindow::last(window), QStringLiteral("op"));
        QCOMPARE(st.count, quint64(window));
        QCOMPARE(st.minNs, quint64(400 - window + 1) * 1000);
        QCOMPARE(st.maxNs, quint64(400) * 1000);
        quint64 errors = 0;
        for (int s = 400 - window; s < 400; ++s)
            errors += s % 10 == 0 ? 1 : 0;
        QCOMPARE(st.errorCount, errors);

        // Exactly when the next second starts, the oldest second leaves the window.
        const OperationStats next = h.stats(T0 + 400 * 1000, StatsWindow::last(window), QStringLiteral("op"));
        QCOMPARE(next.count, quint64(window - 1));
        QCOMPARE(next.minNs, quint64(400 - window + 2) * 1000);
        // After the whole window has passed without events, it is empty.
        const OperationStats later
            = h.stats(T0 + (400 + window) * 1000, StatsWindow::last(window), QStringLiteral("op"));
        QCOMPARE(later.count, quint64(0));
        // The session keeps everything.
        QCOMPARE(h.stats(T0 + (400 + window) * 1000, StatsWindow::session(), QStringLiteral("op")).count, quint64(400));
    }

    void windowPercentilesMatchExact()
    {
        OperationHistory h;
        std::mt19937_64 rng(3);
        std::lognormal_distribution<double> dist(std::log(1e6), 1.0);
        std::vector<quint64> lastMinute;
        for (int s = 0; s < 120; ++s) {
            for (int i = 0; i < 500; ++i) {
                const auto v = quint64(dist(rng));
                h.record(T0 + s * 1000 + i, v, true);
                if (s >= 120 - 60)
                    lastMinute.push_back(v);
            }
        }
        std::sort(lastMinute.begin(), lastMinute.end());
        const OperationStats st = h.stats(T0 + 119 * 1000 + 999, StatsWindow::last(60), QStringLiteral("op"));
        QCOMPARE(st.count, quint64(lastMinute.size()));
        const auto exact = [&](double q) {
            return double(lastMinute[std::size_t(std::ceil(q * double(lastMinute.size()) - 1e-9)) - 1]);
        };
        for (auto [q, v] : { std::pair { 0.5, st.p50Ns }, { 0.9, st.p90Ns }, { 0.99, st.p99Ns }, { 0.999, st.p999Ns } })
            QVERIFY2(std::abs(double(v) - exact(q)) / exact(q) < 0.01, qPrintable(QString::number(q)));
        QCOMPARE(st.minNs, lastMinute.front());
        QCOMPARE(st.maxNs, lastMinute.back());
    }

    void seriesPerSecondThenDownsampled()
    {
        OperationHistory h;
        // Two hours of one event per second, plus an error every minute at second 30.
        const int seconds = 2 * 3600;
        for (int s = 0; s < seconds; ++s)
            h.record(T0 + s * 1000, 1000 + quint64(s % 60) * 10, s % 60 != 30);
        h.advanceTo(T0 + seconds * 1000);
        const auto points = h.series(T0 - 1, T0 + seconds * 1000);
        // The last hour per second, the first hour as minutes: every event is counted once.
        quint64 total = 0, errors = 0;
        int minutePoints = 0, secondPoints = 0;
        qint64 previous = 0;
        for (const SeriesPoint& p : points) {
            QVERIFY(p.timestampMs > previous);
            previous = p.timestampMs;
            total += p.count;
            errors += p.errors;
            minutePoints += p.resolutionS == 60 ? 1 : 0;
            secondPoints += p.resolutionS == 1 ? 1 : 0;
        }
        QCOMPARE(total, quint64(seconds));
        QCOMPARE(errors, quint64(seconds / 60));
        QCOMPARE(secondPoints, OperationHistory::SecondPointsKept);
        QCOMPARE(minutePoints, 60);
        // A minute point is computed from the minute's merged histogram: max of 1000..1590 ns.
        const SeriesPoint& firstMinute = points.front();
        QCOMPARE(firstMinute.timestampMs, T0);
        QCOMPARE(firstMinute.count, quint64(60));
        QCOMPARE(firstMinute.maxNs, quint64(1590));
        QVERIFY(std::abs(double(firstMinute.p50Ns) - 1290.0) / 1290.0 < 0.01);
    }

    void currentSecondOnlyWhenAsked()
    {
        OperationHistory h;
        h.record(T0 + 100, 5000, true);
        QVERIFY(h.series(T0, T0 + 1000).empty());
        const auto withCurrent = h.series(T0, T0 + 1000, true);
        QCOMPARE(withCurrent.size(), std::size_t(1));
        QCOMPARE(withCurrent.front().count, quint64(1));
    }

    void timeGoingBackwardsStaysInCurrentSecond()
    {
        OperationHistory h;
        h.record(T0 + 5000, 100, true);
        h.record(T0 + 1000, 200, true); // wall clock stepped back
        const OperationStats st = h.stats(T0 + 5000, StatsWindow::last(1), QStringLiteral("op"));
        QCOMPARE(st.count, quint64(2));
    }

    void histogramDeltas()
    {
        OperationHistory h;
        LatencyHistogram delta;
        for (int i = 1; i <= 100; ++i)
            delta.record(quint64(i) * 1000);
        h.recordHistogram(T0, delta, 7);
        h.recordHistogram(T0 + 1000, delta, 500); // more errors than events is clamped
        const OperationStats st = h.stats(T0 + 1500, StatsWindow::session(), QStringLiteral("op"));
        QCOMPARE(st.count, quint64(200));
        QCOMPARE(st.errorCount, quint64(107));
        QCOMPARE(st.maxNs, quint64(100'000));
    }

    void dayLongSessionStaysUnderOneMegabyte()
    {
        // 26 hours at 50 events a second from a wide log-normal (many distinct buckets a second).
        OperationHistory h;
        std::mt19937_64 rng(11);
        std::lognormal_distribution<double> dist(std::log(2e6), 1.5);
        const int seconds = 26 * 3600;
        std::size_t peak = 0;
        for (int s = 0; s < seconds; ++s) {
            for (int i = 0; i < 50; ++i)
                h.record(T0 + qint64(s) * 1000 + i * 20, quint64(dist(rng)), i != 0);
            if (s % 3600 == 0)
                peak = std::max(peak, h.memoryBytes());
        }
        peak = std::max(peak, h.memoryBytes());
        qInfo("memory after 26 h: %zu bytes (peak %zu)", h.memoryBytes(), peak);
        QVERIFY2(peak < 1024 * 1024, qPrintable(QString::number(peak)));
        QCOMPARE(h.totalCount(), quint64(seconds) * 50);
        QCOMPARE(h.totalErrors(), quint64(seconds));
        // The series still reaches back to the start, at hour resolution beyond a day.
        const auto points = h.series(T0, T0 + qint64(seconds) * 1000);
        QCOMPARE(points.front().timestampMs, T0);
        QCOMPARE(points.front().resolutionS, 3600);
        quint64 total = 0;
        for (const SeriesPoint& p : points)
            total += p.count;
        QCOMPARE(total, quint64(seconds - 1) * 50); // all but the unfinished last second
    }

    void clearForgetsEverything()
    {
        OperationHistory h;
        h.record(T0, 10, true);
        h.clear();
        QCOMPARE(h.totalCount(), quint64(0));
        QVERIFY(h.series(T0 - 10000, T0 + 10000, true).empty());
    }
};

QTEST_GUILESS_MAIN(TestOperationHistory)
#include "tst_operationhistory.moc"
