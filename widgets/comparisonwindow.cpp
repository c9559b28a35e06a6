// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/comparisonwindow.h"

#include "models/comparisonmodel.h"
#include "models/format.h"
#include "models/profilediffmodel.h"

#include <QCategoryAxis>
#include <QChart>
#include <QChartView>
#include <QColor>
#include <QDockWidget>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>

#include <cmath>

namespace perfdash {

namespace {
/// Adds the differential profile of the captures to @p window (a dock at the bottom) when either
/// holds profiles: per process and function, its share of the samples in each run, largest change first.
void addProfileComparison(QMainWindow* window, const QString& basePath, const QString& newPath)
{
    const QList<CapturedProfile> base = readCaptureProfiles(basePath);
    const QList<CapturedProfile> next = readCaptureProfiles(newPath);
    if (base.isEmpty() && next.isEmpty())
        return;
    auto* model = new ProfileDiffModel(window);
    model->setChanges(diffProfiles(base, next));
    auto* proxy = new QSortFilterProxyModel(window);
    proxy->setSourceModel(model);
    proxy->setSortRole(ProfileDiffModel::SortRole);
    auto* view = new QTableView;
    view->setModel(proxy);
    view->setSortingEnabled(true);
    view->sortByColumn(-1, Qt::AscendingOrder); // the model's order: largest change first
    view->verticalHeader()->hide();
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->horizontalHeader()->setSectionResizeMode(ProfileDiffModel::Function, QHeaderView::Stretch);
    auto* dock = new QDockWidget(QObject::tr("CPU profile: share of the samples, base → new"), window);
    dock->setObjectName(QStringLiteral("profileComparison"));
    dock->setWidget(view);
    window->addDockWidget(Qt::BottomDockWidgetArea, dock);
}
} // namespace

ComparisonWindow* ComparisonWindow::open(
    const QString& basePath, const QString& newPath, QString* error, const ComparisonOptions& options)
{
    std::optional<LoadedCapture> base = openCapture(basePath, error);
    if (!base)
        return nullptr;
    std::optional<LoadedCapture> next = openCapture(newPath, error);
    if (!next)
        return nullptr;
    auto* window = new ComparisonWindow(std::move(*base), std::move(*next), options);
    addProfileComparison(window, basePath, newPath); // the differential CPU profile, when the captures hold profiles
    const QString baseName = QFileInfo(basePath).fileName(), newName = QFileInfo(newPath).fileName();
    window->setWindowTitle(tr("perfdash — %1 → %2").arg(baseName, newName));
    window->m_baseSeries->setName(tr("base: %1").arg(baseName));
    window->m_newSeries->setName(tr("new: %1").arg(newName));
    return window;
}

ComparisonWindow::ComparisonWindow(LoadedCapture base, LoadedCapture next, const ComparisonOptions& options)
    : m_base(std::move(base))
    , m_next(std::move(next))
    , m_model(new ComparisonModel(this))
    , m_view(new QTableView(this))
    , m_summary(new QLabel(this))
{
    setAttribute(Qt::WA_DeleteOnClose);
    // The very function `perfdash compare` judges with, with its options: the same verdicts.
    m_model->setRows(compareStores(*m_base.store, *m_next.store, options), options);
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_model);
    proxy->setSortRole(Qt::UserRole);
    m_view->setModel(proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ComparisonModel::VerdictColumn, Qt::DescendingOrder); // what fails a gate first
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->setWordWrap(false);
    m_view->verticalHeader()->hide();
    // Every column as wide as its contents (the verdict's reasons included); the last one takes the rest.
    m_view->resizeColumnsToContents();
    m_view->horizontalHeader()->setStretchLastSection(true);

    m_summary->setObjectName(QStringLiteral("summary"));
    m_summary->setTextFormat(Qt::PlainText);
    m_summary->setText(m_model->summary()
        + tr("; error rate beyond +%1 points, throughput beyond -%2%; at least %3 operations a side")
              .arg(options.errorThresholdPoints)
              .arg(options.thresholdPercent)
              .arg(options.minCount));
    m_summary->setContentsMargins(6, 4, 6, 4);
    bool regressed = false;
    for (int row = 0; row < m_model->rowCount(); ++row)
        regressed = regressed || m_model->rowAt(row)->regression;
    if (regressed) {
        QFont bold = m_summary->font();
        bold.setBold(true);
        m_summary->setFont(bold);
    }

    auto* chart = new QChart;
    chart->setTitle(tr("Latency distribution — select an operation"));
    chart->setAnimationOptions(QChart::NoAnimation);
    chart->legend()->setAlignment(Qt::AlignTop);
    chart->setMargins(QMargins(4, 4, 24, 4)); // room for the last tick label, centred on the edge
    // log10(ns) on a category axis: ticks at 1-2-5 steps, labelled by the app's duration formatter
    // (a QLogValueAxis can only printf its values: "1e-05" ms).
    m_x = new QCategoryAxis;
    m_x->setLabelsPosition(QCategoryAxis::AxisLabelsPositionOnValue);
    m_x->setTitleText(tr("latency (log scale)"));
    m_y = new QValueAxis;
    m_y->setRange(0, 100);
    m_y->setTickCount(6);
    m_y->setLabelFormat(QStringLiteral("%.0f%%"));
    m_y->setTitleText(tr("at or under"));
    chart->addAxis(m_x, Qt::AlignBottom);
    chart->addAxis(m_y, Qt::AlignLeft);
    m_baseSeries = new QLineSeries;
    m_baseSeries->setName(tr("base"));
    m_baseSeries->setPen(QPen(QColor(0x1f, 0x77, 0xb4), 2));
    m_newSeries = new QLineSeries;
    m_newSeries->setName(tr("new"));
    m_newSeries->setPen(QPen(QColor(0xd6, 0x27, 0x28), 2));
    for (QLineSeries* s : { m_baseSeries, m_newSeries }) {
        chart->addSeries(s);
        s->attachAxis(m_x);
        s->attachAxis(m_y);
    }
    setLatencyRange(1e3, 1e9);
    m_chart = new QChartView(chart, this);
    m_chart->setRenderHint(QPainter::Antialiasing);
    m_chart->setMinimumHeight(260);

    auto* top = new QWidget(this);
    auto* topLayout = new QVBoxLayout(top);
    topLayout->setContentsMargins(0, 0, 0, 0);
    topLayout->setSpacing(0);
    topLayout->addWidget(m_summary);
    topLayout->addWidget(m_view);
    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(top);
    splitter->addWidget(m_chart);
    splitter->setChildrenCollapsible(false);
    splitter->setSizes({ 360, 440 });
    setCentralWidget(splitter);
    resize(1360, 840);

    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this, proxy](const QModelIndex& current) { showDistributions(proxy->mapToSource(current).row()); });
    if (m_model->rowCount() > 0)
        m_view->selectRow(0); // the worst
}

void ComparisonWindow::setLatencyRange(double lowNs, double highNs)
{
    const double lo = std::log10(std::max(1.0, lowNs)), hi = std::log10(std::max(lowNs * 10, highNs));
    for (const QString& label : m_x->categoriesLabels())
        m_x->remove(label);
    // Decades; 2 and 5 times them when the range is narrow enough for their labels to fit; 3 and 7
    // times too within about a decade, so that a narrow distribution still gets a few labels.
    const double span = hi - lo;
    for (int decade = int(std::floor(lo)); decade <= int(std::ceil(hi)); ++decade) {
        for (const double step : { 1.0, 2.0, 3.0, 5.0, 7.0 }) {
            const bool wanted = step == 1.0 || ((step == 2.0 || step == 5.0) && span <= 3.5) || span <= 1.5;
            if (!wanted)
                continue;
            const double ns = step * std::pow(10.0, decade);
            const double at = std::log10(ns);
            if (at < lo - 1e-9 || at > hi + 1e-9)
                continue;
            m_x->append(formatDurationTick(quint64(std::llround(ns))), at);
        }
    }
    m_x->setStartValue(lo);
    m_x->setRange(lo, hi);
}

QStringList ComparisonWindow::latencyAxisLabels() const
{
    return m_x->categoriesLabels();
}

int ComparisonWindow::showDistributions(int row)
{
    const ComparisonRow* r = m_model->rowAt(row);
    if (!r)
        return 0;
    m_chart->chart()->setTitle(tr("Latency distribution of %1 — %2").arg(r->operation, r->process));
    double lo = 1e300, hi = 0;
    int points = 0;
    const auto cdf = [&](const LoadedCapture& capture, QLineSeries* series) {
        QList<QPointF> out;
        auto merged = std::make_unique<LatencyHistogram>(); // every process of that name, as compareStores() does
        auto part = std::make_unique<LatencyHistogram>();
        for (const ProcessInfo& p : capture.store->processes()) {
            if (p.name != r->process || !p.instrumented)
                continue;
            if (const auto monitor = capture.store->sharedMonitor(p.key)) {
                monitor->histogram(r->operation, StatsWindow::session(), *part);
                merged->add(*part);
            }
        }
        quint64 seen = 0;
        for (int i = 0; i < LatencyHistogram::BucketCount && merged->count(); ++i) {
            if (!merged->countAt(i))
                continue;
            seen += merged->countAt(i);
            const double ns
                = std::max(1.0, double(LatencyHistogram::bucketLowerBound(i) + LatencyHistogram::bucketWidth(i)));
            out.append(QPointF(std::log10(ns), 100.0 * double(seen) / double(merged->count())));
            lo = std::min(lo, ns);
            hi = std::max(hi, ns);
        }
        series->replace(out);
        points = std::max(points, int(out.size()));
    };
    cdf(m_base, m_baseSeries);
    cdf(m_next, m_newSeries);
    if (hi > 0)
        setLatencyRange(lo / 1.25, hi * 1.25);
    return points;
}

} // namespace perfdash
