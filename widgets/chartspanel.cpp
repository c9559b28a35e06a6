// SPDX-License-Identifier: GPL-3.0-or-later
#include "chartspanel.h"

#include "explorechartview.h"
#include "latencyheatmapview.h"

#include <QChart>
#include <QComboBox>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QGraphicsLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLegendMarker>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QValueAxis>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace perfdash {

struct ChartsPanel::Chart
{
    ExploreChartView* view = nullptr;
    QChart* chart = nullptr;
    QDateTimeAxis* time = nullptr;
    QValueAxis* left = nullptr;
    QValueAxis* right = nullptr;
    QList<QLineSeries*> leftSeries;
    QList<QLineSeries*> rightSeries;
};

namespace {
    const QColor Palette[] = { QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0xd6, 0x27, 0x28),
        QColor(0x59, 0x59, 0x59), QColor(0x2c, 0xa0, 0x2c), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
        QColor(0xe3, 0x77, 0xc2) };
    constexpr int PaletteSize = int(std::size(Palette));
    // Series differ by line style too, not only by colour (colour-blind users, grey prints).
    const Qt::PenStyle Styles[] = { Qt::SolidLine, Qt::DashLine, Qt::DashDotLine, Qt::DotLine };

    /// Picks the unit that keeps axis labels short: ns per unit and its name.
    std::pair<double, QString> durationUnit(double maxNs)
    {
        if (maxNs >= 2e9)
            return { 1e9, QStringLiteral("s") };
        if (maxNs >= 2e6)
            return { 1e6, QStringLiteral("ms") };
        if (maxNs >= 2e3)
            return { 1e3, QStringLiteral("µs") };
        return { 1.0, QStringLiteral("ns") };
    }

    double niceCeiling(double v)
    {
        if (v <= 0)
            return 1.0;
        const double magnitude = std::pow(10.0, std::floor(std::log10(v)));
        for (double step : { 1.0, 2.0, 5.0, 10.0 }) {
            if (v <= step * magnitude * (1 + 1e-9))
                return step * magnitude;
        }
        return 10 * magnitude;
    }

    // Qt Charts lays out an axis's labels and a chart's title anew on every change, which costs
    // the GUI thread milliseconds; at 10 Hz only what really changed is handed over.
    void setTitle(QChart* chart, const QString& title)
    {
        if (chart->title() != title)
            chart->setTitle(title);
    }

    void setAxisTitle(QAbstractAxis* axis, const QString& title)
    {
        if (axis->titleText() != title)
            axis->setTitleText(title);
    }

    template <typename Axis>
    void setRange(Axis* axis, double min, double max)
    {
        if (axis->min() != min || axis->max() != max)
            axis->setRange(min, max);
    }

    /// A value axis from 0 with round ticks (0, 50, 100... never 187.5).
    void setNiceAxis(QValueAxis* axis, double max, int ticks = 5)
    {
        const double step = ChartsPanel::niceStep(max, ticks);
        const int steps = std::max(1, int(std::ceil(max * 1.05 / step - 1e-9)));
        // Fixed ticks at 0, step, 2 step...: dynamic ticks left some labels elided ("...").
        if (axis->tickCount() != steps + 1)
            axis->setTickCount(steps + 1);
        setRange(axis, 0.0, steps * step);
    }

    void replace(QLineSeries* series, const QList<QPointF>& points)
    {
        if (series->points() != points)
            series->replace(points);
    }

    /// At most @p limit points, each the worst (largest) of its group, so peaks survive.
    QList<QPointF> decimate(const QList<QPointF>& points, int limit)
    {
        if (points.size() <= limit)
            return points;
        QList<QPointF> out;
        const double group = double(points.size()) / limit;
        for (int g = 0; g < limit; ++g) {
            const auto begin = qsizetype(g * group), end = std::min(points.size(), qsizetype((g + 1) * group));
            QPointF worst = points[begin];
            for (qsizetype i = begin; i < end; ++i) {
                if (points[i].y() > worst.y())
                    worst = QPointF(points[i].x(), points[i].y());
            }
            out.append(worst);
        }
        return out;
    }

    quint64 valueOf(const SeriesPoint& p, ChartsPanel::Percentile which)
    {
        switch (which) {
        case ChartsPanel::Percentile::P50: return p.p50Ns;
        case ChartsPanel::Percentile::P95: return p.p95Ns;
        case ChartsPanel::Percentile::P99: return p.p99Ns;
        case ChartsPanel::Percentile::Max: return p.maxNs;
        }
        return p.p99Ns;
    }

    double pointX(const SeriesPoint& p)
    {
        // An interval is drawn at its middle, so a minute point sits among the seconds it stands for.
        return double(p.timestampMs + qint64(p.resolutionS) * 500);
    }
} // namespace

ChartsPanel::ChartsPanel(QWidget* parent)
    : QWidget(parent)
    , m_heatmap(new LatencyHeatmapView(this))
    , m_percentileBox(new QComboBox(this))
    , m_zoomLabel(new QLabel(this))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(4, 0, 4, 0);
    bar->addWidget(m_zoomLabel, 1);
    auto* compareLabel = new QLabel(tr("Compare"), this);
    bar->addWidget(compareLabel);
    for (const char* name : { "p50", "p95", "p99", "max" })
        m_percentileBox->addItem(tr(name));
    m_percentileBox->setCurrentIndex(int(Percentile::P99));
    m_percentileBox->setToolTip(tr("The percentile compared when several operations are selected"));
    bar->addWidget(m_percentileBox);
    layout->addLayout(bar);
    m_zoomLabel->setText(tr("Drag on a chart to select a range, double-click to go back to live"));
    m_zoomLabel->setEnabled(false);

    // max first: it is drawn under p99, which it often equals in quiet seconds.
    m_latency = makeChart(tr("Latency"), { tr("max"), tr("p50"), tr("p95"), tr("p99") }, {}, {});
    QLineSeries* max = m_latency->leftSeries[0];
    max->setPen(QPen(QColor(0x80, 0x80, 0x80), 1.0, Qt::DotLine));
    m_latency->leftSeries[1]->setPen(QPen(Palette[0], 1.6, Qt::SolidLine));
    m_latency->leftSeries[2]->setPen(QPen(Palette[1], 1.6, Qt::DashLine));
    m_latency->leftSeries[3]->setPen(QPen(Palette[2], 2.2, Qt::SolidLine));
    m_throughput = makeChart(tr("Throughput and errors"), { tr("operations/s") }, { tr("error rate") }, QStringLiteral("%"));
    m_memory = makeChart(tr("Memory and CPU"), { tr("RSS"), tr("heap") }, { tr("CPU") }, QStringLiteral("%"));
    m_latency->leftSeries[0]->setProperty("unit", QStringLiteral("ms"));
    m_throughput->leftSeries[0]->setProperty("unit", QStringLiteral("/s"));
    m_throughput->rightSeries[0]->setProperty("unit", QStringLiteral("%"));
    for (QLineSeries* s : m_memory->leftSeries)
        s->setProperty("unit", QStringLiteral("MiB"));
    m_memory->rightSeries[0]->setProperty("unit", QStringLiteral("%"));
    layout->addWidget(m_latency->view, 3);
    layout->addWidget(m_heatmap, 2);
    layout->addWidget(m_throughput->view, 2);
    layout->addWidget(m_memory->view, 2);

    // The latency axis can be linear or logarithmic; both exist and one is attached.
    m_latencyLinear = m_latency->left;
    m_latencyLog = new QLogValueAxis(this);
    m_latencyLog->setBase(10);
    m_latencyLog->setLabelFormat(QStringLiteral("%g"));
    m_latencyLog->setMinorTickCount(8);

    const QList<Chart*> charts { m_latency.get(), m_throughput.get(), m_memory.get() };
    for (Chart* c : charts) {
        c->view->connectLegend();
        // One crosshair on every chart, at the same second.
        connect(c->view, &ExploreChartView::hovered, this, [charts, c](qint64 ms) {
            for (Chart* other : charts) {
                if (other == c)
                    continue;
                if (ms < 0)
                    other->view->hideCrosshair();
                else
                    other->view->showCrosshair(ms);
            }
        });
        connect(c->view, &ExploreChartView::rangeSelected, this, [this](qint64 from, qint64 to) {
            setZoom(from, to);
            Q_EMIT rangeChanged(m_zoomFrom, m_zoomTo);
        });
        connect(c->view, &ExploreChartView::rangeReset, this, [this] {
            setZoom(0, 0);
            Q_EMIT rangeChanged(0, 0);
        });
    }
    connect(m_percentileBox, &QComboBox::currentIndexChanged, this, [this](int index) {
        m_percentile = Percentile(index);
        Q_EMIT comparePercentileChanged();
    });
    followPalette();
}

ChartsPanel::~ChartsPanel() = default;

QChart* ChartsPanel::latencyChart() const
{
    return m_latency->chart;
}

void ChartsPanel::changeEvent(QEvent* event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        followPalette();
}

void ChartsPanel::followPalette()
{
    const QPalette& p = palette();
    const QColor text = p.color(QPalette::WindowText);
    const QColor grid = p.color(QPalette::Mid);
    const auto paintAxis = [&](QAbstractAxis* axis) {
        axis->setLabelsColor(text);
        axis->setTitleBrush(text);
        axis->setLinePenColor(grid);
        axis->setGridLineColor(grid);
        axis->setMinorGridLineColor(grid.lighter(p.color(QPalette::Base).lightness() < 128 ? 70 : 130));
    };
    for (Chart* c : { m_latency.get(), m_throughput.get(), m_memory.get() }) {
        c->chart->setBackgroundBrush(p.brush(QPalette::Base));
        c->chart->setTitleBrush(text);
        c->chart->legend()->setLabelColor(text);
        for (QAbstractAxis* axis : c->chart->axes())
            paintAxis(axis);
        c->view->setBackgroundBrush(p.brush(QPalette::Base));
    }
    // The latency axis not attached now (linear or log) gets its colours when it is.
    paintAxis(m_latencyLinear);
    paintAxis(m_latencyLog);
}

std::unique_ptr<ChartsPanel::Chart> ChartsPanel::makeChart(const QString& title, const QStringList& left,
    const QStringList& right, const QString& rightUnit)
{
    auto c = std::make_unique<Chart>(); // the Qt objects in it belong to the view
    c->chart = new QChart;
    c->chart->setTitle(title);
    c->chart->setAnimationOptions(QChart::NoAnimation);
    c->chart->legend()->setAlignment(Qt::AlignTop);
    c->chart->setMargins(QMargins(4, 2, 4, 2));
    c->chart->layout()->setContentsMargins(0, 0, 0, 0);
    c->chart->setBackgroundRoundness(0);
    c->time = new QDateTimeAxis;
    c->time->setFormat(QStringLiteral("HH:mm:ss"));
    c->time->setTickCount(5);
    c->chart->addAxis(c->time, Qt::AlignBottom);
    c->left = new QValueAxis;
    c->left->setLabelFormat(QStringLiteral("%g"));
    c->chart->addAxis(c->left, Qt::AlignLeft);
    int color = 0;
    for (const QString& name : left) {
        auto* s = new QLineSeries;
        s->setName(name);
        s->setPen(QPen(Palette[color % PaletteSize], 1.6, Styles[color % 4]));
        ++color;
        c->chart->addSeries(s);
        s->attachAxis(c->time);
        s->attachAxis(c->left);
        c->leftSeries.append(s);
    }
    if (!right.isEmpty()) {
        c->right = new QValueAxis;
        c->right->setLabelFormat(QStringLiteral("%g ") + rightUnit);
        c->chart->addAxis(c->right, Qt::AlignRight);
        for (const QString& name : right) {
            auto* s = new QLineSeries;
            s->setName(name);
            s->setPen(QPen(Palette[2], 1.2, Qt::DashLine));
            c->chart->addSeries(s);
            s->attachAxis(c->time);
            s->attachAxis(c->right);
            c->rightSeries.append(s);
        }
    }
    c->view = new ExploreChartView(c->chart, this);
    c->view->setRenderHint(QPainter::Antialiasing, false);
    c->view->setMinimumHeight(110);
    return c;
}

void ChartsPanel::setLogScale(bool log)
{
    if (log == m_log)
        return;
    m_log = log;
    attachLatencyAxis();
}

void ChartsPanel::attachLatencyAxis()
{
    QAbstractAxis* remove = m_log ? static_cast<QAbstractAxis*>(m_latencyLinear) : m_latencyLog;
    QAbstractAxis* add = m_log ? static_cast<QAbstractAxis*>(m_latencyLog) : m_latencyLinear;
    QList<QLineSeries*> all = m_latency->leftSeries + m_compare;
    if (m_latency->chart->axes(Qt::Vertical).contains(remove)) {
        for (QLineSeries* s : std::as_const(all))
            s->detachAxis(remove);
        m_latency->chart->removeAxis(remove);
        remove->setParent(this); // removeAxis() gives up ownership
    }
    m_latency->chart->addAxis(add, Qt::AlignLeft);
    for (QLineSeries* s : std::as_const(all))
        s->attachAxis(add);
}

std::pair<qint64, qint64> ChartsPanel::fitRange(qint64 fromMs, qint64 toMs, qint64 firstDataMs)
{
    // The axis starts where the data does (never a 5-minute axis with 5 seconds of data at its
    // end) and widens until the chosen range is full.
    const qint64 start = std::max(fromMs, std::min(firstDataMs, toMs - MinSpanMs));
    return { start, toMs };
}

int ChartsPanel::valueTicks(const QWidget* view) const
{
    // Labels a line and a half apart at least: a short chart gets fewer ticks, not elided ones.
    const double plot = std::max(0, view->height() - 4 * fontMetrics().height());
    return std::clamp(int(plot / (fontMetrics().height() * 1.6)), 1, 5);
}

double ChartsPanel::niceStep(double max, int ticks)
{
    if (max <= 0 || ticks <= 0)
        return 1.0;
    const double raw = max / ticks;
    const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
    for (double step : { 1.0, 2.0, 5.0, 10.0 }) {
        if (raw <= step * magnitude * (1 + 1e-9))
            return step * magnitude;
    }
    return 10 * magnitude;
}

int ChartsPanel::timeStepSeconds(qint64 spanMs, int widthPx) const
{
    // A label needs its width and as much again to read; more labels only crowd (at 1.5x too,
    // since the font metrics scale).
    const int label = fontMetrics().horizontalAdvance(QStringLiteral("00:00:00")) * 2;
    const int ticks = std::max(1, widthPx / std::max(1, label));
    for (int step : { 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400 }) {
        if (spanMs / 1000 / step <= ticks)
            return step;
    }
    return 86400;
}

void ChartsPanel::setTimeAxis(Chart* c, qint64 fromMs, qint64 toMs)
{
    // The axis moves by whole seconds, the resolution of the data: its labels change once a
    // second, not at every refresh. Its span is a whole number of round steps.
    const qint64 end = (toMs + 999) / 1000 * 1000;
    const qint64 span = std::max<qint64>(1000, end - fromMs);
    const int width = int(c->chart->plotArea().width() > 0 ? c->chart->plotArea().width() : c->view->width() - 80);
    const int step = timeStepSeconds(span, width);
    const qint64 steps = std::max<qint64>(1, (span + step * 1000 - 1) / (step * 1000LL));
    const QDateTime from = QDateTime::fromMSecsSinceEpoch(end - steps * step * 1000LL), to = QDateTime::fromMSecsSinceEpoch(end);
    if (c->time->min() != from || c->time->max() != to)
        c->time->setRange(from, to);
    if (c->time->tickCount() != int(steps) + 1)
        c->time->setTickCount(int(steps) + 1);
    const QString format = step >= 60 ? QStringLiteral("HH:mm") : QStringLiteral("HH:mm:ss");
    if (c->time->format() != format)
        c->time->setFormat(format);
}

std::pair<qint64, qint64> ChartsPanel::shownRange(qint64 fromMs, qint64 toMs) const
{
    return zoomed() ? std::pair { m_zoomFrom, m_zoomTo } : std::pair { fromMs, toMs };
}

void ChartsPanel::setZoom(qint64 fromMs, qint64 toMs)
{
    if (toMs <= fromMs)
        fromMs = toMs = 0;
    m_zoomFrom = fromMs;
    m_zoomTo = toMs;
    if (zoomed()) {
        m_zoomLabel->setEnabled(true);
        m_zoomLabel->setText(tr("Range %1 – %2 (%3 s): double-click a chart to go back to live")
                                 .arg(QDateTime::fromMSecsSinceEpoch(fromMs).toString(QStringLiteral("HH:mm:ss")),
                                     QDateTime::fromMSecsSinceEpoch(toMs).toString(QStringLiteral("HH:mm:ss")))
                                 .arg((toMs - fromMs + 500) / 1000));
    } else {
        m_zoomLabel->setEnabled(false);
        m_zoomLabel->setText(tr("Drag on a chart to select a range, double-click to go back to live"));
    }
}

void ChartsPanel::setLatencyAxis(double maxNs)
{
    const auto [scale, unit] = durationUnit(maxNs);
    m_latencyScale = scale;
    const double top = double(maxNs) / scale;
    setNiceAxis(m_latencyLinear, top, valueTicks(m_latency->view));
    setAxisTitle(m_latencyLinear, unit);
    setRange(m_latencyLog, std::max(1e-3, niceCeiling(top / 1e4)), niceCeiling(top * 1.1));
    setAxisTitle(m_latencyLog, unit);
    for (QLineSeries* s : m_latency->leftSeries + m_compare)
        s->setProperty("unit", unit);
}

void ChartsPanel::setLatency(const QString& title, const std::vector<SeriesPoint>& points, qint64 fromMs, qint64 toMs)
{
    const auto [from, to] = shownRange(fromMs, toMs);
    if (m_comparing) { // back to one operation: its four series again
        m_comparing = false;
        for (QLineSeries* s : std::as_const(m_compare)) {
            s->setVisible(false);
            m_latency->chart->legend()->markers(s).value(0)->setVisible(false);
        }
        for (QLineSeries* s : std::as_const(m_latency->leftSeries)) {
            s->setVisible(true);
            m_latency->chart->legend()->markers(s).value(0)->setVisible(true);
        }
    }
    setTitle(m_latency->chart, title.isEmpty() ? tr("Latency — select an operation") : tr("Latency of %1").arg(title));
    setTitle(m_throughput->chart, title.isEmpty() ? tr("Throughput and errors") : tr("Throughput and errors of %1").arg(title));
    quint64 maxNs = 1;
    for (const SeriesPoint& p : points) {
        if (double(p.timestampMs) >= double(from) - 1000)
            maxNs = std::max(maxNs, p.maxNs);
    }
    setLatencyAxis(double(maxNs));
    const double scale = m_latencyScale;
    QList<QPointF> lines[4];
    QList<QPointF> rate, errors;
    double maxRate = 1, maxErrors = 0;
    for (const SeriesPoint& p : points) {
        const double x = pointX(p);
        const quint64 values[] = { p.maxNs, p.p50Ns, p.p95Ns, p.p99Ns };
        for (int i = 0; i < 4; ++i)
            lines[i].append(QPointF(x, std::max(double(values[i]) / scale, m_log ? 1e-3 : 0.0)));
        const double perSecond = double(p.count) / p.resolutionS;
        const double errorRate = p.count ? 100.0 * double(p.errors) / double(p.count) : 0.0;
        rate.append(QPointF(x, perSecond));
        errors.append(QPointF(x, errorRate));
        if (x >= double(from) - 1000) {
            maxRate = std::max(maxRate, perSecond);
            maxErrors = std::max(maxErrors, errorRate);
        }
    }
    for (int i = 0; i < 4; ++i) {
        replace(m_latency->leftSeries[i], decimate(lines[i], MaxPoints));
        m_latency->leftSeries[i]->setProperty("reachMs", points.empty() ? 1000.0 : points.back().resolutionS * 1000.0);
    }
    replace(m_throughput->leftSeries[0], decimate(rate, MaxPoints));
    replace(m_throughput->rightSeries[0], decimate(errors, MaxPoints));
    setNiceAxis(m_throughput->left, maxRate, valueTicks(m_throughput->view));
    setNiceAxis(m_throughput->right, std::max(1.0, maxErrors), valueTicks(m_throughput->view));
    setTimeAxis(m_latency.get(), from, to);
    setTimeAxis(m_throughput.get(), from, to);
}

QLineSeries* ChartsPanel::compareSeries(int i)
{
    while (m_compare.size() <= i) {
        const int n = int(m_compare.size());
        auto* s = new QLineSeries;
        s->setPen(QPen(Palette[n % PaletteSize], 1.8, Styles[n % 4]));
        m_latency->chart->addSeries(s);
        s->attachAxis(m_latency->time);
        s->attachAxis(m_log ? static_cast<QAbstractAxis*>(m_latencyLog) : m_latencyLinear);
        m_compare.append(s);
        m_latency->view->connectLegend();
    }
    return m_compare[i];
}

void ChartsPanel::setComparison(const QStringList& names, const std::vector<std::vector<SeriesPoint>>& series, qint64 fromMs, qint64 toMs)
{
    const auto [from, to] = shownRange(fromMs, toMs);
    const int n = int(std::min<std::size_t>(std::size_t(names.size()), series.size()));
    if (!m_comparing) {
        m_comparing = true;
        for (QLineSeries* s : std::as_const(m_latency->leftSeries)) {
            s->setVisible(false);
            m_latency->chart->legend()->markers(s).value(0)->setVisible(false);
        }
    }
    const QString percentile = m_percentileBox->currentText();
    setTitle(m_latency->chart, tr("%1 of %2 operations").arg(percentile).arg(n));
    quint64 maxNs = 1;
    for (int i = 0; i < n; ++i) {
        for (const SeriesPoint& p : series[std::size_t(i)])
            maxNs = std::max(maxNs, valueOf(p, m_percentile));
    }
    setLatencyAxis(double(maxNs));
    for (int i = 0; i < n; ++i) {
        QLineSeries* s = compareSeries(i);
        QList<QPointF> points;
        for (const SeriesPoint& p : series[std::size_t(i)])
            points.append(QPointF(pointX(p), std::max(double(valueOf(p, m_percentile)) / m_latencyScale, m_log ? 1e-3 : 0.0)));
        if (s->name() != names[i])
            s->setName(names[i]);
        replace(s, decimate(points, MaxPoints));
        QLegendMarker* marker = m_latency->chart->legend()->markers(s).value(0);
        if (marker && !marker->isVisible()) {
            s->setVisible(true);
            marker->setVisible(true);
        }
    }
    for (int i = n; i < m_compare.size(); ++i) {
        m_compare[i]->setVisible(false);
        if (QLegendMarker* marker = m_latency->chart->legend()->markers(m_compare[i]).value(0))
            marker->setVisible(false);
    }
    setTimeAxis(m_latency.get(), from, to);
}

void ChartsPanel::setComparePercentile(Percentile p)
{
    m_percentileBox->setCurrentIndex(int(p));
}

void ChartsPanel::setHeatmap(const QString& title, const LatencyHeatmap& heatmap, qint64 fromMs, qint64 toMs)
{
    // The heatmap sits under the latency chart: the same seconds at the same x, so that a band in
    // one lines up with a peak in the other (its own range started up to a time step later, and
    // its plot was wider).
    qint64 from = m_latency->time->min().toMSecsSinceEpoch();
    qint64 end = m_latency->time->max().toMSecsSinceEpoch();
    if (end <= from) {
        const auto [shownFrom, shownTo] = shownRange(fromMs, toMs);
        from = shownFrom;
        end = (shownTo + 999) / 1000 * 1000;
    }
    m_heatmap->setHeatmap(title, heatmap, from, end);
    const QRectF area = m_latency->chart->plotArea();
    if (area.width() > 0 && m_latency->view->isVisible()) {
        const auto x = [&](QPointF scene) {
            return m_heatmap->mapFromGlobal(m_latency->view->mapToGlobal(m_latency->view->mapFromScene(scene))).x();
        };
        m_heatmap->setPlotSpan(x(area.topLeft()), x(area.topRight()));
    }
}

void ChartsPanel::setMemory(const QString& title, const QList<MemoryRecord>& records, qint64 fromMs, qint64 toMs)
{
    const auto [from, to] = shownRange(fromMs, toMs);
    setTitle(m_memory->chart, title.isEmpty() ? tr("Memory and CPU — select a process") : tr("Memory and CPU of %1").arg(title));
    QList<QPointF> rss, heap, cpu;
    double maxMiB = 1, maxCpu = 1;
    for (const MemoryRecord& r : records) {
        const double x = double(r.timestampMs);
        if (r.rssBytes >= 0) {
            rss.append(QPointF(x, double(r.rssBytes) / 1048576.0));
            maxMiB = std::max(maxMiB, rss.last().y());
        }
        if (r.heapBytes >= 0) {
            heap.append(QPointF(x, double(r.heapBytes) / 1048576.0));
            maxMiB = std::max(maxMiB, heap.last().y());
        }
        if (r.cpuPercent) {
            cpu.append(QPointF(x, *r.cpuPercent));
            maxCpu = std::max(maxCpu, *r.cpuPercent);
        }
    }
    replace(m_memory->leftSeries[0], decimate(rss, MaxPoints));
    replace(m_memory->leftSeries[1], decimate(heap, MaxPoints));
    replace(m_memory->rightSeries[0], decimate(cpu, MaxPoints));
    setNiceAxis(m_memory->left, maxMiB, valueTicks(m_memory->view));
    setAxisTitle(m_memory->left, QStringLiteral("MiB"));
    setNiceAxis(m_memory->right, maxCpu, valueTicks(m_memory->view));
    setTimeAxis(m_memory.get(), from, to);
}

int ChartsPanel::latencyPointCount() const
{
    return int(m_latency->leftSeries[1]->count());
}

int ChartsPanel::throughputPointCount() const
{
    return int(m_throughput->leftSeries[0]->count());
}

int ChartsPanel::memoryPointCount() const
{
    return int(m_memory->leftSeries[0]->count());
}

QList<QPointF> ChartsPanel::latencyPoints(const QString& name) const
{
    for (QLineSeries* s : m_latency->leftSeries + m_compare) {
        if (s->name() == name && s->isVisible())
            return s->points();
    }
    return {};
}

QStringList ChartsPanel::visibleLatencySeries() const
{
    QStringList out;
    for (QLineSeries* s : m_latency->leftSeries + m_compare) {
        if (s->isVisible() && s->opacity() > 0.0)
            out << s->name();
    }
    return out;
}

QString ChartsPanel::latencyTitle() const
{
    return m_latency->chart->title();
}

QValueAxis* ChartsPanel::latencyAxis() const
{
    return m_latencyLinear;
}

QDateTimeAxis* ChartsPanel::latencyTimeAxis() const
{
    return m_latency->time;
}

ExploreChartView* ChartsPanel::latencyView() const
{
    return m_latency->view;
}

} // namespace perfdash
