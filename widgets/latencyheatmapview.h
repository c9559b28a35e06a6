// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/histogramqueries.h"

#include <QImage>
#include <QWidget>

#include <optional>

namespace perfdash {

/**
 * The latency heatmap: one column per second, one row per tenth of a decade of latency, the
 * colour the number of operations in that cell (log scale, so a thin second mode stays visible
 * next to the bulk). Bimodal latency that percentiles average away shows as two bands. Hovering
 * a cell says its second, its latency range and its count.
 */
class LatencyHeatmapView : public QWidget
{
    Q_OBJECT
public:
    struct Cell
    {
        qint64 second = 0;
        quint64 fromNs = 0;
        quint64 toNs = 0;
        quint64 count = 0;
    };

    /// A label of the latency axis, at the height of its latency.
    struct Tick
    {
        quint64 ns = 0;
        int y = 0;
        QString label;
    };

    explicit LatencyHeatmapView(QWidget* parent = nullptr);

    void setHeatmap(const QString& title, const LatencyHeatmap& heatmap, qint64 fromMs, qint64 toMs);
    const LatencyHeatmap& heatmap() const noexcept { return m_map; }
    qint64 fromMs() const noexcept { return m_fromMs; }
    qint64 toMs() const noexcept { return m_toMs; }
    /// Puts the plot between x = @p left and x = @p right (widget coordinates), as the chart above
    /// it has its own, so that their seconds line up; the latency labels keep their room.
    void setPlotSpan(int left, int right);
    /// The cell under @p pos (widget coordinates), if any.
    std::optional<Cell> cellAt(QPoint pos) const;
    /// What the tooltip says of @p cell.
    static QString describe(const Cell& cell);
    QRect plotRect() const;
    /// The latency axis' labels at the current size, bottom to top (what is drawn): round latencies
    /// (1, 2, 5 x 10^n, or decades when those would crowd), each at the height of its latency.
    QList<Tick> latencyTicks() const;
    /// "500 µs", "2 ms": a round latency as the axis says it.
    static QString tickLabel(quint64 ns);

    QSize sizeHint() const override;
    QSize minimumSizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void changeEvent(QEvent* event) override;

private:
    void rebuildImage();

    QString m_title;
    LatencyHeatmap m_map;
    qint64 m_fromMs = 0;
    qint64 m_toMs = 0;
    int m_plotLeft = 0;
    int m_plotRight = 0;
    QImage m_image;
};

} // namespace perfdash
