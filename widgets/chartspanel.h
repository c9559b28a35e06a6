// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "csvexport.h"
#include "histogramqueries.h"
#include "operationhistory.h"

#include <QWidget>

#include <memory>
#include <vector>

class QAbstractAxis;
class QChart;
class QComboBox;
class QDateTimeAxis;
class QLabel;
class QLineSeries;
class QLogValueAxis;
class QValueAxis;

namespace perfdash {

class ExploreChartView;
class LatencyHeatmapView;

/**
 * The live charts: latency percentiles of the selected operation (or one percentile of several
 * operations, to compare them), its latency heatmap, its throughput and error rate, and the
 * selected process's memory and CPU. The time axis fits the data until the chosen range fills,
 * moves by whole seconds and has round steps; all charts share it, and hovering one shows the
 * crosshair on all. Dragging on a chart selects a range (rangeChanged()), which freezes the axes
 * on it until a double click. Each series is updated with one replace() of at most MaxPoints
 * points (older intervals are merged, keeping each group's worst value); no animations.
 */
class ChartsPanel : public QWidget
{
    Q_OBJECT
public:
    static constexpr int MaxPoints = 1500;
    /// The time axis never spans less than this while the data is younger.
    static constexpr qint64 MinSpanMs = 30'000;
    enum class Percentile { P50, P95, P99, Max };

    explicit ChartsPanel(QWidget* parent = nullptr);
    ~ChartsPanel() override;

    void setLatency(const QString& title, const std::vector<SeriesPoint>& points, qint64 fromMs, qint64 toMs);
    /// Several operations' comparePercentile() on the latency chart, one series each (two or more).
    void setComparison(const QStringList& names, const std::vector<std::vector<SeriesPoint>>& series, qint64 fromMs, qint64 toMs);
    void setHeatmap(const QString& title, const LatencyHeatmap& heatmap, qint64 fromMs, qint64 toMs);
    void setMemory(const QString& title, const QList<MemoryRecord>& records, qint64 fromMs, qint64 toMs);
    void setLogScale(bool log);
    bool logScale() const noexcept { return m_log; }
    void setComparePercentile(Percentile p);
    Percentile comparePercentile() const noexcept { return m_percentile; }
    bool comparing() const noexcept { return m_comparing; }

    /// A range chosen on the charts (both 0: none, the axes follow the live range).
    void setZoom(qint64 fromMs, qint64 toMs);
    bool zoomed() const noexcept { return m_zoomTo > m_zoomFrom; }
    qint64 zoomFrom() const noexcept { return m_zoomFrom; }
    qint64 zoomTo() const noexcept { return m_zoomTo; }
    /// The range the axes show for a live range [fromMs, toMs] whose data starts at @p firstDataMs.
    static std::pair<qint64, qint64> fitRange(qint64 fromMs, qint64 toMs, qint64 firstDataMs);
    /// A round step (1, 2 or 5 times a power of ten) giving at most @p ticks intervals up to @p max.
    static double niceStep(double max, int ticks);
    /// Seconds between time labels for @p spanMs on a chart @p widthPx wide.
    int timeStepSeconds(qint64 spanMs, int widthPx) const;
    /// How many value ticks a chart view of that height can label.
    int valueTicks(const QWidget* view) const;

    int latencyPointCount() const;
    int throughputPointCount() const;
    int memoryPointCount() const;
    /// For tests and the crosshair: the latency chart's series by name ("p99", or an operation).
    QList<QPointF> latencyPoints(const QString& name) const;
    QStringList visibleLatencySeries() const;
    QString latencyTitle() const;
    double latencyScale() const noexcept { return m_latencyScale; }
    QValueAxis* latencyAxis() const;
    QDateTimeAxis* latencyTimeAxis() const;
    ExploreChartView* latencyView() const;
    LatencyHeatmapView* heatmapView() const noexcept { return m_heatmap; }
    /// The latency chart itself, for tests: its colours follow the palette (light or dark theme).
    QChart* latencyChart() const;

Q_SIGNALS:
    /// The user chose a time range on a chart (or reset it: both 0).
    void rangeChanged(qint64 fromMs, qint64 toMs);
    void comparePercentileChanged();

protected:
    void changeEvent(QEvent* event) override;

private:
    struct Chart;
    /// Qt Charts keep their own light theme: paint backgrounds, titles, labels and grids from the
    /// widget's palette instead, so that a dark palette gives dark charts (series keep their pens).
    void followPalette();
    std::unique_ptr<Chart> makeChart(
        const QString& title, const QStringList& left, const QStringList& right, const QString& rightUnit);
    void attachLatencyAxis();
    void setTimeAxis(Chart* chart, qint64 fromMs, qint64 toMs);
    std::pair<qint64, qint64> shownRange(qint64 fromMs, qint64 toMs) const;
    void setLatencyAxis(double maxNs);
    QLineSeries* compareSeries(int i);

    std::unique_ptr<Chart> m_latency;
    std::unique_ptr<Chart> m_throughput;
    std::unique_ptr<Chart> m_memory;
    LatencyHeatmapView* m_heatmap;
    QComboBox* m_percentileBox;
    QLabel* m_zoomLabel;
    QValueAxis* m_latencyLinear;
    QLogValueAxis* m_latencyLog;
    QList<QLineSeries*> m_compare;
    bool m_log = false;
    bool m_comparing = false;
    Percentile m_percentile = Percentile::P99;
    double m_latencyScale = 1e6; // ns per axis unit
    qint64 m_zoomFrom = 0;
    qint64 m_zoomTo = 0;
};

} // namespace perfdash
