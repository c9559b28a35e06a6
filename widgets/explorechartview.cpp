// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/explorechartview.h"

#include <QChart>
#include <QDateTime>
#include <QGraphicsLineItem>
#include <QGraphicsRectItem>
#include <QGraphicsSimpleTextItem>
#include <QLineSeries>
#include <QMouseEvent>

#include <algorithm>
#include <cmath>

namespace perfdash {

namespace {
QLineSeries* firstSeries(const QChart* chart)
{
    for (QAbstractSeries* s : chart->series()) {
        if (auto* line = qobject_cast<QLineSeries*>(s))
            return line;
    }
    return nullptr;
}

QString formatValue(double v, const QString& unit)
{
    const QString number = std::abs(v) >= 100 ? QString::number(v, 'f', 0) : QString::number(v, 'g', 3);
    return unit.isEmpty() ? number : number + u' ' + unit;
}
} // namespace

ExploreChartView::ExploreChartView(QChart* chart, QWidget* parent)
    : QChartView(chart, parent)
    , m_line(new QGraphicsLineItem(chart))
    , m_readoutBack(new QGraphicsRectItem(chart))
    , m_readout(new QGraphicsSimpleTextItem(m_readoutBack))
    , m_band(new QGraphicsRectItem(chart))
{
    setMouseTracking(true);
    setRubberBand(QChartView::NoRubberBand); // the range goes to every chart and the table, not one zoom
    m_line->setPen(QPen(QColor(0x80, 0x80, 0x80), 1, Qt::DashLine));
    m_line->setZValue(100);
    m_readoutBack->setBrush(QColor(255, 255, 255, 225));
    m_readoutBack->setPen(QPen(QColor(0xa0, 0xa0, 0xa0)));
    m_readoutBack->setZValue(101);
    m_readout->setBrush(QColor(0x20, 0x20, 0x20));
    m_band->setBrush(QColor(0x1f, 0x77, 0xb4, 50));
    m_band->setPen(Qt::NoPen);
    m_band->setZValue(99);
    hideCrosshair();
    m_band->hide();
}

qint64 ExploreChartView::timeAt(QPointF pos) const
{
    QLineSeries* series = firstSeries(chart());
    if (!series)
        return 0;
    return qint64(chart()->mapToValue(chart()->mapFromScene(mapToScene(pos.toPoint())), series).x());
}

QPointF ExploreChartView::positionOf(qint64 ms) const
{
    QLineSeries* series = firstSeries(chart());
    if (!series)
        return {};
    return mapFromScene(chart()->mapToScene(chart()->mapToPosition(QPointF(double(ms), 0), series)));
}

QString ExploreChartView::readoutAt(qint64 ms) const
{
    QStringList parts { QDateTime::fromMSecsSinceEpoch(ms).toString(QStringLiteral("HH:mm:ss")) };
    for (QAbstractSeries* s : chart()->series()) {
        auto* line = qobject_cast<QLineSeries*>(s);
        if (!line || !line->isVisible() || line->opacity() == 0.0 || line->count() == 0)
            continue;
        // The point nearest to ms, if within the second (minute points stand for 60 s).
        const QList<QPointF> points = line->points();
        auto it = std::lower_bound(
            points.begin(), points.end(), double(ms), [](const QPointF& p, double x) { return p.x() < x; });
        const QPointF* best = nullptr;
        for (auto candidate : { it, it == points.begin() ? it : it - 1 }) {
            if (candidate != points.end()
                && (!best || std::abs(candidate->x() - double(ms)) < std::abs(best->x() - double(ms))))
                best = &*candidate;
        }
        const double reach = line->property("reachMs").isValid() ? line->property("reachMs").toDouble() : 1000.0;
        if (best && std::abs(best->x() - double(ms)) <= reach)
            parts << line->name() + u' ' + formatValue(best->y(), line->property("unit").toString());
    }
    return parts.join(QStringLiteral("   "));
}

void ExploreChartView::showCrosshair(qint64 ms)
{
    const QRectF plot = chart()->plotArea();
    QLineSeries* series = firstSeries(chart());
    if (!series)
        return;
    const qreal x = chart()->mapToPosition(QPointF(double(ms), 0), series).x();
    if (x < plot.left() || x > plot.right()) {
        hideCrosshair();
        return;
    }
    m_line->setLine(x, plot.top(), x, plot.bottom());
    m_line->show();
    m_readout->setText(readoutAt(ms));
    const QRectF text = m_readout->boundingRect();
    // Beside the line, on the side with room, at the top of the plot.
    qreal left = x + 6;
    if (left + text.width() + 8 > plot.right())
        left = std::max(plot.left(), x - 6 - text.width() - 8);
    m_readoutBack->setRect(0, 0, text.width() + 8, text.height() + 4);
    m_readoutBack->setPos(left, plot.top() + 2);
    m_readout->setPos(4, 2);
    m_readoutBack->show();
}

void ExploreChartView::hideCrosshair()
{
    m_line->hide();
    m_readoutBack->hide();
}

bool ExploreChartView::crosshairVisible() const
{
    return m_line->isVisible();
}

void ExploreChartView::setPlotMargins(const QMarginsF& margins)
{
    if (margins == m_margins)
        return;
    m_margins = margins;
    applyPlotArea();
}

void ExploreChartView::applyPlotArea()
{
    const QSizeF size = chart()->size();
    if (size.isEmpty())
        return;
    const QRectF area = QRectF(QPointF(0, 0), size).marginsRemoved(m_margins);
    if (area.width() > 1 && area.height() > 1 && chart()->plotArea() != area)
        chart()->setPlotArea(area);
}

void ExploreChartView::resizeEvent(QResizeEvent* event)
{
    QChartView::resizeEvent(event); // resizes the chart to the view
    applyPlotArea();
}

void ExploreChartView::mouseMoveEvent(QMouseEvent* event)
{
    const QPointF pos = event->position();
    const qint64 ms = timeAt(pos);
    if (chart()->plotArea().contains(mapToScene(pos.toPoint()))) {
        showCrosshair(ms);
        Q_EMIT hovered(ms);
    } else {
        hideCrosshair();
        Q_EMIT hovered(-1);
    }
    if (m_pressX) {
        const QRectF plot = chart()->plotArea();
        const qreal a = std::clamp(*m_pressX, plot.left(), plot.right());
        const qreal b = std::clamp(mapToScene(pos.toPoint()).x(), plot.left(), plot.right());
        m_band->setRect(std::min(a, b), plot.top(), std::abs(b - a), plot.height());
        m_band->show();
    }
    QChartView::mouseMoveEvent(event);
}

void ExploreChartView::mousePressEvent(QMouseEvent* event)
{
    if (event->button() == Qt::LeftButton && chart()->plotArea().contains(mapToScene(event->position().toPoint())))
        m_pressX = mapToScene(event->position().toPoint()).x();
    QChartView::mousePressEvent(event);
}

void ExploreChartView::mouseReleaseEvent(QMouseEvent* event)
{
    if (event->button() == Qt::LeftButton && m_pressX) {
        const QRectF plot = chart()->plotArea();
        const qreal a = std::clamp(*m_pressX, plot.left(), plot.right());
        const qreal b = std::clamp(mapToScene(event->position().toPoint()).x(), plot.left(), plot.right());
        m_pressX.reset();
        m_band->hide();
        if (std::abs(b - a) >= 4) { // a click is not a range
            const qint64 from = timeAt(mapFromScene(QPointF(std::min(a, b), plot.center().y())));
            const qint64 to = timeAt(mapFromScene(QPointF(std::max(a, b), plot.center().y())));
            Q_EMIT rangeSelected(from, to);
        }
    }
    QChartView::mouseReleaseEvent(event);
}

void ExploreChartView::mouseDoubleClickEvent(QMouseEvent* event)
{
    m_pressX.reset();
    m_band->hide();
    Q_EMIT rangeReset();
    QChartView::mouseDoubleClickEvent(event);
}

void ExploreChartView::leaveEvent(QEvent* event)
{
    hideCrosshair();
    Q_EMIT hovered(-1);
    QChartView::leaveEvent(event);
}

} // namespace perfdash
