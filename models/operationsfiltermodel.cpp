// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/operationsfiltermodel.h"

#include "models/operationsmodel.h"

namespace perfdash {

namespace {
QString hiddenKey(quint64 processKey, const QString& operation)
{
    return QString::number(processKey) + u'/' + operation;
}
} // namespace

OperationsFilterModel::OperationsFilterModel(QObject* parent)
    : QSortFilterProxyModel(parent)
{
    setSortRole(OperationsModel::SortRole);
}

void OperationsFilterModel::setNameFilter(const QString& text)
{
    m_name = text.isEmpty()
        ? QRegularExpression()
        : QRegularExpression::fromWildcard(text.contains(u'*') || text.contains(u'?') ? text : u'*' + text + u'*',
            Qt::CaseInsensitive, QRegularExpression::UnanchoredWildcardConversion);
    invalidateFilter();
}

void OperationsFilterModel::hide(quint64 processKey, const QString& operation)
{
    m_hidden.insert(hiddenKey(processKey, operation));
    invalidateFilter();
}

void OperationsFilterModel::showAll()
{
    m_hidden.clear();
    invalidateFilter();
}

bool OperationsFilterModel::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const
{
    const QModelIndex index = sourceModel()->index(sourceRow, OperationsModel::Operation, sourceParent);
    const QString name = index.data(OperationsModel::OperationRole).toString();
    if (!m_name.pattern().isEmpty() && !m_name.match(name).hasMatch())
        return false;
    return m_hidden.isEmpty()
        || !m_hidden.contains(hiddenKey(index.data(OperationsModel::ProcessKeyRole).toULongLong(), name));
}

} // namespace perfdash
