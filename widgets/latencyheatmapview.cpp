// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/latencyheatmapview.h"

#include "models/format.h"

#include <QDateTime>
#include <QEvent>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>

#include <algorithm>
#include <climits>
#include <cmath>

namespace perfdash {

namespace {
/// A perceptually ordered ramp (viridis' end points and middle), light to dark reads as few to many.
QRgb ramp(double t)
{
    static const QColor stops[] = { QColor(0x44, 0x01, 0x54), QColor(0x3b, 0x52, 0x8b), QColor(0x21, 0x90, 0x8d),
        QColor(0x5d, 0xc8, 0x63), QColor(0xfd, 0xe7, 0x25) };
    t = std::clamp(t, 0.0, 1.0) * 4.0;
    const int i = std::min(3, int(t));
    const double f = t - i;
    const QColor& a = stops[i];
    const QColor& b = stops[i + 1];
    return qRgb(int(a.red() + (b.red() - a.red()) * f), int(a.green() + (b.green() - a.green()) * f),
        int(a.blue() + (b.blue() - a.blue()) * f));
}
} // namespace

LatencyHeatmapView::LatencyHeatmapView(QWidget* parent)
    : QWidget(parent)
{
    setMouseTracking(true);
    setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
}

QSize LatencyHeatmapView::sizeHint() const
{
    return { 400, fontMetrics().height() * 10 };
}

QSize LatencyHeatmapView::minimumSizeHint() const
{
    // A plot four lines high at least, as the charts' (the title and the time labels take the rest).
    return { 200, fontMetrics().height() * 7 };
}

void LatencyHeatmapView::setHeatmap(const QString& title, const LatencyHeatmap& heatmap, qint64 fromMs, qint64 toMs)
{
    const bool same = title == m_title && fromMs / 1000 == m_fromMs / 1000 && toMs / 1000 == m_toMs / 1000
        && heatmap.firstSecond == m_map.firstSecond && heatmap.columns == m_map.columns
        && heatmap.firstRow == m_map.firstRow && heatmap.counts == m_map.counts;
    if (same)
        return; // repainting costs the GUI thread; the map changes once a second
    m_title = title;
    m_map = heatmap;
    m_fromMs = fromMs;
    m_toMs = toMs;
    rebuildImage();
    update();
}

void LatencyHeatmapView::rebuildImage()
{
    if (m_map.rows == 0 || m_map.columns == 0) {
        m_image = QImage();
        return;
    }
    m_image = QImage(m_map.columns, m_map.rows, QImage::Format_RGB32);
    m_image.fill(palette().color(QPalette::Base));
    const double top = std::log1p(double(m_map.maxCount));
    for (int c = 0; c < m_map.columns; ++c) {
        for (int r = 0; r < m_map.rows; ++r) {
            if (const quint64 n = m_map.count(c, r))
                m_image.setPixel(c, m_map.rows - 1 - r, ramp(0.15 + 0.85 * std::log1p(double(n)) / top));
        }
    }
}

void LatencyHeatmapView::setPlotSpan(int left, int right)
{
    if (left == m_plotLeft && right == m_plotRight)
        return;
    m_plotLeft = left;
    m_plotRight = right;
    update();
}

QRect LatencyHeatmapView::plotRect() const
{
    const QFontMetrics fm = fontMetrics();
    int labels = 0; // the widest round label (latencyTicks())
    for (const char* widest : { "500 µs", "500 ms", "500 ns" })
        labels = std::max(labels, fm.horizontalAdvance(QString::fromUtf8(widest)) + 8);
    const int left = std::max(labels, m_plotLeft);
    const int right = m_plotRight > left ? std::min(m_plotRight, width() - 1) : width() - 8;
    const int top = fm.height() + 6;
    const int bottom = fm.height() + 6;
    return QRect(left, top, std::max(10, right - left), std::max(10, height() - top - bottom));
}

std::optional<LatencyHeatmapView::Cell> LatencyHeatmapView::cellAt(QPoint pos) const
{
    const QRect plot = plotRect();
    if (m_map.rows == 0 || !plot.contains(pos) || m_toMs <= m_fromMs)
        return std::nullopt;
    // x maps to time on the same range as the charts above; y to rows, low latency at the bottom.
    const double ms = double(m_fromMs) + double(pos.x() - plot.left()) / plot.width() * double(m_toMs - m_fromMs);
    const qint64 second = qint64(std::floor(ms / 1000.0));
    const int column = int(second - m_map.firstSecond);
    const int row = m_map.rows - 1 - int(double(pos.y() - plot.top()) / plot.height() * m_map.rows);
    if (column < 0 || column >= m_map.columns || row < 0 || row >= m_map.rows)
        return std::nullopt;
    return Cell { second, m_map.rowLowerNs(row), m_map.rowUpperNs(row), m_map.count(column, row) };
}

QString LatencyHeatmapView::describe(const Cell& cell)
{
    const QString count = cell.count == 1 ? tr("1 operation") : tr("%1 operations").arg(cell.count);
    return tr("%1  %2 – %3: %4")
        .arg(QDateTime::fromSecsSinceEpoch(cell.second).toString(QStringLiteral("HH:mm:ss")),
            formatDuration(cell.fromNs), formatDuration(cell.toNs), count);
}

QString LatencyHeatmapView::tickLabel(quint64 ns)
{
    return formatDurationTick(ns); // "500 µs", "2 ms", "1 s", as the charts' ticks
}

QList<LatencyHeatmapView::Tick> LatencyHeatmapView::latencyTicks() const
{
    QList<Tick> ticks;
    const QRect plot = plotRect();
    const QFontMetrics fm = fontMetrics();
    if (m_map.rows == 0)
        return ticks;
    // Round latencies (1, 2, 5 x 10^n; decades, or every few decades, when those would crowd) at the
    // height of their latency on the log axis, never at the rows' own bounds (631.0 µs, 3.16 ms).
    const double pxPerDecade = double(plot.height()) / m_map.rows * LatencyHeatmap::RowsPerDecade;
    const double gap = fm.height() * 1.2; // px between two labels' centres
    const double low = std::log10(double(std::max<quint64>(1, m_map.rowLowerNs(0))));
    const double high = double(m_map.firstRow + m_map.rows) / LatencyHeatmap::RowsPerDecade;
    const auto yOf = [&](double decades) {
        return int(std::lround(
            plot.bottom() - (decades * LatencyHeatmap::RowsPerDecade - m_map.firstRow) * plot.height() / m_map.rows));
    };
    const auto collect = [&](std::initializer_list<int> mantissas, int decadeStep) {
        QList<Tick> out;
        int lastY = INT_MAX;
        for (int e = int(std::floor(low)); e <= int(std::ceil(high)); ++e) {
            if (e < 0 || e > 18 || e % decadeStep != 0)
                continue;
            quint64 decade = 1;
            for (int i = 0; i < e; ++i)
                decade *= 10;
            for (int m : mantissas) {
                const quint64 ns = quint64(m) * decade;
                const double at = std::log10(double(ns));
                if (at < low - 1e-9 || at > high + 1e-9)
                    continue;
                const int y = yOf(at);
                if (lastY != INT_MAX && lastY - y < gap)
                    continue; // a safety net: the step was chosen so that this does not happen
                lastY = y;
                out.append(Tick { ns, y, tickLabel(ns) });
            }
        }
        return out;
    };
    if (pxPerDecade * std::log10(2.0) >= gap)
        ticks = collect({ 1, 2, 5 }, 1);
    else {
        int step = 1; // decades alone, every one or every few
        while (pxPerDecade * step < gap)
            step = step == 1 ? 2 : step * 2;
        ticks = collect({ 1 }, step);
    }
    if (ticks.size() < 2) {
        // Less than a factor of 2 shown: whole numbers of the decade (2 ms, 3 ms) still are round.
        const QList<Tick> finer = collect({ 1, 2, 3, 4, 5, 6, 7, 8, 9 }, 1);
        if (finer.size() > ticks.size())
            ticks = finer;
    }
    return ticks;
}

void LatencyHeatmapView::paintEvent(QPaintEvent*)
{
    QPainter painter(this);
    painter.fillRect(rect(), palette().color(QPalette::Window));
    const QRect plot = plotRect();
    const QFontMetrics fm = fontMetrics();
    QFont bold = font();
    bold.setBold(true);
    painter.setFont(bold);
    painter.setPen(palette().color(QPalette::WindowText));
    // At the left, as the charts' titles are.
    const QString title
        = m_title.isEmpty() ? tr("Latency heatmap — select an operation") : tr("Latency heatmap of %1").arg(m_title);
    painter.drawText(QRect(4, 2, width() - 8, fm.height() + 2), Qt::AlignLeft,
        QFontMetrics(bold).elidedText(title, Qt::ElideMiddle, width() - 8));
    painter.setFont(font());
    painter.fillRect(plot, palette().color(QPalette::Base));
    if (m_map.rows == 0 || m_toMs <= m_fromMs) {
        painter.drawText(plot, Qt::AlignCenter, tr("No operations in the last %1 s").arg(StatsWindow::MaxSeconds));
        return;
    }
    // The image's columns are seconds from firstSecond; place them on the shared time range.
    const double pxPerMs = double(plot.width()) / double(m_toMs - m_fromMs);
    const double x0 = plot.left() + (double(m_map.firstSecond) * 1000.0 - double(m_fromMs)) * pxPerMs;
    const QRectF target(x0, plot.top(), m_map.columns * 1000.0 * pxPerMs, plot.height());
    painter.save();
    painter.setClipRect(plot);
    painter.drawImage(target, m_image);
    painter.restore();
    painter.setPen(palette().color(QPalette::Mid));
    painter.drawRect(plot.adjusted(0, 0, -1, -1));
    painter.setPen(palette().color(QPalette::WindowText));
    for (const Tick& tick : latencyTicks())
        painter.drawText(QRect(0, tick.y - fm.height() / 2, plot.left() - 4, fm.height()),
            Qt::AlignRight | Qt::AlignVCenter, tick.label);
    const QString from = QDateTime::fromMSecsSinceEpoch(m_fromMs).toString(QStringLiteral("HH:mm:ss"));
    const QString to = QDateTime::fromMSecsSinceEpoch(m_toMs).toString(QStringLiteral("HH:mm:ss"));
    const QRect labels(plot.left(), plot.bottom() + 3, plot.width(), fm.height());
    painter.drawText(labels, Qt::AlignLeft, from);
    painter.drawText(labels, Qt::AlignRight, to);
    // The scale between the two times when it fits there (never over them, as on a narrow view).
    const QString scale = tr("darkest: 1, brightest: %1 per second").arg(m_map.maxCount);
    if (fm.horizontalAdvance(scale) + fm.horizontalAdvance(from) + fm.horizontalAdvance(to) + 24 <= plot.width())
        painter.drawText(labels, Qt::AlignHCenter, scale);
}

void LatencyHeatmapView::mouseMoveEvent(QMouseEvent* event)
{
    if (const auto cell = cellAt(event->position().toPoint()))
        QToolTip::showText(event->globalPosition().toPoint(), describe(*cell), this);
    else
        QToolTip::hideText();
    QWidget::mouseMoveEvent(event);
}

void LatencyHeatmapView::leaveEvent(QEvent* event)
{
    QToolTip::hideText();
    QWidget::leaveEvent(event);
}

void LatencyHeatmapView::changeEvent(QEvent* event)
{
    if (event->type() == QEvent::PaletteChange)
        rebuildImage();
    QWidget::changeEvent(event);
}

} // namespace perfdash
