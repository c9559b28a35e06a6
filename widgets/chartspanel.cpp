// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/chartspanel.h"

#include "models/chartaxes.h"
#include "models/format.h"
#include "widgets/explorechartview.h"
#include "widgets/latencyheatmapview.h"

#include <QCategoryAxis>
#include <QChart>
#include <QComboBox>
#include <QDateTime>
#include <QEvent>
#include <QGraphicsLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLegend>
#include <QLineSeries>
#include <QLocale>
#include <QLogValueAxis>
#include <QPainter>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QScrollArea>
#include <QTimeZone>
#include <QToolButton>
#include <QVBoxLayout>
#include <QValueAxis>

#include <algorithm>
#include <cmath>
#include <limits>

namespace perfdash {

struct ChartsPanel::Chart
{
    QWidget* section = nullptr;
    QLabel* title = nullptr;
    QString
        fullTitle; // the title's label shows it whole, or cut in its middle when even a line of its own is too narrow
    QHBoxLayout* legendLayout = nullptr;
    QBoxLayout* header = nullptr; // the title and the legend: one line, or two when narrow
    QList<QToolButton*> legend;
    QStringList legendKey;
    ExploreChartView* view = nullptr;
    QChart* chart = nullptr;
    QCategoryAxis* time = nullptr;
    QValueAxis* left = nullptr;
    QValueAxis* right = nullptr;
    QAbstractAxis* leftAttached = nullptr; // the latency chart's: linear or logarithmic
    QString leftFormat;
    QString rightFormat;
    QList<QLineSeries*> leftSeries; // a pool: the first ones in use, the others hidden
    QList<QLineSeries*> rightSeries;
    QStringList leftLabels; // what the value axes label now, for the margins
    QStringList rightLabels;
    QList<qint64> ticks;
    bool timeLabels = false;
};

struct ChartsPanel::Line
{
    QString name;
    QPen pen;
    QList<QPointF> points;
    QString unit;
    QString legend; // the legend entry it belongs to (empty: its name)
    double reachMs = 1000.0;
};

namespace {
const QColor Palette[]
    = { QColor(0x1f, 0x77, 0xb4), QColor(0xff, 0x7f, 0x0e), QColor(0x2c, 0xa0, 0x2c), QColor(0x94, 0x67, 0xbd),
          QColor(0x8c, 0x56, 0x4b), QColor(0xe3, 0x77, 0xc2), QColor(0x17, 0xbe, 0xcf), QColor(0xbc, 0xbd, 0x22) };
const QColor ErrorColor(0xd6, 0x27, 0x28);
constexpr int PaletteSize = int(std::size(Palette));
// Series differ by line style too, not only by colour (colour-blind users, grey prints).
const Qt::PenStyle Styles[] = { Qt::SolidLine, Qt::DashLine, Qt::DashDotLine, Qt::DotLine };

/// An axis label as Qt Charts writes it with localized numbers: "%.6g ms" is the prefix, the
/// number in the locale, the suffix (its printf path reads the format as Latin-1: "µs" broke).
QString label(const QString& format, double v)
{
    static const QRegularExpression spec(QStringLiteral("^([^%]*)%\\.(\\d+)([defgiEG])(.*)$"));
    const QRegularExpressionMatch m = spec.match(format);
    if (!m.hasMatch())
        return QLocale().toString(v);
    return m.captured(1) + QLocale().toString(v, m.captured(3).at(0).toLatin1(), m.captured(2).toInt()) + m.captured(4);
}

void replace(QLineSeries* series, const QList<QPointF>& points)
{
    if (series->points() != points)
        series->replace(points);
}

quint64 valueOf(const SeriesPoint& p, ChartsPanel::Percentile which)
{
    switch (which) {
    case ChartsPanel::Percentile::P50:
        return p.p50Ns;
    case ChartsPanel::Percentile::P95:
        return p.p95Ns;
    case ChartsPanel::Percentile::P99:
        return p.p99Ns;
    case ChartsPanel::Percentile::Max:
        return p.maxNs;
    }
    return p.p99Ns;
}

double pointX(const SeriesPoint& p)
{
    // An interval is drawn at its middle, so a minute point sits among the seconds it stands for.
    return double(p.timestampMs + qint64(p.resolutionS) * 500);
}

/// A legend entry's sample: a short stroke in the series' pen.
QIcon lineIcon(const QPen& pen, int height)
{
    QPixmap pixmap(height * 2, height);
    pixmap.fill(Qt::transparent);
    QPainter painter(&pixmap);
    QPen p = pen;
    p.setWidthF(std::max(2.0, pen.widthF()));
    painter.setPen(p);
    painter.drawLine(QPointF(1, height / 2.0), QPointF(height * 2 - 1, height / 2.0));
    return QIcon(pixmap);
}
} // namespace

ChartsPanel::ChartsPanel(QWidget* parent)
    : QWidget(parent)
    , m_heatmap(nullptr)
    , m_scroll(new QScrollArea(this))
    , m_content(new QWidget)
    , m_percentileBox(new QComboBox(this))
    , m_zoomLabel(new QLabel(this))
    , m_note(new QLabel(this))
{
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(4, 0, 4, 0);
    m_zoomLabel->setWordWrap(true);
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
    m_note->setWordWrap(true);
    m_note->setContentsMargins(6, 4, 6, 4);
    m_note->hide();
    layout->addWidget(m_note);

    // Below their minimum heights the charts scroll; they never squeeze their labels into "...".
    m_scroll->setFrameShape(QFrame::NoFrame);
    m_scroll->setWidgetResizable(true);
    m_scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_scroll->setWidget(m_content);
    layout->addWidget(m_scroll, 1);
    m_heatmap = new LatencyHeatmapView(m_content);

    m_latency = makeChart(tr("Latency"), QStringLiteral("%.6g ms"), {});
    m_throughput = makeChart(tr("Throughput and errors"), QStringLiteral("%.6g/s"), QStringLiteral("%.6g %"));
    m_memory = makeChart(tr("Memory and CPU"), QStringLiteral("%.6g MiB"), QStringLiteral("%.6g %"));
    m_memory->timeLabels = true; // the bottom chart labels the time axis they all share
    auto* content = new QVBoxLayout(m_content);
    content->setContentsMargins(0, 0, 0, 0);
    content->setSpacing(4);
    content->addWidget(m_latency->section, 3);
    content->addWidget(m_heatmap, 2);
    content->addWidget(m_throughput->section, 2);
    content->addWidget(m_memory->section, 2);

    // The latency axis can be linear or logarithmic; both exist and one is attached.
    m_latencyLinear = m_latency->left;
    m_latencyLog = new QLogValueAxis(this);
    m_latencyLog->setBase(10);
    m_latencyLog->setLabelFormat(QStringLiteral("%.6g ms"));
    m_latencyLog->setMinorTickCount(8);
    m_latencyLog->setTitleVisible(false);
    m_latencyLog->setLabelsFont(font());

    const QList<Chart*> charts { m_latency.get(), m_throughput.get(), m_memory.get() };
    for (Chart* c : charts) {
        c->view->installEventFilter(this);
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
    // Empty charts until the first data: titles that say what to do, axes already aligned.
    setLines(m_latency.get(), {}, {});
    setLines(m_throughput.get(), {}, {});
    setLines(m_memory.get(), {}, {});
    setTitle(m_latency.get(), tr("Latency — select an operation"));
    setTitle(m_throughput.get(), tr("Throughput and errors"));
    setTitle(m_memory.get(), tr("Memory and CPU — select a process"));
    followPalette();
    updateMinimumHeights();
    alignPlots();
}

ChartsPanel::~ChartsPanel()
{
    // The charts' widgets outlive the Chart structs (QWidget deletes its children after the
    // members are gone): no more events of theirs here.
    for (Chart* c : { m_latency.get(), m_throughput.get(), m_memory.get() }) {
        c->view->removeEventFilter(this);
        c->section->removeEventFilter(this);
    }
}

QChart* ChartsPanel::latencyChart() const
{
    return m_latency->chart;
}

ChartsPanel::Chart* ChartsPanel::chart(Kind kind) const
{
    switch (kind) {
    case Kind::Latency:
        return m_latency.get();
    case Kind::Throughput:
        return m_throughput.get();
    case Kind::Memory:
        return m_memory.get();
    }
    return m_latency.get();
}

void ChartsPanel::changeEvent(QEvent* event)
{
    QWidget::changeEvent(event);
    if (event->type() == QEvent::PaletteChange)
        followPalette();
    if (event->type() == QEvent::FontChange) {
        updateMinimumHeights();
        alignPlots();
    }
}

bool ChartsPanel::eventFilter(QObject* watched, QEvent* event)
{
    if (!m_memory) // still being built
        return QWidget::eventFilter(watched, event);
    if (event->type() == QEvent::Resize) {
        for (Chart* c : { m_latency.get(), m_throughput.get(), m_memory.get() }) {
            if (c->section == watched)
                fitHeader(c);
        }
    }
    if (event->type() == QEvent::Resize && qobject_cast<ExploreChartView*>(watched)) {
        // More or fewer value ticks fit the new height: laid out again at the next refresh; the
        // margins now, so that the plots stay aligned meanwhile.
        alignPlots();
    }
    return QWidget::eventFilter(watched, event);
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

std::unique_ptr<ChartsPanel::Chart> ChartsPanel::makeChart(
    const QString& title, const QString& leftFormat, const QString& rightFormat)
{
    auto c = std::make_unique<Chart>();
    c->section = new QWidget(m_content);
    auto* layout = new QVBoxLayout(c->section);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(0);
    // The title and the legend share one line: the plot keeps the height.
    auto* header = new QHBoxLayout;
    header->setContentsMargins(4, 0, 4, 0);
    header->setSpacing(2);
    c->title = new QLabel(title, c->section);
    c->fullTitle = title;
    QFont bold = c->title->font();
    bold.setBold(true);
    c->title->setFont(bold);
    c->title->setMinimumWidth(c->title->fontMetrics().averageCharWidth() * 12);
    c->title->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    header->addWidget(c->title, 1);
    c->legendLayout = new QHBoxLayout;
    c->legendLayout->setSpacing(0);
    // Under the title (a narrow chart), the entries keep together at the left, not spread out.
    c->legendLayout->addStretch(1);
    header->addLayout(c->legendLayout);
    layout->addLayout(header);
    c->header = header;
    c->section->installEventFilter(this);

    c->chart = new QChart;
    c->chart->setAnimationOptions(QChart::NoAnimation);
    c->chart->legend()->hide(); // the legend is the line above, with the title
    c->chart->setMargins(QMargins(0, 0, 0, 0));
    c->chart->layout()->setContentsMargins(0, 0, 0, 0);
    c->chart->setBackgroundRoundness(0);
    c->chart->setLocalizeNumbers(true); // see label()
    c->chart->setLocale(QLocale());
    c->time = new QCategoryAxis;
    c->time->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    c->time->setLabelsVisible(false);
    c->time->setTitleVisible(false);
    c->time->setLabelsFont(font());
    c->chart->addAxis(c->time, Qt::AlignBottom);
    c->left = new QValueAxis;
    c->leftFormat = leftFormat;
    c->left->setLabelFormat(leftFormat);
    c->left->setTitleVisible(false);
    c->left->setLabelsFont(font());
    c->chart->addAxis(c->left, Qt::AlignLeft);
    c->leftAttached = c->left;
    if (!rightFormat.isEmpty()) {
        c->right = new QValueAxis;
        c->rightFormat = rightFormat;
        c->right->setLabelFormat(rightFormat);
        c->right->setTitleVisible(false);
        c->right->setLabelsFont(font());
        c->right->setGridLineVisible(false);
        c->chart->addAxis(c->right, Qt::AlignRight);
    }
    c->view = new ExploreChartView(c->chart, c->section);
    c->view->setRenderHint(QPainter::Antialiasing, false);
    c->view->setFrameShape(QFrame::NoFrame);
    layout->addWidget(c->view, 1);
    return c;
}

QLineSeries* ChartsPanel::pooled(Chart* c, bool right, int i)
{
    QList<QLineSeries*>& pool = right ? c->rightSeries : c->leftSeries;
    while (pool.size() <= i) {
        auto* s = new QLineSeries;
        c->chart->addSeries(s);
        s->attachAxis(c->time);
        s->attachAxis(right ? static_cast<QAbstractAxis*>(c->right) : c->leftAttached);
        pool.append(s);
    }
    return pool[i];
}

void ChartsPanel::setLines(Chart* c, const QList<Line>& left, const QList<Line>& right)
{
    for (bool isRight : { false, true }) {
        const QList<Line>& lines = isRight ? right : left;
        if (isRight && !c->right)
            continue;
        for (int i = 0; i < lines.size(); ++i) {
            const Line& line = lines[i];
            QLineSeries* s = pooled(c, isRight, i);
            if (s->name() != line.name)
                s->setName(line.name);
            if (s->pen() != line.pen)
                s->setPen(line.pen);
            s->setProperty("unit", line.unit);
            s->setProperty("legend", line.legend.isEmpty() ? line.name : line.legend);
            s->setProperty("reachMs", line.reachMs);
            replace(s, chartaxes::decimate(line.points, MaxPoints));
            if (!s->isVisible())
                s->setVisible(true);
        }
        const QList<QLineSeries*>& pool = isRight ? c->rightSeries : c->leftSeries;
        for (qsizetype i = lines.size(); i < pool.size(); ++i) {
            if (pool[i]->isVisible())
                pool[i]->setVisible(false);
        }
    }
    updateLegend(c);
}

void ChartsPanel::updateLegend(Chart* c)
{
    QStringList key;
    QList<QList<QLineSeries*>> groups;
    for (QLineSeries* s : c->leftSeries + c->rightSeries) {
        if (!s->isVisible())
            continue;
        const QString entry = s->property("legend").toString();
        const qsizetype at = key.indexOf(entry);
        if (at < 0) {
            key << entry;
            groups.append({ s });
        } else {
            groups[at].append(s);
        }
    }
    QStringList penKey; // a series that changed colour gets a new sample
    for (const auto& group : std::as_const(groups))
        penKey << group.first()->pen().color().name() + QString::number(int(group.first()->pen().style()));
    key += penKey;
    if (key == c->legendKey)
        return;
    c->legendKey = key;
    const auto refit = qScopeGuard([this, c] { fitHeader(c); });
    qDeleteAll(c->legend);
    c->legend.clear();
    const int height = fontMetrics().height();
    for (const auto& group : std::as_const(groups)) {
        auto* button = new QToolButton(c->section);
        const QString name = group.first()->property("legend").toString();
        button->setText(name);
        button->setIcon(lineIcon(group.first()->pen(), height / 2 + 2));
        button->setIconSize(QSize(height + 4, height / 2 + 2));
        button->setToolButtonStyle(Qt::ToolButtonTextBesideIcon);
        button->setAutoRaise(true);
        button->setCheckable(true);
        // A legend, not a row of buttons: flat, a hidden series' entry greyed.
        button->setStyleSheet(
            QStringLiteral("QToolButton { border: none; padding: 0px 3px; color: palette(window-text); }"
                           "QToolButton:!checked { color: palette(mid); }"));
        button->setChecked(true);
        button->setToolTip(tr("Show or hide %1").arg(name));
        for (QLineSeries* s : group)
            s->setOpacity(1.0);
        const QList<QLineSeries*> series = group;
        // Hidden by opacity, not setVisible(), which says the series is not in use.
        connect(button, &QToolButton::toggled, this, [series](bool on) {
            for (QLineSeries* s : series)
                s->setOpacity(on ? 1.0 : 0.0);
        });
        c->legendLayout->insertWidget(c->legendLayout->count() - 1, button); // before the stretch
        c->legend.append(button);
    }
}

void ChartsPanel::fitHeader(Chart* c)
{
    // The title whole beside the legend when both fit, above it otherwise; on a line of its own
    // too narrow for it, cut in its middle (its start and the operation's process stay), never
    // clipped at the frame. The tooltip has it whole.
    int legend = 0;
    for (QToolButton* b : std::as_const(c->legend))
        legend += b->sizeHint().width();
    const QFontMetrics metrics = c->title->fontMetrics();
    const int titleWidth = metrics.horizontalAdvance(c->fullTitle);
    const int room = c->section->width() - 8;
    const auto direction
        = titleWidth + legend + 16 <= c->section->width() ? QBoxLayout::LeftToRight : QBoxLayout::TopToBottom;
    if (c->header->direction() != direction)
        c->header->setDirection(direction);
    const QString shown
        = titleWidth <= room || room <= 0 ? c->fullTitle : metrics.elidedText(c->fullTitle, Qt::ElideMiddle, room);
    if (c->title->text() != shown)
        c->title->setText(shown);
}

void ChartsPanel::setTitle(Chart* c, const QString& title, const QString& tip)
{
    if (c->fullTitle != title) {
        c->fullTitle = title;
        fitHeader(c);
    }
    c->title->setToolTip(tip.isEmpty() ? title : tip);
}

int ChartsPanel::valueTicks(const ExploreChartView* view) const
{
    // Labels two lines apart at least (Qt Charts elides a label taller than its tick spacing into
    // "..."): a short chart gets fewer ticks, not elided ones. niceAxis() may add one interval.
    const QMarginsF m = view->plotMargins();
    const double plot = std::max(0.0, view->height() - m.top() - m.bottom());
    return std::clamp(int(plot / (fontMetrics().height() * 2.0)) - 1, 1, 5);
}

void ChartsPanel::setValueAxis(Chart* c, bool right, double max)
{
    QValueAxis* axis = right ? c->right : c->left;
    const chartaxes::ValueAxis nice = chartaxes::niceAxis(max, valueTicks(c->view));
    // Fixed ticks at 0, step, 2 step...: dynamic ticks left some labels elided ("...").
    if (axis->tickCount() != nice.tickCount)
        axis->setTickCount(nice.tickCount);
    if (axis->min() != 0.0 || axis->max() != nice.max)
        axis->setRange(0.0, nice.max);
    QStringList labels;
    const QString& format = right ? c->rightFormat : c->leftFormat;
    for (int i = 0; i < nice.tickCount; ++i)
        labels << label(format, nice.max * i / (nice.tickCount - 1));
    (right ? c->rightLabels : c->leftLabels) = labels;
}

void ChartsPanel::updateMinimumHeights()
{
    const QFontMetrics fm(font());
    // A plot at least four lines of text high: three labelled ticks, a curve one can read.
    const int plot = fm.height() * 4;
    // With alignPlots()' margins: above, three quarters of a line; below, a line (and the time
    // labels' line under the bottom chart).
    const int top = fm.height() * 3 / 4 + 3;
    m_latency->view->setMinimumHeight(plot * 3 / 2 + top + fm.height() + 4);
    m_throughput->view->setMinimumHeight(plot + top + fm.height() + 4);
    m_memory->view->setMinimumHeight(plot + top + fm.height() + 10);
    // The sections' minimum follows from their layouts: a header of one line or two, and the view.
}

void ChartsPanel::alignPlots()
{
    const QFontMetrics fm(font());
    const auto widest = [&](const QStringList& labels) {
        int w = 0;
        for (const QString& l : labels)
            w = std::max(w, fm.horizontalAdvance(l));
        return w;
    };
    // As wide as the widest labels of any chart (the heatmap's too), so that every plot starts
    // at the same x and a second is at the same x on all of them.
    int left = fm.horizontalAdvance(QStringLiteral("500 µs")) + 8;
    int right = fm.horizontalAdvance(QStringLiteral("100 %")) + 12;
    for (Chart* c : { m_latency.get(), m_throughput.get(), m_memory.get() }) {
        left = std::max(left, widest(c->leftLabels) + 12);
        right = std::max(right, widest(c->rightLabels) + 12);
    }
    if (m_log) {
        QStringList decades;
        for (double v = m_latencyLog->min(); v <= m_latencyLog->max() * 1.001; v *= 10)
            decades << label(m_latencyLog->labelFormat(), v);
        left = std::max(left, widest(decades) + 12);
    }
    // The last time label is centred on the plot's right edge.
    right = std::max(right, fm.horizontalAdvance(QStringLiteral("00:00:00")) / 2 + 4);
    const double top = fm.height() * 0.75 + 2;
    for (Chart* c : { m_latency.get(), m_throughput.get(), m_memory.get() }) {
        // The bottom tick's label is centred on the plot's edge: half of it below (and a little
        // more, or Qt Charts drops it).
        const double bottom = c->timeLabels ? fm.height() + 10 : fm.height() + 4;
        c->view->setPlotMargins(QMarginsF(left, top, right, bottom));
    }
    // The heatmap has no margins of its own to agree on: it takes the charts' x span.
    const int viewLeft = m_latency->view->mapTo(m_content, QPoint(0, 0)).x() - m_heatmap->x();
    m_heatmap->setPlotSpan(viewLeft + left, viewLeft + m_latency->view->width() - right);
}

void ChartsPanel::setLogScale(bool log)
{
    if (log == m_log)
        return;
    m_log = log;
    attachLatencyAxis();
    alignPlots();
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
    m_latency->leftAttached = add;
    for (QLineSeries* s : std::as_const(m_latency->leftSeries))
        s->attachAxis(add);
}

void ChartsPanel::setTimeAxis(Chart* c, qint64 fromMs, qint64 toMs)
{
    if (toMs <= fromMs)
        toMs = fromMs + 1000;
    if (c->time->min() != double(fromMs) || c->time->max() != double(toMs))
        c->time->setRange(double(fromMs), double(toMs));
    const QMarginsF m = c->view->plotMargins();
    const double width = std::max(50.0, c->view->width() - m.left() - m.right());
    const QFontMetrics fm(font());
    const qint64 step = chartaxes::timeStepMs(toMs - fromMs, width, fm.horizontalAdvance(QStringLiteral("00:00:00")));
    const qint64 offset = qint64(QDateTime::fromMSecsSinceEpoch(toMs).offsetFromUtc()) * 1000;
    QList<qint64> ticks = chartaxes::timeTicks({ fromMs, toMs }, step, offset);
    ticks.removeIf([&](qint64 t) { return t <= fromMs; }); // a category needs room after the start
    if (ticks == c->ticks && c->time->startValue() == double(fromMs))
        return;
    c->ticks = ticks;
    // Whole minutes when the steps are; the date too once the axis spans days.
    const QString format = toMs - fromMs > 20 * 3'600'000 ? QStringLiteral("d MMM HH:mm")
        : step >= 60'000                                  ? QStringLiteral("HH:mm")
                                                          : QStringLiteral("HH:mm:ss");
    for (const QString& l : c->time->categoriesLabels())
        c->time->remove(l);
    c->time->setStartValue(double(fromMs));
    for (qint64 t : std::as_const(ticks))
        c->time->append(QDateTime::fromMSecsSinceEpoch(t).toString(format), double(t));
    c->time->setLabelsVisible(c->timeLabels);
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

void ChartsPanel::setLatencyAxis(double minNs, double maxNs)
{
    const auto [scale, unit] = axisDurationUnit(maxNs);
    m_latencyScale = scale;
    m_latencyUnit = unit;
    const QString format = QStringLiteral("%.6g ") + unit;
    m_latency->leftFormat = format;
    if (m_latencyLinear->labelFormat() != format)
        m_latencyLinear->setLabelFormat(format);
    if (m_latencyLog->labelFormat() != format)
        m_latencyLog->setLabelFormat(format);
    setValueAxis(m_latency.get(), false, maxNs / scale);
    // Whole decades around the data, not one below it.
    const chartaxes::LogRange decades = chartaxes::logRange(minNs / scale, maxNs / scale);
    if (m_latencyLog->min() != decades.min || m_latencyLog->max() != decades.max)
        m_latencyLog->setRange(decades.min, decades.max);
    if (m_log) {
        m_latency->leftLabels.clear();
        for (double v = decades.min; v <= decades.max * 1.001; v *= 10)
            m_latency->leftLabels << label(format, v);
    }
}

void ChartsPanel::setLatency(const QString& title, const std::vector<SeriesPoint>& points, qint64 fromMs, qint64 toMs)
{
    const auto [from, to] = shownRange(fromMs, toMs);
    m_comparing = false;
    setTitle(m_latency.get(), title.isEmpty() ? tr("Latency — select an operation") : tr("Latency of %1").arg(title));
    setTitle(m_throughput.get(),
        title.isEmpty() ? tr("Throughput and errors") : tr("Throughput and errors of %1").arg(title));
    double maxNs = 1, minNs = std::numeric_limits<double>::max();
    for (const SeriesPoint& p : points) {
        if (pointX(p) >= double(from) - 1000 && p.count) {
            maxNs = std::max(maxNs, double(p.maxNs));
            minNs = std::min(minNs, double(p.p50Ns));
        }
    }
    setLatencyAxis(minNs, maxNs);
    const double scale = m_latencyScale;
    const double floor = m_log ? m_latencyLog->min() : 0.0;
    QList<QPointF> lines[4];
    QList<QPointF> rate, errors;
    double maxRate = 1, maxErrors = 0;
    for (const SeriesPoint& p : points) {
        const double x = pointX(p);
        const quint64 values[] = { p.maxNs, p.p50Ns, p.p95Ns, p.p99Ns };
        for (int i = 0; i < 4; ++i)
            lines[i].append(QPointF(x, std::max(double(values[i]) / scale, floor)));
        const double perSecond = double(p.count) / std::max(1, int(p.resolutionS));
        const double errorRate = p.count ? 100.0 * double(p.errors) / double(p.count) : 0.0;
        rate.append(QPointF(x, perSecond));
        errors.append(QPointF(x, errorRate));
        if (x >= double(from) - 1000) {
            maxRate = std::max(maxRate, perSecond);
            maxErrors = std::max(maxErrors, errorRate);
        }
    }
    const double reach = points.empty() ? 1000.0 : points.back().resolutionS * 1000.0;
    const QString unit = m_latencyUnit;
    // max first: it is drawn under p99, which it often equals in quiet seconds.
    setLines(m_latency.get(),
        { Line { tr("max"), QPen(QColor(0x80, 0x80, 0x80), 1.0, Qt::DotLine), lines[0], unit, {}, reach },
            Line { tr("p50"), QPen(Palette[0], 1.6, Qt::SolidLine), lines[1], unit, {}, reach },
            Line { tr("p95"), QPen(Palette[1], 1.6, Qt::DashLine), lines[2], unit, {}, reach },
            Line { tr("p99"), QPen(ErrorColor, 2.2, Qt::SolidLine), lines[3], unit, {}, reach } },
        {});
    setLines(m_throughput.get(),
        { Line { tr("operations/s"), QPen(Palette[0], 1.6, Qt::SolidLine), rate, QStringLiteral("/s"), {}, reach } },
        { Line { tr("error rate"), QPen(ErrorColor, 1.2, Qt::DashLine), errors, QStringLiteral("%"), {}, reach } });
    setValueAxis(m_throughput.get(), false, maxRate);
    setValueAxis(m_throughput.get(), true, std::max(1.0, maxErrors));
    setTimeAxis(m_latency.get(), from, to);
    setTimeAxis(m_throughput.get(), from, to);
    alignPlots();
}

void ChartsPanel::setComparison(
    const QStringList& names, const std::vector<std::vector<SeriesPoint>>& series, qint64 fromMs, qint64 toMs)
{
    const auto [from, to] = shownRange(fromMs, toMs);
    const int n = int(std::min<std::size_t>(std::size_t(names.size()), series.size()));
    m_comparing = true;
    const QString percentile = m_percentileBox->currentText();
    setTitle(m_latency.get(), tr("%1 of %2 operations").arg(percentile).arg(n), names.join(u'\n'));
    setTitle(m_throughput.get(), tr("Throughput (solid) and error rate (dashed) of %n operation(s)", nullptr, n),
        names.join(u'\n'));
    double maxNs = 1, minNs = std::numeric_limits<double>::max(), maxRate = 1, maxErrors = 0;
    for (int i = 0; i < n; ++i) {
        for (const SeriesPoint& p : series[std::size_t(i)]) {
            if (pointX(p) >= double(from) - 1000 && p.count) {
                maxNs = std::max(maxNs, double(valueOf(p, m_percentile)));
                minNs = std::min(minNs, double(valueOf(p, m_percentile)));
            }
        }
    }
    setLatencyAxis(minNs, maxNs);
    const double floor = m_log ? m_latencyLog->min() : 0.0;
    QList<Line> latency, rates, errors;
    for (int i = 0; i < n; ++i) {
        const QColor colour = Palette[i % PaletteSize];
        QList<QPointF> values, rate, error;
        for (const SeriesPoint& p : series[std::size_t(i)]) {
            const double x = pointX(p);
            values.append(QPointF(x, std::max(double(valueOf(p, m_percentile)) / m_latencyScale, floor)));
            const double perSecond = double(p.count) / std::max(1, int(p.resolutionS));
            const double errorRate = p.count ? 100.0 * double(p.errors) / double(p.count) : 0.0;
            rate.append(QPointF(x, perSecond));
            error.append(QPointF(x, errorRate));
            if (x >= double(from) - 1000) {
                maxRate = std::max(maxRate, perSecond);
                maxErrors = std::max(maxErrors, errorRate);
            }
        }
        const double reach
            = series[std::size_t(i)].empty() ? 1000.0 : series[std::size_t(i)].back().resolutionS * 1000.0;
        latency.append(
            Line { names[i], QPen(colour, 1.8, Styles[(i / PaletteSize) % 4]), values, m_latencyUnit, {}, reach });
        rates.append(Line { names[i], QPen(colour, 1.6, Qt::SolidLine), rate, QStringLiteral("/s"), {}, reach });
        errors.append(Line { tr("errors of %1").arg(names[i]), QPen(colour, 1.2, Qt::DashLine), error,
            QStringLiteral("%"), names[i], reach });
    }
    setLines(m_latency.get(), latency, {});
    setLines(m_throughput.get(), rates, errors);
    setValueAxis(m_throughput.get(), false, maxRate);
    setValueAxis(m_throughput.get(), true, std::max(1.0, maxErrors));
    setTimeAxis(m_latency.get(), from, to);
    setTimeAxis(m_throughput.get(), from, to);
    alignPlots();
}

void ChartsPanel::setComparePercentile(Percentile p)
{
    m_percentileBox->setCurrentIndex(int(p));
}

void ChartsPanel::setHeatmap(const QString& title, const LatencyHeatmap& heatmap, qint64 fromMs, qint64 toMs)
{
    // The heatmap sits under the latency chart: the same seconds at the same x, so that a band in
    // one lines up with a peak in the other.
    qint64 from = qint64(m_latency->time->min());
    qint64 end = qint64(m_latency->time->max());
    if (end <= from) {
        const auto [shownFrom, shownTo] = shownRange(fromMs, toMs);
        from = shownFrom;
        end = shownTo;
    }
    m_heatmap->setHeatmap(title, heatmap, from, end);
    alignPlots();
}

void ChartsPanel::setMemory(const QString& title, const QList<MemoryRecord>& records, qint64 fromMs, qint64 toMs,
    const std::vector<HeapSiteSeries>& sites)
{
    const auto [from, to] = shownRange(fromMs, toMs);
    setTitle(m_memory.get(),
        title.isEmpty() ? tr("Memory and CPU — select a process") : tr("Memory and CPU of %1").arg(title));
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
    QList<Line> left { Line {
        tr("RSS"), QPen(Palette[0], 1.6, Qt::SolidLine), rss, QStringLiteral("MiB"), {}, 1000.0 } };
    if (!heap.isEmpty()) // only an instrumented process (or a tracked heap) says its heap
        left.append(Line { tr("heap"), QPen(Palette[1], 1.6, Qt::DashLine), heap, QStringLiteral("MiB"), {}, 1000.0 });
    // A heap tracked by call site: its three largest sites' live bytes (estimated), dotted, their
    // names cut in the middle so that the legend keeps to the chart's width (the Memory view has them whole).
    for (std::size_t i = 0; i < sites.size() && i < 3; ++i) {
        QString name = sites[i].site;
        if (name.size() > 16)
            name = name.left(7) + u'\u2026' + name.right(8);
        QList<QPointF> points;
        for (const auto& [ms, bytes] : sites[i].points) {
            if (ms >= from)
                points.append(QPointF(double(ms), bytes / 1048576.0));
        }
        for (const QPointF& p : std::as_const(points))
            maxMiB = std::max(maxMiB, p.y());
        left.append(Line { name, QPen(Palette[(2 + int(i)) % PaletteSize], 1.2, Qt::DotLine), points,
            QStringLiteral("MiB"), {}, 1000.0 });
    }
    setLines(m_memory.get(), left,
        { Line { tr("CPU"), QPen(ErrorColor, 1.2, Qt::DashLine), cpu, QStringLiteral("%"), {}, 1000.0 } });
    setValueAxis(m_memory.get(), false, maxMiB);
    setValueAxis(m_memory.get(), true, maxCpu);
    setTimeAxis(m_memory.get(), from, to);
    alignPlots();
}

void ChartsPanel::setMemories(
    const QStringList& processes, const QList<QList<MemoryRecord>>& records, qint64 fromMs, qint64 toMs)
{
    if (processes.size() == 1 && records.size() == 1) {
        setMemory(processes.first(), records.first(), fromMs, toMs);
        return;
    }
    const auto [from, to] = shownRange(fromMs, toMs);
    const int n = int(std::min(processes.size(), records.size()));
    setTitle(m_memory.get(), tr("RSS (solid) and CPU (dashed) of %n process(es)", nullptr, n), processes.join(u'\n'));
    QList<Line> left, right;
    double maxMiB = 1, maxCpu = 1;
    for (int i = 0; i < n; ++i) {
        // Processes take the palette from its end: an operation's colour is not a process's.
        const QColor colour = Palette[PaletteSize - 1 - i % PaletteSize];
        QList<QPointF> rss, cpu;
        for (const MemoryRecord& r : records[i]) {
            const double x = double(r.timestampMs);
            if (r.rssBytes >= 0) {
                rss.append(QPointF(x, double(r.rssBytes) / 1048576.0));
                maxMiB = std::max(maxMiB, rss.last().y());
            }
            if (r.cpuPercent) {
                cpu.append(QPointF(x, *r.cpuPercent));
                maxCpu = std::max(maxCpu, *r.cpuPercent);
            }
        }
        left.append(Line { tr("RSS of %1").arg(processes[i]), QPen(colour, 1.6, Qt::SolidLine), rss,
            QStringLiteral("MiB"), processes[i], 1000.0 });
        right.append(Line { tr("CPU of %1").arg(processes[i]), QPen(colour, 1.2, Qt::DashLine), cpu,
            QStringLiteral("%"), processes[i], 1000.0 });
    }
    setLines(m_memory.get(), left, right);
    setValueAxis(m_memory.get(), false, maxMiB);
    setValueAxis(m_memory.get(), true, maxCpu);
    setTimeAxis(m_memory.get(), from, to);
    alignPlots();
}

void ChartsPanel::setOperationChartsShown(bool shown, const QString& note)
{
    m_note->setText(note);
    m_note->setVisible(!note.isEmpty());
    if (shown == m_operationCharts)
        return;
    m_operationCharts = shown;
    m_latency->section->setVisible(shown);
    m_heatmap->setVisible(shown);
    m_throughput->section->setVisible(shown);
    m_percentileBox->setEnabled(shown);
}

int ChartsPanel::latencyPointCount() const
{
    // p50 in one operation's charts, the first operation's when comparing.
    QLineSeries* s = m_latency->leftSeries.value(m_comparing ? 0 : 1);
    return s && s->isVisible() ? int(s->count()) : 0;
}

int ChartsPanel::throughputPointCount() const
{
    QLineSeries* s = m_throughput->leftSeries.value(0);
    return s && s->isVisible() ? int(s->count()) : 0;
}

int ChartsPanel::memoryPointCount() const
{
    QLineSeries* s = m_memory->leftSeries.value(0);
    return s && s->isVisible() ? int(s->count()) : 0;
}

QList<QPointF> ChartsPanel::points(Kind kind, const QString& name) const
{
    const Chart* c = chart(kind);
    for (QLineSeries* s : c->leftSeries + c->rightSeries) {
        if (s->name() == name && s->isVisible())
            return s->points();
    }
    return {};
}

QList<QPointF> ChartsPanel::latencyPoints(const QString& name) const
{
    return points(Kind::Latency, name);
}

QStringList ChartsPanel::visibleSeries(Kind kind) const
{
    QStringList out;
    const Chart* c = chart(kind);
    for (QLineSeries* s : c->leftSeries + c->rightSeries) {
        if (s->isVisible() && s->opacity() > 0.0)
            out << s->name();
    }
    return out;
}

QStringList ChartsPanel::visibleLatencySeries() const
{
    return visibleSeries(Kind::Latency);
}

QString ChartsPanel::latencyTitle() const
{
    return m_latency->fullTitle;
}

QString ChartsPanel::title(Kind kind) const
{
    return chart(kind)->fullTitle;
}

QList<QToolButton*> ChartsPanel::legend(Kind kind) const
{
    return chart(kind)->legend;
}

QValueAxis* ChartsPanel::latencyAxis() const
{
    return m_latencyLinear;
}

std::pair<qint64, qint64> ChartsPanel::timeRange() const
{
    return { qint64(m_latency->time->min()), qint64(m_latency->time->max()) };
}

QList<qint64> ChartsPanel::timeTicks() const
{
    return m_memory->ticks;
}

ExploreChartView* ChartsPanel::latencyView() const
{
    return m_latency->view;
}

ExploreChartView* ChartsPanel::view(Kind kind) const
{
    return chart(kind)->view;
}

} // namespace perfdash
