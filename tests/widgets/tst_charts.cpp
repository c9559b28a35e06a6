// SPDX-License-Identifier: GPL-3.0-or-later
// The charts as a user explores them: axis fitting and ticks, crosshair, legend, range selection,
// comparison of several operations, and the latency heatmap's buckets.
#include "core/clock.h"
#include "core/histogramqueries.h"
#include "core/performancemonitor.h"
#include "models/chartaxes.h"
#include "widgets/chartspanel.h"
#include "widgets/explorechartview.h"
#include "widgets/latencyheatmapview.h"

#include "tests/helpers/roundsteps.h"

#include <QChart>
#include <QDateTime>
#include <QLabel>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QRegularExpression>
#include <QScrollArea>
#include <QScrollBar>
#include <QSignalSpy>
#include <QTest>
#include <QToolButton>
#include <QValueAxis>

using namespace perfdash;
using namespace std::chrono_literals;

namespace {
constexpr qint64 T0 = 1'700'000'000'000; // a whole second

std::vector<SeriesPoint> points(int seconds, quint64 p99Ns, quint64 maxNs)
{
    std::vector<SeriesPoint> out;
    for (int i = 0; i < seconds; ++i) {
        SeriesPoint p;
        p.timestampMs = T0 + i * 1000LL;
        p.count = 10;
        p.p50Ns = p99Ns / 4;
        p.p95Ns = p99Ns / 2;
        p.p99Ns = p99Ns;
        p.maxNs = maxNs;
        out.push_back(p);
    }
    return out;
}

/// Shows @p panel at @p width x @p height; false when its window was not exposed.
bool showPanel(ChartsPanel& panel, int width, int height)
{
    panel.resize(width, height);
    panel.show();
    return QTest::qWaitForWindowExposed(&panel);
}

/// One operation's minute from T0: p99 4 ms, max 9 ms.
void setOneMinute(ChartsPanel& panel)
{
    panel.setLatency(QStringLiteral("op"), points(60, 4'000'000, 9'000'000), T0, T0 + 60'000);
}
} // namespace

class TestCharts : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    /// The axes show exactly the range they are given (chartaxes::liveRange() computes it), every
    /// chart the same one, labelled at round times under the bottom chart only.
    void everyChartShowsTheGivenRange()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 700, 900));
        const qint64 from = T0 + 3'000, to = T0 + 63'000;
        panel.setLatency(QStringLiteral("op"), points(60, 4'000'000, 9'000'000), from, to);
        panel.setMemory(QStringLiteral("svc"), {}, from, to);
        QCOMPARE(panel.timeRange(), std::pair(from, to));
        for (auto kind : { ChartsPanel::Kind::Latency, ChartsPanel::Kind::Throughput, ChartsPanel::Kind::Memory }) {
            auto* time = qobject_cast<QValueAxis*>(panel.view(kind)->chart()->axes(Qt::Horizontal).value(0));
            QVERIFY(time);
            QCOMPARE(time->min(), double(from));
            QCOMPARE(time->max(), double(to));
            QCOMPARE(time->labelsVisible(), kind == ChartsPanel::Kind::Memory);
        }
        const QList<qint64> ticks = panel.timeTicks();
        QVERIFY(ticks.size() >= 2);
        const qint64 step = ticks[1] - ticks[0];
        for (qint64 t : ticks) {
            QVERIFY(t > from && t <= to);
            QCOMPARE((t + QDateTime::fromMSecsSinceEpoch(t).offsetFromUtc() * 1000LL) % step, qint64(0));
        }
        // Labels never crowd: two label widths apart at least.
        const double plotWidth = panel.view(ChartsPanel::Kind::Memory)->chart()->plotArea().width();
        const double px = plotWidth * double(step) / double(to - from);
        QVERIFY2(px >= 2 * panel.fontMetrics().horizontalAdvance(QStringLiteral("00:00:00")),
            qPrintable(QString::number(px)));
    }

    void ticksAreRound_data() { addRoundStepRows(); }
    void ticksAreRound()
    {
        QFETCH(double, max);
        QFETCH(double, step);
        QCOMPARE(chartaxes::niceStep(max, 5), step);
        ChartsPanel panel;
        panel.resize(600, 800);
        panel.show();
        panel.setLatency(
            QStringLiteral("op"), points(60, quint64(max * 1e6 * 0.9), quint64(max * 1e6)), T0, T0 + 60'000);
        QValueAxis* axis = panel.latencyAxis();
        const double interval = axis->max() / (axis->tickCount() - 1);
        const double mantissa = interval / std::pow(10.0, std::floor(std::log10(interval)));
        QVERIFY2(qFuzzyCompare(mantissa, 1.0) || qFuzzyCompare(mantissa, 2.0) || qFuzzyCompare(mantissa, 5.0),
            qPrintable(QString::number(interval)));
        QVERIFY(axis->max() >= max * 0.999 && std::fmod(axis->max() / interval + 1e-9, 1.0) < 1e-6);
    }

    void p99IsDrawnOverMaxWithAnotherStyle()
    {
        ChartsPanel panel;
        panel.setLatency(QStringLiteral("op"), points(10, 5'000'000, 5'000'000), T0, T0 + 10'000);
        QChart* chart = panel.latencyView()->chart();
        QLineSeries* p99 = nullptr;
        QLineSeries* max = nullptr;
        int p99At = -1, maxAt = -1;
        const auto all = chart->series();
        for (int i = 0; i < all.size(); ++i) {
            auto* s = qobject_cast<QLineSeries*>(all[i]);
            if (s->name() == QStringLiteral("p99"))
                p99 = s, p99At = i;
            if (s->name() == QStringLiteral("max"))
                max = s, maxAt = i;
        }
        QVERIFY(p99 && max);
        QVERIFY(maxAt < p99At); // added first, drawn under
        QVERIFY(p99->pen().style() != max->pen().style());
        QVERIFY(p99->pen().widthF() > max->pen().widthF());
    }

    void crosshairShowsEverySeriesAtThatSecond()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 700, 900));
        setOneMinute(panel);
        const QString readout = panel.latencyView()->readoutAt(T0 + 30'500);
        QVERIFY2(readout.contains(QStringLiteral("p99 4 ms")), qPrintable(readout));
        QVERIFY2(readout.contains(QStringLiteral("max 9 ms")), qPrintable(readout));
        QVERIFY2(readout.contains(QStringLiteral("p50 1 ms")), qPrintable(readout));
        // Hovering the plot shows the crosshair there and on the other charts.
        ExploreChartView* view = panel.latencyView();
        const QPoint middle = view->mapFromScene(view->chart()->mapToScene(view->chart()->plotArea().center()));
        QTest::mouseMove(view->viewport(), middle);
        QTRY_VERIFY(view->crosshairVisible());
    }

    void legendClickHidesASeries()
    {
        ChartsPanel panel;
        panel.setLatency(QStringLiteral("op"), points(10, 4'000'000, 9'000'000), T0, T0 + 10'000);
        QVERIFY(panel.visibleLatencySeries().contains(QStringLiteral("max")));
        QToolButton* entry = nullptr;
        for (QToolButton* b : panel.legend(ChartsPanel::Kind::Latency)) {
            if (b->text() == QStringLiteral("max"))
                entry = b;
        }
        QVERIFY(entry);
        entry->click();
        QVERIFY(!panel.visibleLatencySeries().contains(QStringLiteral("max")));
        // Still there to click again, through refreshes.
        panel.setLatency(QStringLiteral("op"), points(11, 4'000'000, 9'000'000), T0, T0 + 11'000);
        QVERIFY(panel.legend(ChartsPanel::Kind::Latency).contains(entry));
        QVERIFY(!panel.visibleLatencySeries().contains(QStringLiteral("max")));
        entry->click();
        QVERIFY(panel.visibleLatencySeries().contains(QStringLiteral("max")));
    }

    /// The stacked charts' plots start and end at the same x whatever their labels ("20000/s"
    /// beside "5 ms"): the throughput plot sat 25 px left of the others, and the crosshair was off.
    void plotAreasLineUp()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 700, 900));
        std::vector<SeriesPoint> busy = points(60, 4'000'000, 9'000'000);
        for (SeriesPoint& p : busy)
            p.count = 23'000;
        QList<MemoryRecord> memory;
        for (int i = 0; i < 60; ++i) {
            MemoryRecord r;
            r.timestampMs = T0 + i * 1000LL;
            r.rssBytes = 3'900LL << 20;
            r.cpuPercent = 150.0;
            memory.append(r);
        }
        const auto refresh = [&] {
            panel.setLatency(QStringLiteral("op"), busy, T0, T0 + 60'000);
            panel.setHeatmap(QStringLiteral("op"), {}, T0, T0 + 60'000);
            panel.setMemory(QStringLiteral("svc"), memory, T0, T0 + 60'000);
        };
        refresh();
        const auto plot = [&](ChartsPanel::Kind kind) {
            ExploreChartView* view = panel.view(kind);
            const QRectF area = view->chart()->plotArea();
            const QPoint left = view->mapTo(&panel, view->mapFromScene(view->chart()->mapToScene(area.topLeft())));
            const QPoint right = view->mapTo(&panel, view->mapFromScene(view->chart()->mapToScene(area.topRight())));
            return std::pair(left.x(), right.x());
        };
        QString where;
        QTRY_VERIFY2(([&] {
            refresh();
            const auto latency = plot(ChartsPanel::Kind::Latency);
            const auto throughput = plot(ChartsPanel::Kind::Throughput);
            const auto memoryPlot = plot(ChartsPanel::Kind::Memory);
            const QRect heat = panel.heatmapView()->plotRect();
            const int heatLeft = panel.heatmapView()->mapTo(&panel, heat.topLeft()).x();
            where = QStringLiteral("latency %1..%2 throughput %3..%4 memory %5..%6 heatmap %7")
                        .arg(latency.first)
                        .arg(latency.second)
                        .arg(throughput.first)
                        .arg(throughput.second)
                        .arg(memoryPlot.first)
                        .arg(memoryPlot.second)
                        .arg(heatLeft);
            return std::abs(latency.first - throughput.first) <= 1 && std::abs(latency.first - memoryPlot.first) <= 1
                && std::abs(latency.second - throughput.second) <= 1
                && std::abs(latency.second - memoryPlot.second) <= 1 && std::abs(heatLeft - latency.first) <= 1;
        })(),
            qPrintable(where));
        // The labels have their room: the widest left label fits left of the plot.
        const int label = panel.fontMetrics().horizontalAdvance(QStringLiteral("25000/s"));
        QVERIFY2(panel.view(ChartsPanel::Kind::Throughput)->chart()->plotArea().left() >= label, qPrintable(where));
        // The same second is at the same x: a crosshair on one chart is under the mouse on all.
        const qint64 ms = T0 + 30'500;
        const int x1 = panel.view(ChartsPanel::Kind::Latency)
                           ->mapTo(&panel, panel.view(ChartsPanel::Kind::Latency)->positionOf(ms).toPoint())
                           .x();
        const int x2 = panel.view(ChartsPanel::Kind::Memory)
                           ->mapTo(&panel, panel.view(ChartsPanel::Kind::Memory)->positionOf(ms).toPoint())
                           .x();
        QVERIFY2(std::abs(x1 - x2) <= 1, qPrintable(QStringLiteral("%1 %2").arg(x1).arg(x2)));
    }

    /// A short panel scrolls: the plots keep a minimum height instead of squeezing to a strip.
    void shortPanelScrolls()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 600, 300));
        setOneMinute(panel);
        const int line = panel.fontMetrics().height();
        for (auto kind : { ChartsPanel::Kind::Latency, ChartsPanel::Kind::Throughput, ChartsPanel::Kind::Memory })
            QTRY_VERIFY(panel.view(kind)->chart()->plotArea().height() >= 3 * line);
        QTRY_VERIFY(panel.scrollArea()->verticalScrollBar()->maximum() > 0);
    }

    void dragSelectsARangeAndDoubleClickResets()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 700, 900));
        setOneMinute(panel);
        QSignalSpy range(&panel, &ChartsPanel::rangeChanged);
        ExploreChartView* view = panel.latencyView();
        const QRectF plot = view->chart()->plotArea();
        const auto at = [&](double f) {
            return view->mapFromScene(
                view->chart()->mapToScene(QPointF(plot.left() + plot.width() * f, plot.center().y())));
        };
        QTest::mousePress(view->viewport(), Qt::LeftButton, {}, at(0.25));
        QTest::mouseMove(view->viewport(), at(0.5));
        QTest::mouseRelease(view->viewport(), Qt::LeftButton, {}, at(0.75));
        QCOMPARE(range.size(), 1);
        const qint64 from = range[0][0].toLongLong(), to = range[0][1].toLongLong();
        const auto [axisFrom, axisTo] = panel.timeRange();
        const qint64 span = axisTo - axisFrom;
        QVERIFY2(std::abs(from - (axisFrom + span / 4)) < 2000, qPrintable(QString::number(from - axisFrom)));
        QVERIFY2(std::abs(to - (axisFrom + span * 3 / 4)) < 2000, qPrintable(QString::number(to - axisFrom)));
        QVERIFY(panel.zoomed());
        // The axes stay on the range while data goes on.
        panel.setLatency(QStringLiteral("op"), points(70, 4'000'000, 9'000'000), T0, T0 + 70'000);
        QVERIFY(panel.timeRange().second <= to + 1000);
        QTest::mouseDClick(view->viewport(), Qt::LeftButton, {}, at(0.5));
        QVERIFY(!panel.zoomed());
        QCOMPARE(range.last()[0].toLongLong(), qint64(0));
    }

    /// A header that goes to two lines (a long title, three legend entries) takes its height from
    /// the section, never from the plot's bottom: the chart stays inside its view, its bottom
    /// tick and axis line visible.
    void twoLineHeadersKeepThePlotInsideItsView()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 820, 620));
        setOneMinute(panel);
        const QStringList names { QStringLiteral("db.query — billing-worker"),
            QStringLiteral("http.GET /users — orders-api"), QStringLiteral("db.query — orders-api") };
        const std::vector<SeriesPoint> a = points(60, 8'000'000, 9'000'000), b = points(60, 2'000'000, 3'000'000),
                                       c = points(60, 1'000'000, 1'500'000);
        panel.setComparison(names, { a, b, c }, T0, T0 + 60'000);
        for (auto kind : { ChartsPanel::Kind::Latency, ChartsPanel::Kind::Throughput, ChartsPanel::Kind::Memory }) {
            ExploreChartView* view = panel.view(kind);
            const auto inside = [view] {
                return view->chart()->size().height() <= view->viewport()->height() + 0.5
                    && view->chart()->plotArea().bottom() < view->viewport()->height();
            };
            QTRY_VERIFY2(inside(),
                qPrintable(QStringLiteral("chart %1 tall, plot to %2, view %3")
                               .arg(view->chart()->size().height())
                               .arg(view->chart()->plotArea().bottom())
                               .arg(view->viewport()->height())));
        }
    }

    /// A title wider than its chart is cut in its middle (start and process kept), never clipped
    /// at the frame; the whole title stays in the tooltip.
    void aTitleTooWideIsCutInItsMiddle()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 330, 700));
        const QString operation = QStringLiteral("http.GET /api/v2/customers/{id}/orders/{order}/items — orders-api");
        panel.setLatency(operation, points(10, 4'000'000, 9'000'000), T0, T0 + 10'000);
        QCOMPARE(panel.latencyTitle(), QStringLiteral("Latency of %1").arg(operation));
        auto* title = panel.findChildren<QLabel*>().value(0);
        for (QLabel* label : panel.findChildren<QLabel*>()) {
            if (label->toolTip() == panel.latencyTitle())
                title = label;
        }
        QVERIFY(title && title->toolTip() == panel.latencyTitle());
        QTRY_VERIFY2(title->text().contains(QChar(0x2026)), qPrintable(title->text()));
        QVERIFY(title->text().startsWith(QStringLiteral("Latency of")));
        QVERIFY(title->text().endsWith(QStringLiteral("orders-api")));
        QVERIFY(title->fontMetrics().horizontalAdvance(title->text()) <= title->width());
    }

    void severalOperationsOnOneChart()
    {
        ChartsPanel panel;
        const QStringList names { QStringLiteral("db.query — orders-api"), QStringLiteral("db.query — billing"),
            QStringLiteral("cache.get — orders-api") };
        const auto compare = [&](int seconds) {
            std::vector<SeriesPoint> a = points(seconds, 8'000'000, 9'000'000),
                                     b = points(seconds, 2'000'000, 3'000'000),
                                     c = points(seconds, 1'000'000, 1'500'000);
            for (SeriesPoint& p : b)
                p.count = 40, p.errors = 4;
            panel.setComparison(names, { a, b, c }, T0, T0 + 60'000);
        };
        compare(10);
        QVERIFY(panel.comparing());
        // Exactly the selected operations, on the latency and the throughput chart alike.
        QCOMPARE(panel.visibleLatencySeries(), names);
        for (const QString& name : names)
            QVERIFY2(panel.visibleSeries(ChartsPanel::Kind::Throughput).contains(name), qPrintable(name));
        QCOMPARE(panel.legend(ChartsPanel::Kind::Throughput).size(), 3); // one entry per operation, errors included
        QCOMPARE(panel.latencyPoints(names[0]).first().y() * panel.latencyScale(), 8'000'000.0);
        QCOMPARE(panel.points(ChartsPanel::Kind::Throughput, names[1]).first().y(), 40.0);
        QCOMPARE(panel.points(ChartsPanel::Kind::Throughput, QStringLiteral("errors of %1").arg(names[1])).first().y(),
            10.0);
        QVERIFY(panel.latencyTitle().startsWith(QStringLiteral("p99 of 3")));
        // Each operation in its own colour, the same on both charts.
        QSet<QRgb> colours;
        for (QToolButton* entry : panel.legend(ChartsPanel::Kind::Latency))
            colours.insert(entry->icon()
                               .pixmap(entry->iconSize())
                               .toImage()
                               .pixel(entry->iconSize().width() / 2, entry->iconSize().height() / 2));
        QCOMPARE(colours.size(), 3);
        // The throughput keeps updating: a later snapshot with more seconds is charted.
        QCOMPARE(panel.points(ChartsPanel::Kind::Throughput, names[0]).size(), 10);
        compare(20);
        QCOMPARE(panel.points(ChartsPanel::Kind::Throughput, names[0]).size(), 20);
        QCOMPARE(panel.latencyPoints(names[2]).size(), 20);
        panel.setComparePercentile(ChartsPanel::Percentile::Max);
        compare(20);
        QCOMPARE(panel.latencyPoints(names[1]).first().y() * panel.latencyScale(), 3'000'000.0);
        // One operation again: its four series, its throughput and errors only.
        panel.setLatency(QStringLiteral("op"), points(10, 4'000'000, 9'000'000), T0, T0 + 10'000);
        QVERIFY(!panel.comparing());
        QCOMPARE(panel.visibleLatencySeries().size(), 4);
        QCOMPARE(panel.visibleSeries(ChartsPanel::Kind::Throughput).size(), 2);
    }

    /// A log latency axis covers whole decades around the data, not a decade below it.
    void logAxisStartsAtTheDataDecade()
    {
        ChartsPanel panel;
        panel.setLogScale(true);
        panel.setLatency(QStringLiteral("op"), points(10, 40'000'000, 60'000'000), T0, T0 + 10'000);
        // p50 is 10 ms, max 60 ms: 10 ms to 100 ms.
        QCOMPARE(panel.latencyUnit(), QStringLiteral("ms"));
        QCOMPARE(panel.latencyLogAxis()->min(), 10.0);
        QCOMPARE(panel.latencyLogAxis()->max(), 100.0);
    }

    /// Before the first point (a new operation, the window's start with the log axis chosen), the
    /// log axis is one finite decade: an infinite range made its per-decade labels never end.
    void logAxisWithoutPointsIsFinite()
    {
        ChartsPanel panel;
        panel.setLogScale(true);
        panel.setLatency(QStringLiteral("op"), {}, T0, T0 + 10'000);
        QVERIFY(std::isfinite(panel.latencyLogAxis()->max()));
        QVERIFY(panel.latencyLogAxis()->max() / panel.latencyLogAxis()->min() <= 10.0 + 1e-9);
        panel.setComparison(QStringList { QStringLiteral("a"), QStringLiteral("b") }, { {}, {} }, T0, T0 + 10'000);
        QVERIFY(std::isfinite(panel.latencyLogAxis()->max()));
    }

    void withoutOperationsOnlyMemoryIsShown()
    {
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 700, 900));
        panel.setOperationChartsShown(false, QStringLiteral("python3 streams no operations"));
        QVERIFY(!panel.view(ChartsPanel::Kind::Latency)->isVisible());
        QVERIFY(!panel.view(ChartsPanel::Kind::Throughput)->isVisible());
        QVERIFY(!panel.heatmapView()->isVisible());
        QVERIFY(panel.view(ChartsPanel::Kind::Memory)->isVisible());
        // The memory chart takes the room the others left.
        QTRY_VERIFY(panel.view(ChartsPanel::Kind::Memory)->height() > 500);
        panel.setOperationChartsShown(true);
        QVERIFY(panel.view(ChartsPanel::Kind::Latency)->isVisible());
    }

    void heatmapBucketsCountEachSecond()
    {
        ManualClock clock(T0);
        PerformanceMonitor monitor(&clock);
        // Bimodal: 90 fast (120 µs), 10 slow (20 ms) in the first second; 5 at 1.5 ms in the next.
        for (int i = 0; i < 90; ++i)
            monitor.record(QStringLiteral("db.query"), 120us);
        for (int i = 0; i < 10; ++i)
            monitor.record(QStringLiteral("db.query"), 20ms);
        clock.setWallMs(T0 + 1000);
        for (int i = 0; i < 5; ++i)
            monitor.record(QStringLiteral("db.query"), 1500us);
        clock.setWallMs(T0 + 2000);
        const LatencyHeatmap map
            = buildLatencyHeatmap(monitor, { QStringLiteral("db.query") }, T0 / 1000, T0 / 1000 + 1);
        QCOMPARE(map.columns, 2);
        const int fast = LatencyHeatmap::rowOfNs(120'000) - map.firstRow;
        const int slow = LatencyHeatmap::rowOfNs(20'000'000) - map.firstRow;
        const int mid = LatencyHeatmap::rowOfNs(1'500'000) - map.firstRow;
        QCOMPARE(map.count(0, fast), quint64(90));
        QCOMPARE(map.count(0, slow), quint64(10));
        QCOMPARE(map.count(1, mid), quint64(5));
        QCOMPARE(map.count(1, fast), quint64(0));
        QCOMPARE(map.maxCount, quint64(90));
        quint64 total = 0;
        for (quint64 c : map.counts)
            total += c;
        QCOMPARE(total, quint64(105));
        QVERIFY(map.rowLowerNs(fast) <= 120'000 && map.rowUpperNs(fast) > 120'000);
        QVERIFY(map.rowLowerNs(slow) <= 20'000'000 && map.rowUpperNs(slow) > 20'000'000);

        // The view says what is under the mouse.
        LatencyHeatmapView view;
        view.resize(600, 300);
        view.setHeatmap(QStringLiteral("db.query"), map, T0, T0 + 2000);
        const QRect plot = view.plotRect();
        const int y = plot.top() + int((map.rows - fast - 0.5) * plot.height() / map.rows);
        const auto cell = view.cellAt(QPoint(plot.left() + plot.width() / 4, y));
        QVERIFY(cell);
        QCOMPARE(cell->count, quint64(90));
        QCOMPARE(cell->second, T0 / 1000);
        QVERIFY(cell->fromNs <= 120'000 && cell->toNs > 120'000);
        QVERIFY2(LatencyHeatmapView::describe(*cell).contains(QStringLiteral("90 operations")),
            qPrintable(LatencyHeatmapView::describe(*cell)));
    }

    /// The heatmap's latency axis is labelled at round latencies (1, 2, 5 x 10^n: "500 µs", "2 ms"),
    /// not at its rows' odd bounds (631.0 µs, 316.2 µs, 5.01 ms), each at the height of its latency.
    void heatmapTicksAreRound_data()
    {
        QTest::addColumn<quint64>("fastNs");
        QTest::addColumn<quint64>("slowNs");
        QTest::addColumn<int>("height");
        QTest::newRow("120 µs to 20 ms, tall") << quint64(120'000) << quint64(20'000'000) << 400;
        QTest::newRow("120 µs to 20 ms, short") << quint64(120'000) << quint64(20'000'000) << 140;
        QTest::newRow("600 µs to 5.2 ms") << quint64(600'000) << quint64(5'200'000) << 300;
        QTest::newRow("80 ns to 3 s") << quint64(80) << quint64(3'000'000'000) << 300;
        QTest::newRow("one decade: 2.3 to 2.9 ms") << quint64(2'300'000) << quint64(2'900'000) << 300;
    }
    void heatmapTicksAreRound()
    {
        QFETCH(quint64, fastNs);
        QFETCH(quint64, slowNs);
        QFETCH(int, height);
        ManualClock clock(T0);
        PerformanceMonitor monitor(&clock);
        monitor.record(QStringLiteral("op"), std::chrono::nanoseconds(fastNs));
        monitor.record(QStringLiteral("op"), std::chrono::nanoseconds(slowNs));
        clock.setWallMs(T0 + 1000);
        const LatencyHeatmap map = buildLatencyHeatmap(monitor, { QStringLiteral("op") }, T0 / 1000, T0 / 1000);
        LatencyHeatmapView view;
        view.resize(600, height);
        view.setHeatmap(QStringLiteral("op"), map, T0, T0 + 1000);
        const QList<LatencyHeatmapView::Tick> ticks = view.latencyTicks();
        QStringList labels;
        for (const auto& tick : ticks)
            labels << tick.label;
        QVERIFY2(ticks.size() >= 2, qPrintable(labels.join(u',')));
        static const QRegularExpression whole(QStringLiteral("^[1-9][0-9]* (ns|µs|ms|s)$"));
        const QRect plot = view.plotRect();
        for (qsizetype i = 0; i < ticks.size(); ++i) {
            const auto& tick = ticks[i];
            const double mantissa = double(tick.ns) / std::pow(10.0, std::floor(std::log10(double(tick.ns))));
            QVERIFY2(qFuzzyCompare(mantissa, 1.0) || qFuzzyCompare(mantissa, 2.0) || qFuzzyCompare(mantissa, 5.0)
                    || (ticks.size() < 3 && qFuzzyCompare(mantissa, std::round(mantissa))),
                qPrintable(labels.join(u',')));
            QVERIFY2(whole.match(tick.label).hasMatch(), qPrintable(labels.join(u',')));
            // At the height of its latency: within the plot, above the one below it and not crowding it.
            const double rows = std::log10(double(tick.ns)) * LatencyHeatmap::RowsPerDecade - map.firstRow;
            QVERIFY(std::abs(tick.y - (plot.bottom() - rows * plot.height() / map.rows)) <= 1.0);
            QVERIFY(tick.y >= plot.top() - 1 && tick.y <= plot.bottom() + 1);
            if (i > 0)
                QVERIFY2(ticks[i - 1].y - tick.y >= view.fontMetrics().height(), qPrintable(labels.join(u',')));
        }
    }

    /// Under the latency chart, the heatmap shows the same seconds at the same x (its range once
    /// started 9 s later than the chart's, and its plot was wider).
    void heatmapLinesUpWithTheLatencyChart()
    {
        ManualClock clock(T0);
        PerformanceMonitor monitor(&clock);
        monitor.record(QStringLiteral("op"), 2ms);
        clock.setWallMs(T0 + 1000);
        const LatencyHeatmap map = buildLatencyHeatmap(monitor, { QStringLiteral("op") }, T0 / 1000, T0 / 1000);
        ChartsPanel panel;
        QVERIFY(showPanel(panel, 700, 900));
        // 31 s of data in a 5 min range (the range the window computes: where the data starts).
        const qint64 now = T0 + 31'400;
        panel.setLatency(QStringLiteral("op"), points(31, 400'000'000, 600'000'000), T0, now);
        QTRY_VERIFY(panel.latencyView()->chart()->plotArea().width() > 0);
        panel.setLatency(QStringLiteral("op"), points(31, 400'000'000, 600'000'000), T0, now);
        QChart* chart = panel.latencyView()->chart();
        LatencyHeatmapView* heatmap = panel.heatmapView();
        const auto x = [&](QPointF scene) {
            return heatmap->mapFromGlobal(panel.latencyView()->mapToGlobal(panel.latencyView()->mapFromScene(scene)))
                .x();
        };
        // Refreshed as the window does, once the chart has laid its new labels out.
        QString where;
        QTRY_VERIFY2(([&] {
            panel.setHeatmap(QStringLiteral("op"), map, now - 300'000, now);
            const QRectF area = chart->plotArea();
            where = QStringLiteral("heatmap %1..%2, chart %3..%4")
                        .arg(heatmap->plotRect().left())
                        .arg(heatmap->plotRect().right())
                        .arg(x(area.topLeft()))
                        .arg(x(area.topRight()));
            return std::abs(heatmap->plotRect().left() - x(area.topLeft())) <= 1
                && std::abs(heatmap->plotRect().right() - x(area.topRight())) <= 2;
        })(),
            qPrintable(where));
        QCOMPARE(heatmap->fromMs(), panel.timeRange().first);
        QCOMPARE(heatmap->toMs(), panel.timeRange().second);
    }

    void mergedSeriesOfAGroup()
    {
        ManualClock clock(T0);
        PerformanceMonitor monitor(&clock);
        for (int i = 0; i < 99; ++i)
            monitor.record(QStringLiteral("http.get"), 1ms);
        monitor.record(QStringLiteral("http.post"), 50ms, false);
        clock.setWallMs(T0 + 1000);
        const auto series
            = mergedSeries(monitor, { QStringLiteral("http.get"), QStringLiteral("http.post") }, T0, T0 + 1000);
        QCOMPARE(series.size(), std::size_t(1));
        QCOMPARE(series[0].count, quint64(100));
        QCOMPARE(series[0].errors, quint64(1));
        QCOMPARE(series[0].maxNs, quint64(50'000'000));
        QVERIFY(std::abs(double(series[0].p99Ns) - 1e6) < 1e4); // the 99th of 100 is still a fast one
    }
};

QTEST_MAIN(TestCharts)
#include "tst_charts.moc"
