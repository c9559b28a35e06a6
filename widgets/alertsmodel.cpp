// SPDX-License-Identifier: GPL-3.0-or-later
#include "alertsmodel.h"

#include "format.h"

#include <QBrush>
#include <QColor>
#include <QDateTime>

namespace perfdash {

AlertsModel::AlertsModel(QObject* parent)
    : QAbstractTableModel(parent)
{
}

void AlertsModel::add(const QList<Alert>& alerts)
{
    if (alerts.isEmpty())
        return;
    m_total += quint64(alerts.size());
    // Only the newest MaxAlerts can be shown anyway.
    const qsizetype take = std::min<qsizetype>(alerts.size(), MaxAlerts);
    beginInsertRows({}, 0, int(take - 1));
    for (qsizetype i = alerts.size() - take; i < alerts.size(); ++i)
        m_alerts.push_front(alerts[i]);
    endInsertRows();
    if (m_alerts.size() > std::size_t(MaxAlerts)) {
        beginRemoveRows({}, MaxAlerts, int(m_alerts.size() - 1));
        m_alerts.resize(MaxAlerts);
        endRemoveRows();
    }
}

void AlertsModel::clear()
{
    beginResetModel();
    m_alerts.clear();
    m_total = 0;
    endResetModel();
}

int AlertsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_alerts.size());
}

int AlertsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant AlertsModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Alert& a = m_alerts[std::size_t(index.row())];
    if (role == Qt::DisplayRole) {
        switch (Column(index.column())) {
        case Time: return QDateTime::fromMSecsSinceEpoch(a.timestampMs).toString(QStringLiteral("HH:mm:ss.zzz"));
        case Severity:
            switch (a.kind) {
            case Alert::Kind::Slow: return tr("slow");
            case Alert::Kind::VerySlow: return tr("very slow");
            case Alert::Kind::BudgetBroken: return tr("budget broken");
            case Alert::Kind::BudgetRecovered: return tr("budget met again");
            }
            break;
        case Process: return a.process;
        case Operation: return a.operation;
        case Duration: return formatDuration(a.durationNs);
        case Details: return a.details;
        case ColumnCount: break;
        }
    }
    if (role == Qt::ForegroundRole && index.column() == Severity) {
        switch (a.kind) {
        case Alert::Kind::VerySlow:
        case Alert::Kind::BudgetBroken: return QBrush(QColor(0xb3, 0x26, 0x1e));
        case Alert::Kind::Slow: return QBrush(QColor(0x9a, 0x6b, 0x00));
        case Alert::Kind::BudgetRecovered: return QBrush(QColor(0x1b, 0x7f, 0x3b));
        }
    }
    if (role == Qt::ToolTipRole)
        return a.details;
    return {};
}

QVariant AlertsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char* const names[] = { "Time", "Severity", "Process", "Operation", "Duration", "Details" };
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

} // namespace perfdash
