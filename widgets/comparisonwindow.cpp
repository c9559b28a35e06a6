// SPDX-License-Identifier: GPL-3.0-or-later
#include "comparisonwindow.h"

#include "format.h"
#include "profilediffmodel.h"

#include <QBrush>
#include <QChart>
#include <QChartView>
#include <QColor>
#include <QFileInfo>
#include <QHeaderView>
#include <QLineSeries>
#include <QLogValueAxis>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QValueAxis>

namespace perfdash {

ComparisonModel::ComparisonModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void ComparisonModel::setRows(const QList<ComparisonRow>& rows, double percentile)
{
    beginResetModel();
    m_rows = rows;
    m_percentile = percentile;
    endResetModel();
}

const ComparisonRow* ComparisonModel::rowAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? &m_rows[row] : nullptr;
}

int ComparisonModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ComparisonModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ComparisonModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ComparisonRow& r = m_rows[index.row()];
    const auto value = [&](const std::optional<OperationStats>& s, quint64 OperationStats::*field) -> QVariant {
        if (!s)
            return role == Qt::DisplayRole ? QVariant(QStringLiteral("–")) : QVariant();
        return role == Qt::DisplayRole ? QVariant(formatDuration((*s).*field)) : QVariant((*s).*field);
    };
    if (role == Qt::DisplayRole || role == Qt::UserRole) {
        switch (Column(index.column())) {
        case Process: return r.process;
        case Operation: return r.operation;
        case BaseCount: return r.base ? QVariant(r.base->count) : QVariant();
        case NewCount: return r.next ? QVariant(r.next->count) : QVariant();
        case BaseP50: return value(r.base, &OperationStats::p50Ns);
        case NewP50: return value(r.next, &OperationStats::p50Ns);
        case BaseP95: return value(r.base, &OperationStats::p95Ns);
        case NewP95: return value(r.next, &OperationStats::p95Ns);
        case BaseP99: return value(r.base, &OperationStats::p99Ns);
        case NewP99: return value(r.next, &OperationStats::p99Ns);
        case Change:
            if (!r.base || !r.next)
                return role == Qt::DisplayRole ? QVariant(r.base ? tr("only in base") : tr("only in new")) : QVariant();
            return role == Qt::DisplayRole
                ? QVariant(QStringLiteral("%1%2%").arg(r.changePercent >= 0 ? QStringLiteral("+") : QString()).arg(r.changePercent, 0, 'f', 1))
                : QVariant(r.changePercent);
        case ColumnCount: break;
        }
    }
    if (role == Qt::BackgroundRole && r.regression)
        return QBrush(QColor(0xfd, 0xe2, 0xe1));
    if (role == Qt::ForegroundRole && index.column() == Change && r.base && r.next)
        return QBrush(r.regression ? QColor(0xb3, 0x26, 0x1e) : r.changePercent < 0 ? QColor(0x1b, 0x7f, 0x3b) : QColor(0x40, 0x40, 0x40));
    if (role == Qt::TextAlignmentRole && index.column() > Operation)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant ComparisonModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (Column(section)) {
    case Process: return tr("Process");
    case Operation: return tr("Operation");
    case BaseCount: return tr("Count (base)");
    case NewCount: return tr("Count (new)");
    case BaseP50: return tr("p50 base");
    case NewP50: return tr("p50 new");
    case BaseP95: return tr("p95 base");
    case NewP95: return tr("p95 new");
    case BaseP99: return tr("p99 base");
    case NewP99: return tr("p99 new");
    case Change: return tr("p%1 change").arg(m_percentile);
    case ColumnCount: break;
    }
    return {};
}

ComparisonWindow* ComparisonWindow::open(const QString& basePath, const QString& newPath, QString* error,
    double percentile, double threshold)
{
    LoadedCapture base = openCapture(basePath);
    LoadedCapture next = openCapture(newPath);
    for (const LoadedCapture* c : { &base, &next }) {
        if (!c->load.ok) {
            if (error)
                *error = c->load.error;
            return nullptr;
        }
    }
    auto* window = new ComparisonWindow(std::move(base), std::move(next), percentile, threshold);
    addProfileComparison(window, basePath, newPath); // the differential CPU profile, when the captures hold profiles
    window->setWindowTitle(tr("perfdash — %1 → %2").arg(QFileInfo(basePath).fileName(), QFileInfo(newPath).fileName()));
    return window;
}

ComparisonWindow::ComparisonWindow(LoadedCapture base, LoadedCapture next, double percentile, double threshold)
    : m_base(std::move(base))
    , m_next(std::move(next))
    , m_model(new ComparisonModel(this))
    , m_view(new QTableView(this))
{
    setAttribute(Qt::WA_DeleteOnClose);
    m_model->setRows(compareStores(*m_base.store, *m_next.store, percentile, threshold), percentile);
    auto* proxy = new QSortFilterProxyModel(this);
    proxy->setSourceModel(m_model);
    proxy->setSortRole(Qt::UserRole);
    m_view->setModel(proxy);
    m_view->setSortingEnabled(true);
    m_view->sortByColumn(ComparisonModel::Change, Qt::DescendingOrder);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setSectionResizeMode(ComparisonModel::Operation, QHeaderView::Stretch);
    m_view->resizeColumnsToContents();

    auto* chart = new QChart;
    chart->setTitle(tr("Latency distribution — select an operation"));
    chart->setAnimationOptions(QChart::NoAnimation);
    m_x = new QLogValueAxis;
    m_x->setBase(10);
    m_x->setLabelFormat(QStringLiteral("%g"));
    m_x->setTitleText(tr("latency (ms)"));
    m_y = new QValueAxis;
    m_y->setRange(0, 100);
    m_y->setLabelFormat(QStringLiteral("%g %"));
    m_y->setTitleText(tr("operations at or under"));
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
    m_chart = new QChartView(chart, this);

    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_view);
    splitter->addWidget(m_chart);
    splitter->setSizes({ 380, 420 });
    setCentralWidget(splitter);
    resize(1200, 820);

    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this, proxy](const QModelIndex& current) { showDistributions(proxy->mapToSource(current).row()); });
    if (m_model->rowCount() > 0)
        m_view->selectRow(0); // the biggest change first
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
        for (const ProcessInfo& p : capture.store->processes()) {
            if (p.name != r->process || !p.instrumented)
                continue;
            auto h = std::make_unique<LatencyHistogram>();
            capture.store->sharedMonitor(p.key)->histogram(r->operation, StatsWindow::session(), *h);
            quint64 seen = 0;
            for (int i = 0; i < LatencyHistogram::BucketCount && h->count(); ++i) {
                if (!h->countAt(i))
                    continue;
                seen += h->countAt(i);
                const double ms = std::max(1e-6, double(LatencyHistogram::bucketLowerBound(i) + LatencyHistogram::bucketWidth(i)) / 1e6);
                out.append(QPointF(ms, 100.0 * double(seen) / double(h->count())));
                lo = std::min(lo, ms);
                hi = std::max(hi, ms);
            }
        }
        series->replace(out);
        points = std::max(points, int(out.size()));
    };
    cdf(m_base, m_baseSeries);
    cdf(m_next, m_newSeries);
    if (hi > 0)
        m_x->setRange(lo / 1.5, hi * 1.5);
    return points;
}

} // namespace perfdash
