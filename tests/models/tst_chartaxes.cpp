// SPDX-License-Identifier: GPL-3.0-or-later
// The charts' axis arithmetic (core/chartaxes.h): time ranges, round ticks, log decades, decimation.
#include "models/chartaxes.h"

#include "tests/helpers/roundsteps.h"

#include <QTest>

#include <cmath>
#include <limits>

using namespace perfdash;

namespace {
constexpr qint64 T0 = 1'700'000'000'000; // a whole second
}

class TestChartAxes : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void rangeStartsWhereTheDataDoes_data()
    {
        QTest::addColumn<qint64>("now");
        QTest::addColumn<qint64>("rangeMs");
        QTest::addColumn<qint64>("firstData");
        QTest::addColumn<qint64>("expectedFrom");
        QTest::addColumn<qint64>("expectedTo");
        const qint64 now = T0 + 600'400;
        const qint64 end = T0 + 601'000;
        // Guards against: 15 s of data in a 5 min range gave a 40 s axis with the data in its right third.
        QTest::newRow("5 min, 15 s of data") << now << qint64(300'000) << now - 15'000 << end - 16'000 << end;
        QTest::newRow("5 min, 2 min of data") << now << qint64(300'000) << now - 120'000 << end - 121'000 << end;
        // And "1 min" showed 75 s with its left fifth blank although older data existed.
        QTest::newRow("1 min, 8 min of data") << now << qint64(60'000) << now - 480'000 << end - 60'000 << end;
        QTest::newRow("5 min, 8 min of data") << now << qint64(300'000) << now - 480'000 << end - 300'000 << end;
        QTest::newRow("session, 8 min of data") << now << qint64(0) << now - 480'000 << end - 481'000 << end;
        QTest::newRow("2 s of data: the shortest axis")
            << now << qint64(300'000) << now - 2'000 << end - chartaxes::MinSpanMs << end;
        QTest::newRow("no data") << now << qint64(60'000) << now << end - chartaxes::MinSpanMs << end;
    }
    void rangeStartsWhereTheDataDoes()
    {
        QFETCH(qint64, now);
        QFETCH(qint64, rangeMs);
        QFETCH(qint64, firstData);
        QFETCH(qint64, expectedFrom);
        QFETCH(qint64, expectedTo);
        const chartaxes::TimeRange r = chartaxes::liveRange(now, rangeMs, firstData);
        QCOMPARE(r.toMs, expectedTo);
        QCOMPARE(r.fromMs, expectedFrom);
        if (rangeMs && firstData < now - rangeMs)
            QCOMPARE(r.spanMs(), rangeMs); // exactly the range, never more
        if (firstData < now - chartaxes::MinSpanMs && (!rangeMs || firstData > now - rangeMs))
            QVERIFY(r.fromMs <= firstData && firstData - r.fromMs < 1000); // starts where the data does
    }

    void timeTicksAreRoundTimes()
    {
        // 12:00:03.4 to 12:01:03: ticks at :10, :20..., whatever the ends are.
        const chartaxes::TimeRange r { T0 + 3'400, T0 + 63'000 };
        const QList<qint64> ticks = chartaxes::timeTicks(r, 10'000);
        QCOMPARE(ticks.size(), 6);
        QCOMPARE(ticks.first(), T0 + 10'000);
        QCOMPARE(ticks.last(), T0 + 60'000);
        // In local time: one hour steps at whole local hours, with a half-hour time zone.
        const qint64 offset = 30 * 60'000;
        const QList<qint64> hours = chartaxes::timeTicks({ T0, T0 + 3 * 3'600'000 }, 3'600'000, offset);
        QVERIFY(!hours.isEmpty());
        for (qint64 t : hours)
            QCOMPARE((t + offset) % 3'600'000, qint64(0));
    }

    void timeStepsDoNotCrowd()
    {
        const qint64 narrow = chartaxes::timeStepMs(300'000, 300, 50);
        const qint64 wide = chartaxes::timeStepMs(300'000, 1200, 50);
        QVERIFY(narrow > wide);
        QVERIFY(300'000 / narrow * 100 <= 300);
        QCOMPARE(chartaxes::timeStepMs(60'000, 1200, 50), qint64(5'000));
    }

    void valueTicksAreRound_data() { addRoundStepRows(); }
    void valueTicksAreRound()
    {
        QFETCH(double, max);
        QFETCH(double, step);
        QCOMPARE(chartaxes::niceStep(max, 5), step);
        const chartaxes::ValueAxis axis = chartaxes::niceAxis(max, 5);
        QVERIFY(axis.max >= max);
        QCOMPARE(axis.max, step * (axis.tickCount - 1));
    }

    void logAxisHugsTheData_data()
    {
        QTest::addColumn<double>("min");
        QTest::addColumn<double>("max");
        QTest::addColumn<double>("lower");
        QTest::addColumn<double>("upper");
        QTest::newRow("0.3 to 40 ms") << 0.3 << 40.0 << 0.1 << 100.0;
        QTest::newRow("2 to 8 ms: one decade") << 2.0 << 8.0 << 1.0 << 10.0;
        QTest::newRow("exactly 1 to 10") << 1.0 << 10.0 << 1.0 << 10.0;
        QTest::newRow("a flat 5") << 5.0 << 5.0 << 1.0 << 10.0;
        QTest::newRow("120 µs to 1.5 s in ms") << 0.12 << 1500.0 << 0.1 << 10000.0;
    }
    void logAxisHugsTheData()
    {
        QFETCH(double, min);
        QFETCH(double, max);
        QFETCH(double, lower);
        QFETCH(double, upper);
        const chartaxes::LogRange r = chartaxes::logRange(min, max);
        QVERIFY2(qFuzzyCompare(r.min, lower), qPrintable(QString::number(r.min)));
        QVERIFY2(qFuzzyCompare(r.max, upper), qPrintable(QString::number(r.max)));
        // Never a decade below the data's minimum , never above it.
        QVERIFY(r.min <= min && min < r.min * 10);
        QVERIFY(r.max >= max);
    }

    // What the charts pass before any point is counted: the minimum still at its start (the largest
    // double), the maximum at its floor. The axis must stay finite and small (its labels are made
    // one per decade: an infinite range never ended).
    void logAxisWithoutDataIsOneFiniteDecade_data()
    {
        QTest::addColumn<double>("min");
        QTest::addColumn<double>("max");
        const double huge = std::numeric_limits<double>::max();
        QTest::newRow("no data, in ms") << huge / 1e6 << 1.0 / 1e6;
        QTest::newRow("no data, in ns") << huge << 1.0;
        QTest::newRow("minimum over maximum") << 50.0 << 2.0;
        QTest::newRow("infinite maximum") << 1.0 << std::numeric_limits<double>::infinity();
        QTest::newRow("not a number") << std::nan("") << std::nan("");
        QTest::newRow("zero and negative") << 0.0 << -3.0;
    }
    void logAxisWithoutDataIsOneFiniteDecade()
    {
        QFETCH(double, min);
        QFETCH(double, max);
        const chartaxes::LogRange r = chartaxes::logRange(min, max);
        QVERIFY2(std::isfinite(r.min) && std::isfinite(r.max) && r.min > 0,
            qPrintable(QStringLiteral("%1 .. %2").arg(r.min).arg(r.max)));
        QVERIFY(r.max > r.min);
        QVERIFY2(r.max / r.min <= 1e3, qPrintable(QStringLiteral("%1 .. %2").arg(r.min).arg(r.max)));
        // The decades hold the maximum the charts will draw (their floor when nothing is counted).
        if (std::isfinite(max) && max > 0)
            QVERIFY2(r.min <= max && max <= r.max, qPrintable(QStringLiteral("%1 .. %2").arg(r.min).arg(r.max)));
    }

    void decimationKeepsPeaks()
    {
        QList<QPointF> points;
        for (int i = 0; i < 10'000; ++i)
            points.append(QPointF(i, i == 4321 ? 1000.0 : 1.0));
        const QList<QPointF> out = chartaxes::decimate(points, 1500);
        QCOMPARE(out.size(), 1500);
        QVERIFY(std::any_of(out.cbegin(), out.cend(), [](QPointF p) { return p.y() == 1000.0 && p.x() == 4321; }));
        QVERIFY(std::is_sorted(out.cbegin(), out.cend(), [](QPointF a, QPointF b) { return a.x() < b.x(); }));
        QCOMPARE(chartaxes::decimate(points.mid(0, 10), 1500), points.mid(0, 10));
    }
};

QTEST_GUILESS_MAIN(TestChartAxes)
#include "tst_chartaxes.moc"
