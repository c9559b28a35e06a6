// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/alertsfiltermodel.h"

#include "models/alertsmodel.h"

namespace perfdash {

AlertsFilterModel::AlertsFilterModel(QObject* parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(AlertsModel::SortRole);
}

void AlertsFilterModel::setKinds(Kinds kinds)
{
    m_kinds = kinds;
    invalidateFilter();
}

void AlertsFilterModel::setProcess(const QString& process)
{
    m_process = process;
    invalidateFilter();
}

void AlertsFilterModel::setOperation(const QString& pattern)
{
    const QString glob = pattern.contains(u'*') || pattern.contains(u'?') ? pattern : u'*' + pattern + u'*';
    m_operation = pattern.isEmpty()
        ? QRegularExpression()
        : QRegularExpression::fromWildcard(glob, Qt::CaseInsensitive, QRegularExpression::UnanchoredWildcardConversion);
    invalidateFilter();
}

bool AlertsFilterModel::isFiltering() const
{
    return m_kinds != Kinds::All || !m_process.isEmpty() || !m_operation.pattern().isEmpty();
}

bool AlertsFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    const QModelIndex index = sourceModel()->index(sourceRow, AlertsModel::Operation, sourceParent);
    const auto kind = Alert::Kind(index.data(AlertsModel::KindRole).toInt());
    switch (m_kinds) {
    case Kinds::All:
        break;
    case Kinds::Slow:
        if (kind != Alert::Kind::Slow && kind != Alert::Kind::VerySlow)
            return false;
        break;
    case Kinds::VerySlow:
        if (kind != Alert::Kind::VerySlow)
            return false;
        break;
    case Kinds::Budgets:
        if (kind != Alert::Kind::BudgetBroken && kind != Alert::Kind::BudgetRecovered)
            return false;
        break;
    }
    if (!m_process.isEmpty()
        && sourceModel()->index(sourceRow, AlertsModel::Process, sourceParent).data().toString() != m_process)
        return false;
    if (!m_operation.pattern().isEmpty() && !m_operation.match(index.data().toString()).hasMatch())
        return false;
    return true;
}

} // namespace perfdash
