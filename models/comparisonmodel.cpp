// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/comparisonmodel.h"

#include "models/format.h"

#include <QBrush>
#include <QColor>
#include <QFont>

#include <algorithm>

namespace perfdash {

namespace {
QString arrow(const QString& base, const QString& next)
{
    return base + QStringLiteral(" → ") + next;
}

QString signedPercent(double value)
{
    return QStringLiteral("%1%2%").arg(value >= 0 ? QStringLiteral("+") : QString()).arg(value, 0, 'f', 1);
}

/// Worst first when sorted descending: what a gate fails on, then what it warns about.
int verdictRank(Verdict v)
{
    switch (v) {
    case Verdict::OnlyInBase:
        return 5;
    case Verdict::Regression:
        return 4;
    case Verdict::OnlyInNew:
        return 3;
    case Verdict::NotEnoughData:
        return 2;
    case Verdict::Same:
        return 1;
    case Verdict::Improvement:
        return 0;
    }
    return 0;
}

bool failsGate(const ComparisonRow& r)
{
    return r.verdict == Verdict::Regression || r.verdict == Verdict::OnlyInBase;
}
} // namespace

ComparisonModel::ComparisonModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void ComparisonModel::setRows(const QList<ComparisonRow>& rows, const ComparisonOptions& options)
{
    beginResetModel();
    m_rows = rows;
    m_options = options;
    endResetModel();
}

const ComparisonRow* ComparisonModel::rowAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? &m_rows[row] : nullptr;
}

QString ComparisonModel::summary() const
{
    return regressionSummary(m_rows, m_options);
}

int ComparisonModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int ComparisonModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ComparisonModel::display(const ComparisonRow& r, Column column) const
{
    const bool both = r.base && r.next;
    const auto pair = [&](auto field) -> QVariant {
        if (!r.base && !r.next)
            return {};
        const QString dash = QStringLiteral("–");
        return arrow(r.base ? field(*r.base, false) : dash, r.next ? field(*r.next, true) : dash);
    };
    const auto duration = [&](quint64 OperationStats::*member) {
        return pair([member](const OperationStats& s, bool) { return formatDuration(s.*member); });
    };
    switch (column) {
    case Process:
        return r.process;
    case Operation:
        return r.operation;
    case VerdictColumn:
        return verdictText(r);
    case Change:
        return both ? QVariant(signedPercent(r.changePercent)) : QVariant();
    case Count:
        return pair([](const OperationStats& s, bool) { return QString::number(s.count); });
    case Throughput:
        return pair([&r](const OperationStats&, bool isNew) {
            return QStringLiteral("%1/s").arg(isNew ? r.nextThroughput : r.baseThroughput, 0, 'f', 1);
        });
    case Errors:
        return pair(
            [](const OperationStats& s, bool) { return QStringLiteral("%1%").arg(100 * s.errorRate, 0, 'f', 1); });
    case P50:
        return duration(&OperationStats::p50Ns);
    case P95:
        return duration(&OperationStats::p95Ns);
    case P99:
        return duration(&OperationStats::p99Ns);
    case ColumnCount:
        break;
    }
    return {};
}

QVariant ComparisonModel::sortValue(const ComparisonRow& r, Column column) const
{
    // The runs' pairs sort by NEW (what the change is about), a side missing sorting first.
    const auto next = [&](auto field) -> QVariant { return r.next ? QVariant(field(*r.next)) : QVariant(-1.0); };
    switch (column) {
    case Process:
        return r.process;
    case Operation:
        return r.operation;
    case VerdictColumn: // by verdict, then by the change of the percentile
        return verdictRank(r.verdict) * 1e7 + std::clamp(r.changePercent, -1e6, 1e6);
    case Change:
        return r.base && r.next ? r.changePercent : -1e300;
    case Count:
        return next([](const OperationStats& s) { return double(s.count); });
    case Throughput:
        return r.next ? r.nextThroughput : -1.0;
    case Errors:
        return next([](const OperationStats& s) { return s.errorRate; });
    case P50:
        return next([](const OperationStats& s) { return double(s.p50Ns); });
    case P95:
        return next([](const OperationStats& s) { return double(s.p95Ns); });
    case P99:
        return next([](const OperationStats& s) { return double(s.p99Ns); });
    case ColumnCount:
        break;
    }
    return {};
}

QString ComparisonModel::toolTip(const ComparisonRow& r, Column column) const
{
    const ComparisonOptions& o = m_options;
    const QString rules = tr("A regression: p%1 slower by more than %2%, the error rate up by more than %3 points, or "
                             "throughput down by more than %2%. An improvement: p%1 faster by more than %2%. "
                             "Fewer than %4 operations on a side: not enough data.")
                              .arg(o.percentile)
                              .arg(o.thresholdPercent)
                              .arg(o.errorThresholdPoints)
                              .arg(o.minCount);
    switch (column) {
    case VerdictColumn:
        return verdictText(r) + QStringLiteral("\n\n") + rules;
    case Change:
        if (r.base && r.next)
            return tr("p%1: %2 → %3")
                .arg(o.percentile)
                .arg(formatDuration(r.baseValueNs), formatDuration(r.nextValueNs));
        break;
    case Throughput:
        if (r.base && r.next)
            return tr("Operations per second over each operation's active span: %1")
                .arg(signedPercent(r.throughputChangePercent));
        break;
    case Errors:
        if (r.base && r.next)
            return tr("Failed operations: %1 of %2 → %3 of %4")
                .arg(r.base->errorCount)
                .arg(r.base->count)
                .arg(r.next->errorCount)
                .arg(r.next->count);
        break;
    default:
        break;
    }
    return {};
}

QVariant ComparisonModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ComparisonRow& r = m_rows[index.row()];
    const auto column = Column(index.column());
    switch (role) {
    case Qt::DisplayRole:
        return display(r, column);
    case Qt::UserRole:
        return sortValue(r, column);
    case Qt::ToolTipRole: {
        const QString tip = toolTip(r, column);
        return tip.isEmpty() ? QVariant() : QVariant(tip);
    }
    case Qt::TextAlignmentRole:
        return column > VerdictColumn ? QVariant(int(Qt::AlignRight | Qt::AlignVCenter)) : QVariant();
    case Qt::BackgroundRole:
        // Translucent, so that it reads on light and dark palettes alike.
        return failsGate(r) ? QVariant(QBrush(QColor(220, 50, 47, 48))) : QVariant();
    case Qt::ForegroundRole:
        // The colour says the verdict, never the sign alone: -0.8% is "same", not green.
        if (column != VerdictColumn && column != Change)
            return {};
        if (failsGate(r))
            return QBrush(QColor(0xc0, 0x2b, 0x22));
        if (r.verdict == Verdict::Improvement)
            return QBrush(QColor(0x1b, 0x8a, 0x3e));
        return {};
    case Qt::FontRole:
        if (column == VerdictColumn && failsGate(r)) {
            QFont bold;
            bold.setBold(true);
            return bold;
        }
        return {};
    default:
        return {};
    }
}

QVariant ComparisonModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || (role != Qt::DisplayRole && role != Qt::ToolTipRole))
        return {};
    if (role == Qt::ToolTipRole)
        return section > Change && section < ColumnCount ? tr("base → new") : QVariant();
    switch (Column(section)) {
    case Process:
        return tr("Process");
    case Operation:
        return tr("Operation");
    case VerdictColumn:
        return tr("Verdict");
    case Change:
        return tr("p%1 change").arg(m_options.percentile);
    case Count:
        return tr("Count");
    case Throughput:
        return tr("Throughput");
    case Errors:
        return tr("Errors");
    case P50:
        return tr("p50");
    case P95:
        return tr("p95");
    case P99:
        return tr("p99");
    case ColumnCount:
        break;
    }
    return {};
}

} // namespace perfdash
