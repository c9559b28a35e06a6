// SPDX-License-Identifier: GPL-3.0-or-later
#include "chartspanel.h"

#include <QChart>
#include <QChartView>
#include <QDateTime>
#include <QDateTimeAxis>
#include <QGraphicsLayout>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QValueAxis>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace perfdash {

struct ChartsPanel::Chart
{
    QChartView* view = nullptr;
    QChart* chart = nullptr;
    QDateTimeAxis* time = nullptr;
    QValueAxis* left = nullptr;
    QValueAxis* right = nullptr;
    QList<QLineSeries*> leftSeries;
    QList<QLineSeries*> rightSeries;
};

namespace {
    const QColor Palette[] = { QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0xd6, 0x27, 0x28),
        QColor(0x59, 0x59, 0x59), QColor(0x2c, 0xa0, 0x2c) };

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
        for (double step : { 1.0, 2.0, 2.5, 5.0, 10.0 }) {
            if (v <= step * magnitude)
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

    /// The time axis moves by whole seconds, the resolution of the data: its labels change once a
    /// second, not at every refresh.
    void setTimeRange(QDateTimeAxis* axis, qint64 fromMs, qint64 toMs)
    {
        const qint64 end = (toMs + 999) / 1000 * 1000;
        const QDateTime from = QDateTime::fromMSecsSinceEpoch(end - (toMs - fromMs)), to = QDateTime::fromMSecsSinceEpoch(end);
        if (axis->min() != from || axis->max() != to)
            axis->setRange(from, to);
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
} // namespace

ChartsPanel::ChartsPanel(QWidget* parent)
    : QWidget(parent)
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    m_latency = makeChart(tr("Latency"), { tr("p50"), tr("p95"), tr("p99"), tr("max") }, {}, {});
    m_throughput = makeChart(tr("Throughput and errors"), { tr("operations/s") }, { tr("error rate") }, QStringLiteral("%"));
    m_memory = makeChart(tr("Memory and CPU"), { tr("RSS"), tr("heap") }, { tr("CPU") }, QStringLiteral("%"));
    for (Chart* c : { m_latency.get(), m_throughput.get(), m_memory.get() })
        layout->addWidget(c->view, 1);

    // The latency axis can be linear or logarithmic; both exist and one is attached.
    m_latencyLinear = m_latency->left;
    m_latencyLog = new QLogValueAxis(this);
    m_latencyLog->setBase(10);
    m_latencyLog->setLabelFormat(QStringLiteral("%g"));
    m_latencyLog->setMinorTickCount(8);
}

ChartsPanel::~ChartsPanel() = default;

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
    c->time->setTickCount(6);
    c->chart->addAxis(c->time, Qt::AlignBottom);
    c->left = new QValueAxis;
    c->left->setLabelFormat(QStringLiteral("%g"));
    c->chart->addAxis(c->left, Qt::AlignLeft);
    int color = 0;
    for (const QString& name : left) {
        auto* s = new QLineSeries;
        s->setName(name);
        s->setPen(QPen(Palette[color++ % 5], 1.6));
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
    c->view = new QChartView(c->chart, this);
    c->view->setRenderHint(QPainter::Antialiasing, false);
    c->view->setMinimumHeight(150);
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
    if (m_latency->chart->axes(Qt::Vertical).contains(remove)) {
        for (QLineSeries* s : std::as_const(m_latency->leftSeries))
            s->detachAxis(remove);
        m_latency->chart->removeAxis(remove);
        remove->setParent(this); // removeAxis() gives up ownership
    }
    m_latency->chart->addAxis(add, Qt::AlignLeft);
    for (QLineSeries* s : std::as_const(m_latency->leftSeries))
        s->attachAxis(add);
}

void ChartsPanel::setLatency(const QString& title, const std::vector<SeriesPoint>& points, qint64 fromMs, qint64 toMs)
{
    setTitle(m_latency->chart, title.isEmpty() ? tr("Latency — select an operation") : tr("Latency of %1").arg(title));
    setTitle(m_throughput->chart, title.isEmpty() ? tr("Throughput and errors") : tr("Throughput and errors of %1").arg(title));
    quint64 maxNs = 1;
    for (const SeriesPoint& p : points)
        maxNs = std::max(maxNs, p.maxNs);
    const auto [scale, unit] = durationUnit(double(maxNs));
    m_latencyScale = scale;
    QList<QPointF> lines[4];
    QList<QPointF> rate, errors;
    double maxRate = 1, maxErrors = 1;
    for (const SeriesPoint& p : points) {
        // An interval is drawn at its middle, so a minute point sits among the seconds it stands for.
        const double x = double(p.timestampMs + qint64(p.resolutionS) * 500);
        const quint64 values[] = { p.p50Ns, p.p95Ns, p.p99Ns, p.maxNs };
        for (int i = 0; i < 4; ++i)
            lines[i].append(QPointF(x, std::max(double(values[i]) / scale, m_log ? 1e-3 : 0.0)));
        const double perSecond = double(p.count) / p.resolutionS;
        const double errorRate = p.count ? 100.0 * double(p.errors) / double(p.count) : 0.0;
        rate.append(QPointF(x, perSecond));
        errors.append(QPointF(x, errorRate));
        maxRate = std::max(maxRate, perSecond);
        maxErrors = std::max(maxErrors, errorRate);
    }
    for (int i = 0; i < 4; ++i)
        replace(m_latency->leftSeries[i], decimate(lines[i], MaxPoints));
    replace(m_throughput->leftSeries[0], decimate(rate, MaxPoints));
    replace(m_throughput->rightSeries[0], decimate(errors, MaxPoints));

    const double top = niceCeiling(double(maxNs) / scale * 1.1);
    setRange(m_latencyLinear, 0, top);
    setAxisTitle(m_latencyLinear, unit);
    setRange(m_latencyLog, std::max(1e-3, niceCeiling(double(maxNs) / scale / 1e4)), top);
    setAxisTitle(m_latencyLog, unit);
    setRange(m_throughput->left, 0, niceCeiling(maxRate * 1.1));
    setRange(m_throughput->right, 0, niceCeiling(maxErrors * 1.1));
    for (Chart* c : { m_latency.get(), m_throughput.get() })
        setTimeRange(c->time, fromMs, toMs);
}

void ChartsPanel::setMemory(const QString& title, const QList<MemoryRecord>& records, qint64 fromMs, qint64 toMs)
{
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
    setRange(m_memory->left, 0, niceCeiling(maxMiB * 1.1));
    setAxisTitle(m_memory->left, QStringLiteral("MiB"));
    setRange(m_memory->right, 0, niceCeiling(maxCpu * 1.1));
    setTimeRange(m_memory->time, fromMs, toMs);
}

int ChartsPanel::latencyPointCount() const
{
    return int(m_latency->leftSeries[0]->count());
}

int ChartsPanel::throughputPointCount() const
{
    return int(m_throughput->leftSeries[0]->count());
}

int ChartsPanel::memoryPointCount() const
{
    return int(m_memory->leftSeries[0]->count());
}

} // namespace perfdash
