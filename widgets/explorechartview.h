// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QChartView>

#include <optional>

class QGraphicsLineItem;
class QGraphicsRectItem;
class QGraphicsSimpleTextItem;

namespace perfdash {

/**
 * A chart to explore, as in Grafana: hovering shows a crosshair with every visible series' value
 * at that second; dragging selects a time range (rangeSelected()); a double click resets it
 * (rangeReset()). The x axis is wall-clock milliseconds; each series may carry a "unit" property
 * for the readout. The plot area keeps the margins it is given (setPlotMargins()) whatever the
 * labels, so that charts stacked with the same margins line up to the pixel.
 */
class ExploreChartView : public QChartView
{
    Q_OBJECT
public:
    explicit ExploreChartView(QChart* chart, QWidget* parent = nullptr);

    /// "12:00:03  p50 1.20 ms  p99 3.10 ms": the visible series at the second holding @p ms.
    QString readoutAt(qint64 ms) const;
    void showCrosshair(qint64 ms);
    void hideCrosshair();
    bool crosshairVisible() const;
    /// The room around the plot for the axes' labels; the plot area is the rest of the view.
    void setPlotMargins(const QMarginsF& margins);
    QMarginsF plotMargins() const noexcept { return m_margins; }
    /// The wall-clock time under x of @p pos (view coordinates).
    qint64 timeAt(QPointF pos) const;
    QPointF positionOf(qint64 ms) const;

Q_SIGNALS:
    void hovered(qint64 ms); ///< -1 when the mouse left
    void rangeSelected(qint64 fromMs, qint64 toMs);
    void rangeReset();

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseDoubleClickEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;

private:
    QGraphicsLineItem* m_line;
    QGraphicsRectItem* m_readoutBack;
    QGraphicsSimpleTextItem* m_readout;
    QGraphicsRectItem* m_band;
    std::optional<qreal> m_pressX;
    QMarginsF m_margins;

    void applyPlotArea();
};

} // namespace perfdash
