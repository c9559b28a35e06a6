// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/topfunctionsmodel.h"

#include "models/format.h"
#include "models/symbolprettifier.h"

namespace perfdash {

TopFunctionsModel::TopFunctionsModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void TopFunctionsModel::setSnapshot(const ProfileSnapshotPtr& snapshot, std::uint32_t root)
{
    m_root = snapshot && root < snapshot->nodes.size() ? root : 0;
    std::vector<FunctionCost> rows = snapshot ? snapshot->topFunctions(m_root) : std::vector<FunctionCost> {};
    // Same functions in the same order (a quiet process): only the numbers change.
    const bool sameRows = rows.size() == m_rows.size()
        && std::equal(rows.begin(), rows.end(), m_rows.begin(),
            [](const FunctionCost& a, const FunctionCost& b) { return a.function == b.function; });
    const auto unitOf = [](const ProfileSnapshotPtr& s) {
        return s ? std::pair(s->offCpu, s->unit) : std::pair(false, ProfileSnapshot::Unit::Samples);
    };
    const bool unitChanged = unitOf(m_snapshot) != unitOf(snapshot);
    if (sameRows) {
        m_snapshot = snapshot;
        if (unitChanged) // the same functions counted in time off CPU: the headers say so
            Q_EMIT headerDataChanged(Qt::Horizontal, Self, Total);
        m_rows = std::move(rows);
        if (!m_rows.empty())
            Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, ColumnCount - 1));
        return;
    }
    beginResetModel();
    m_snapshot = snapshot;
    m_rows = std::move(rows);
    endResetModel();
}

const FunctionCost* TopFunctionsModel::costAt(int row) const
{
    return row >= 0 && std::size_t(row) < m_rows.size() ? &m_rows[std::size_t(row)] : nullptr;
}

int TopFunctionsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int TopFunctionsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString TopFunctionsModel::callersText(const FunctionCost& cost) const
{
    QStringList parts;
    for (std::size_t i = 0; i < cost.callers.size() && i < 3; ++i) {
        const auto& [caller, samples] = cost.callers[i];
        const QString name
            = caller == std::uint32_t(-1) ? tr("[root]") : prettifySymbol(m_snapshot->functions[caller].name);
        parts.append(QStringLiteral("%1 (%2%)")
                         .arg(name)
                         .arg(100.0 * double(samples) / double(std::max<std::uint64_t>(1, cost.total)), 0, 'f', 0));
    }
    if (cost.callers.size() > 3)
        parts.append(tr("+%1 more").arg(cost.callers.size() - 3));
    return parts.join(QStringLiteral(", "));
}

QVariant TopFunctionsModel::offCpuAmount(std::uint64_t count, int role) const
{
    // Counts in a unit (off-CPU microseconds, bytes) are shown in it, sorted as counts.
    if (role == SortRole || !hasProfileUnit(*m_snapshot))
        return quint64(count);
    return formatProfileAmount(*m_snapshot, count);
}

QVariant TopFunctionsModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount)
        return {};
    const FunctionCost& cost = m_rows[std::size_t(index.row())];
    const ProfileFunction& f = m_snapshot->functions[cost.function];
    const double all = double(std::max<std::uint64_t>(1, m_snapshot->totalSamples()));
    if (role == Qt::TextAlignmentRole)
        return index.column() >= Self && index.column() <= TotalPercent ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                                                                        : QVariant();
    if (role == Qt::ToolTipRole && index.column() == Callers) {
        QStringList lines;
        for (const auto& [caller, samples] : cost.callers)
            lines.append(QStringLiteral("%1: %2")
                             .arg(caller == std::uint32_t(-1) ? tr("[root]") : m_snapshot->functions[caller].name)
                             .arg(samples));
        return lines.join(QLatin1Char('\n'));
    }
    if (role == Qt::ToolTipRole && index.column() == Function)
        return f.inlined ? f.name + tr(" (inlined)") : f.name; // the whole name, templates included
    if (role == Qt::ToolTipRole && (index.column() == Module || index.column() == Location))
        return data(index, Qt::DisplayRole); // the whole of a name the column cuts
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    switch (index.column()) {
    case Function:
        return QString(prettifySymbol(f.name) + (f.inlined ? tr(" (inlined)") : QString()));
    case Self:
        return offCpuAmount(cost.self, role);
    case SelfPercent:
        return role == SortRole ? QVariant(double(cost.self) / all)
                                : QVariant(QStringLiteral("%1%").arg(100.0 * double(cost.self) / all, 0, 'f', 1));
    case Total:
        return offCpuAmount(cost.total, role);
    case TotalPercent:
        return role == SortRole ? QVariant(double(cost.total) / all)
                                : QVariant(QStringLiteral("%1%").arg(100.0 * double(cost.total) / all, 0, 'f', 1));
    case Callers:
        return callersText(cost);
    case Module:
        return f.module;
    case Location:
        return f.location;
    default:
        return {};
    }
}

QVariant TopFunctionsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Function:
        return tr("Function");
    case Self:
        return m_snapshot && m_snapshot->offCpu ? tr("Self off CPU") : tr("Self");
    case SelfPercent:
        return tr("Self %");
    case Total:
        return m_snapshot && m_snapshot->offCpu ? tr("Total off CPU") : tr("Total");
    case TotalPercent:
        return tr("Total %");
    case Callers:
        return tr("Called from");
    case Module:
        return tr("Module");
    case Location:
        return tr("Location");
    default:
        return {};
    }
}

} // namespace perfdash
