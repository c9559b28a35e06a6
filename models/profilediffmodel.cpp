// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/profilediffmodel.h"

#include <QBrush>
#include <QColor>

namespace perfdash {

ProfileDiffModel::ProfileDiffModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void ProfileDiffModel::setChanges(QList<ProfileShareChange> changes)
{
    beginResetModel();
    m_changes = std::move(changes);
    endResetModel();
}

void ProfileDiffModel::setLabels(const QString& base, const QString& next)
{
    m_base = base;
    m_next = next;
    Q_EMIT headerDataChanged(Qt::Horizontal, 0, ColumnCount - 1);
}

int ProfileDiffModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_changes.size());
}

int ProfileDiffModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ProfileDiffModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount)
        return {};
    const ProfileShareChange& c = m_changes[index.row()];
    const auto share = [&](double value) -> QVariant {
        return role == SortRole ? QVariant(value) : QVariant(QStringLiteral("%1%").arg(value * 100, 0, 'f', 1));
    };
    if (role == Qt::ForegroundRole && index.column() == SelfChange && qAbs(c.delta()) >= 0.005)
        return QBrush(c.delta() > 0 ? QColor(0xb0, 0x00, 0x20) : QColor(0x1b, 0x7a, 0x2e)); // gained CPU: red
    if (role == Qt::TextAlignmentRole)
        return index.column() >= SelfBase ? QVariant(Qt::AlignRight | Qt::AlignVCenter) : QVariant();
    if (role != Qt::DisplayRole && role != SortRole)
        return {};
    switch (index.column()) {
    case Process:
        return c.process;
    case Function:
        return c.function;
    case SelfBase:
        return share(c.baseSelfShare);
    case SelfNew:
        return share(c.nextSelfShare);
    case SelfChange:
        return role == SortRole ? QVariant(c.delta())
                                : QVariant(QStringLiteral("%1%2 pts")
                                               .arg(c.delta() >= 0 ? QStringLiteral("+") : QString())
                                               .arg(c.delta() * 100, 0, 'f', 1));
    case TotalBase:
        return share(c.baseTotalShare);
    case TotalNew:
        return share(c.nextTotalShare);
    default:
        return {};
    }
}

QVariant ProfileDiffModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (section) {
    case Process:
        return tr("Process");
    case Function:
        return tr("Function");
    case SelfBase:
        return tr("Self %1").arg(m_base);
    case SelfNew:
        return tr("Self %1").arg(m_next);
    case SelfChange:
        return tr("Self change");
    case TotalBase:
        return tr("Total %1").arg(m_base);
    case TotalNew:
        return tr("Total %1").arg(m_next);
    default:
        return {};
    }
}

} // namespace perfdash
