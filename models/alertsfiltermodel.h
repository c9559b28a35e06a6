// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QRegularExpression>
#include <QSortFilterProxyModel>

namespace perfdash {

/// The alerts the user asked to see: by kind (slow, very slow, budget), process and operation
/// (a substring or a '*' glob), sorted on AlertsModel::SortRole.
class AlertsFilterModel : public QSortFilterProxyModel
{
    Q_OBJECT
public:
    enum class Kinds { All, Slow, VerySlow, Budgets };

    explicit AlertsFilterModel(QObject* parent = nullptr);

    void setKinds(Kinds kinds);
    Kinds kinds() const noexcept { return m_kinds; }
    /// Empty: every process.
    void setProcess(const QString& process);
    void setOperation(const QString& pattern);
    bool isFiltering() const;

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    Kinds m_kinds = Kinds::All;
    QString m_process;
    QRegularExpression m_operation;
};

} // namespace perfdash
