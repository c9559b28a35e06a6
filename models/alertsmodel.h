// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/performancemonitor.h"

#include <QAbstractTableModel>
#include <deque>

namespace perfdash {

struct Alert
{
    enum class Kind { Slow, VerySlow, BudgetBroken, BudgetRecovered };
    Kind kind = Kind::Slow;
    qint64 timestampMs = 0;
    QString process;
    QString operation;
    quint64 durationNs = 0; ///< the operation's, or the budget's actual value
    QString details; ///< metadata, or the budget
};

/**
 * Slow operations and budget changes, newest first, at most MaxAlerts. When over, slow ones go
 * first (oldest first): a storm of slow operations must not push the few budget alerts out.
 * total() counts every alert raised, rowCount() those kept.
 */
class AlertsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    static constexpr int MaxAlerts = 1000;
    enum Column { Time, Severity, Process, Operation, Duration, Details, ColumnCount };
    static constexpr int KindRole = Qt::UserRole; ///< int(Alert::Kind)
    static constexpr int SortRole = Qt::UserRole + 1;

    explicit AlertsModel(QObject* parent = nullptr);

    /// Adds @p alerts (oldest first) at the top.
    void add(const QList<Alert>& alerts);
    void clear();
    quint64 total() const noexcept { return m_total; }
    /// Alerts raised but no longer kept (total() - rowCount(), plus those counted by addDropped()).
    quint64 dropped() const noexcept { return m_total - quint64(m_alerts.size()); }
    /// Counts @p n alerts that never reached the model (a storm between two refreshes).
    void addDropped(quint64 n) { m_total += n; }
    const Alert* alertAt(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    std::deque<Alert> m_alerts; // newest first
    quint64 m_total = 0;
};

} // namespace perfdash
