// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/calltreemodel.h"
#include "models/format.h"
#include "models/symbolprettifier.h"

namespace perfdash {

namespace {

QVariant amount(const ProfileSnapshot& snapshot, std::uint64_t count, int role)
{
    // Counts in a unit (off-CPU microseconds, bytes) are shown in it, sorted as counts.
    if (role != Qt::DisplayRole || !hasProfileUnit(snapshot))
        return quint64(count);
    return formatProfileAmount(snapshot, count);
}

QVariant share(std::uint64_t count, std::uint64_t all, int role)
{
    const double value = double(count) / double(std::max<std::uint64_t>(1, all));
    return role == Qt::DisplayRole ? QVariant(QStringLiteral("%1%").arg(100.0 * value, 0, 'f', 1)) : QVariant(value);
}

} // namespace

CallTreeModel::CallTreeModel(QObject* parent)
    : QAbstractItemModel(parent)
{
}

void CallTreeModel::setTree(ProfileTreePtr tree)
{
    beginResetModel();
    m_tree = std::move(tree);
    endResetModel();
}

QModelIndex CallTreeModel::indexOf(std::uint32_t node, int column) const
{
    if (!m_tree || node == 0 || node >= m_tree->nodes.size())
        return {};
    return createIndex(int(m_tree->nodes[node].row), column, quintptr(node));
}

std::uint32_t CallTreeModel::nodeOf(const QModelIndex& index) const
{
    return index.isValid() && index.model() == this ? std::uint32_t(index.internalId()) : 0;
}

QModelIndex CallTreeModel::index(int row, int column, const QModelIndex& parent) const
{
    if (!m_tree || m_tree->nodes.empty() || row < 0 || column < 0 || column >= ColumnCount
        || (parent.isValid() && parent.column() != 0))
        return {};
    const TreeNode& p = m_tree->nodes[nodeOf(parent)];
    if (std::size_t(row) >= p.children.size())
        return {};
    return createIndex(row, column, quintptr(p.children[std::size_t(row)]));
}

QModelIndex CallTreeModel::parent(const QModelIndex& child) const
{
    const std::uint32_t node = nodeOf(child);
    if (node == 0)
        return {};
    return indexOf(m_tree->nodes[node].parent);
}

int CallTreeModel::rowCount(const QModelIndex& parent) const
{
    if (!m_tree || m_tree->nodes.empty() || (parent.isValid() && parent.column() != 0))
        return 0;
    return int(m_tree->nodes[nodeOf(parent)].children.size());
}

int CallTreeModel::columnCount(const QModelIndex&) const
{
    return ColumnCount;
}

QVariant CallTreeModel::data(const QModelIndex& index, int role) const
{
    const std::uint32_t n = nodeOf(index);
    if (n == 0 || !m_tree)
        return {};
    const TreeNode& node = m_tree->nodes[n];
    const ProfileSnapshot& snapshot = *m_tree->snapshot;
    const ProfileFunction& f = snapshot.functions[node.function];
    if (role == NodeRole)
        return quint64(n);
    if (role == FullNameRole)
        return f.name;
    if (role == Qt::TextAlignmentRole)
        return index.column() >= Self && index.column() <= TotalPercent ? QVariant(Qt::AlignRight | Qt::AlignVCenter)
                                                                        : QVariant();
    if (role == Qt::ToolTipRole) {
        QString tip = f.name;
        if (!f.module.isEmpty())
            tip += u'\n' + tr("in %1").arg(f.module);
        if (!f.location.isEmpty())
            tip += u'\n' + f.location;
        return tip;
    }
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    const std::uint64_t all = m_tree->totalSamples();
    switch (index.column()) {
    case Function:
        return QString(prettifySymbol(f.name) + (f.inlined ? tr(" (inlined)") : QString()));
    case Self:
        return amount(snapshot, node.self, role);
    case SelfPercent:
        return share(node.self, all, role);
    case Total:
        return amount(snapshot, node.total, role);
    case TotalPercent:
        return share(node.total, all, role);
    case Module:
        return f.module;
    default:
        return {};
    }
}

QVariant CallTreeModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    const bool offCpu = m_tree && m_tree->snapshot && m_tree->snapshot->offCpu;
    const bool bottomUp = m_tree && m_tree->bottomUp;
    switch (section) {
    case Function:
        return bottomUp ? tr("Function (callers below)") : tr("Function (callees below)");
    case Self:
        return offCpu ? tr("Self off CPU") : tr("Self");
    case SelfPercent:
        return tr("Self %");
    case Total:
        if (!bottomUp)
            return offCpu ? tr("Total off CPU") : tr("Total");
        if (offCpu)
            return tr("Off CPU");
        return m_tree && m_tree->snapshot && m_tree->snapshot->unit != ProfileSnapshot::Unit::Samples ? tr("Bytes")
                                                                                                      : tr("Samples");
    case TotalPercent:
        return bottomUp ? tr("Share") : tr("Total %");
    case Module:
        return tr("Module");
    default:
        return {};
    }
}

} // namespace perfdash
