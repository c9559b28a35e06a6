// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QRegularExpression>
#include <QSet>
#include <QSortFilterProxyModel>

namespace perfdash {

/// The operations the table shows: those matching the filter (a substring or a '*' glob on the
/// name) and not hidden by the user; sorted on OperationsModel::SortRole.
class OperationsFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    explicit OperationsFilterModel(QObject* parent = nullptr);

    void setNameFilter(const QString& text);
    /// Hides the operation of @p processKey named @p operation until showAll().
    void hide(quint64 processKey, const QString& operation);
    void showAll();
    int hiddenCount() const { return int(m_hidden.size()); }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    QRegularExpression m_name;
    QSet<QString> m_hidden; // "key/operation"
};

} // namespace perfdash
