// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/heapprofiler.h"

#include "core/csvexport.h"
#include "core/histogramqueries.h"
#include "core/operationhistory.h"

#include <QWidget>

#include <memory>
#include <vector>

class QAbstractAxis;
class QChart;
class QComboBox;
class QLabel;
class QLineSeries;
class QLogValueAxis;
class QScrollArea;
class QToolButton;
class QValueAxis;

namespace perfdash {

class ExploreChartView;
class LatencyHeatmapView;

/**
 * The live charts, stacked on one time axis: latency percentiles of the selected operation (or
 * the compared percentile of each selected operation), its latency heatmap, its throughput and
 * error rate (of each selected operation), and memory and CPU of the processes charted. Each
 * chart's title and legend share one line above it; the plots have the same left and right
 * margins, so that their plot areas and crosshairs line up, and only the bottom chart labels the
 * shared time axis (round times, chartaxes::timeTicks()). Below a minimum plot height the charts
 * scroll; labels are never elided. The time range comes from the window (chartaxes::liveRange());
 * dragging on a chart selects a range (rangeChanged()), which freezes the axes on it until a
 * double click. Each series is updated with one replace() of at most MaxPoints points; no
 * animations.
 */
class ChartsPanel : public QWidget
{
    Q_OBJECT
public:
    static constexpr int MaxPoints = 1500;
    enum class Percentile { P50, P95, P99, Max };
    enum class Kind { Latency, Throughput, Memory };

    explicit ChartsPanel(QWidget* parent = nullptr);
    ~ChartsPanel() override;

    /// One operation: its percentiles, throughput and error rate, on the time range [fromMs, toMs].
    void setLatency(const QString& title, const std::vector<SeriesPoint>& points, qint64 fromMs, qint64 toMs);
    /// Several operations (two or more), named "operation — process": each one's comparePercentile()
    /// on the latency chart and its throughput and error rate, in its own colour on both.
    void setComparison(
        const QStringList& names, const std::vector<std::vector<SeriesPoint>>& series, qint64 fromMs, qint64 toMs);
    void setHeatmap(const QString& title, const LatencyHeatmap& heatmap, qint64 fromMs, qint64 toMs);
    /// One process: RSS, heap and CPU; and, where its heap is tracked by call site, the live bytes
    /// of its largest allocation sites (@p sites).
    void setMemory(const QString& title, const QList<MemoryRecord>& records, qint64 fromMs, qint64 toMs,
        const std::vector<HeapSiteSeries>& sites = {});
    /// Several processes: the RSS and CPU of each, in its own colour.
    void setMemories(
        const QStringList& processes, const QList<QList<MemoryRecord>>& records, qint64 fromMs, qint64 toMs);
    /// A process without operations has only its memory and CPU: the operation charts go, and
    /// @p note says why (empty: the operation charts are back).
    void setOperationChartsShown(bool shown, const QString& note = {});
    bool operationChartsShown() const noexcept { return m_operationCharts; }
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
    /// How many value ticks a chart view of that height can label.
    int valueTicks(const ExploreChartView* view) const;

    int latencyPointCount() const;
    int throughputPointCount() const;
    int memoryPointCount() const;
    /// For tests and the crosshair: the latency chart's series by name ("p99", or an operation).
    QList<QPointF> latencyPoints(const QString& name) const;
    /// A chart's series by name, visible ones only.
    QList<QPointF> points(Kind kind, const QString& name) const;
    QStringList visibleLatencySeries() const;
    /// The names of the series a chart shows now (what its legend lists, errors included).
    QStringList visibleSeries(Kind kind) const;
    QString latencyTitle() const;
    QString title(Kind kind) const;
    /// The legend entries above a chart (each toggles its series).
    QList<QToolButton*> legend(Kind kind) const;
    double latencyScale() const noexcept { return m_latencyScale; }
    /// "ms", "µs": the latency axis' unit now.
    QString latencyUnit() const { return m_latencyUnit; }
    QValueAxis* latencyAxis() const;
    QLogValueAxis* latencyLogAxis() const noexcept { return m_latencyLog; }
    /// The time range every chart shows now.
    std::pair<qint64, qint64> timeRange() const;
    /// The round times labelled on the shared time axis (under the bottom chart).
    QList<qint64> timeTicks() const;
    ExploreChartView* latencyView() const;
    ExploreChartView* view(Kind kind) const;
    LatencyHeatmapView* heatmapView() const noexcept { return m_heatmap; }
    QScrollArea* scrollArea() const noexcept { return m_scroll; }
    /// The latency chart itself, for tests: its colours follow the palette (light or dark theme).
    QChart* latencyChart() const;

Q_SIGNALS:
    /// The user chose a time range on a chart (or reset it: both 0).
    void rangeChanged(qint64 fromMs, qint64 toMs);
    void comparePercentileChanged();

protected:
    void changeEvent(QEvent* event) override;
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    struct Chart;
    struct Line;
    /// Qt Charts keep their own light theme: paint backgrounds, titles, labels and grids from the
    /// widget's palette instead, so that a dark palette gives dark charts (series keep their pens).
    void followPalette();
    std::unique_ptr<Chart> makeChart(const QString& title, const QString& leftFormat, const QString& rightFormat);
    QLineSeries* pooled(Chart* c, bool right, int i);
    void setLines(Chart* c, const QList<Line>& left, const QList<Line>& right);
    void updateLegend(Chart* c);
    void fitHeader(Chart* c);
    void setTitle(Chart* c, const QString& title, const QString& tip = {});
    void setValueAxis(Chart* c, bool right, double max);
    void attachLatencyAxis();
    void setTimeAxis(Chart* c, qint64 fromMs, qint64 toMs);
    /// The same left and right margins on every chart (the widest labels'), so plots line up.
    void alignPlots();
    void updateMinimumHeights();
    std::pair<qint64, qint64> shownRange(qint64 fromMs, qint64 toMs) const;
    void setLatencyAxis(double minNs, double maxNs);
    Chart* chart(Kind kind) const;

    std::unique_ptr<Chart> m_latency;
    std::unique_ptr<Chart> m_throughput;
    std::unique_ptr<Chart> m_memory;
    LatencyHeatmapView* m_heatmap;
    QScrollArea* m_scroll;
    QWidget* m_content;
    QComboBox* m_percentileBox;
    QLabel* m_zoomLabel;
    QLabel* m_note;
    QValueAxis* m_latencyLinear;
    QLogValueAxis* m_latencyLog;
    bool m_log = false;
    bool m_comparing = false;
    bool m_operationCharts = true;
    Percentile m_percentile = Percentile::P99;
    double m_latencyScale = 1e6; // ns per axis unit
    QString m_latencyUnit = QStringLiteral("ms");
    qint64 m_zoomFrom = 0;
    qint64 m_zoomTo = 0;
};

} // namespace perfdash
