// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/alertsmodel.h"

#include "models/format.h"

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
    // All go in first, so that eviction below can keep budget alerts over slow ones.
    beginInsertRows({}, 0, int(alerts.size() - 1));
    for (const Alert& a : alerts)
        m_alerts.push_front(a);
    endInsertRows();
    if (m_alerts.size() <= std::size_t(MaxAlerts))
        return;
    const auto isSlow = [](const Alert& a) { return a.kind == Alert::Kind::Slow || a.kind == Alert::Kind::VerySlow; };
    std::size_t excess = m_alerts.size() - std::size_t(MaxAlerts);
    bool tailIsSlow = true;
    for (std::size_t i = std::size_t(MaxAlerts); i < m_alerts.size() && tailIsSlow; ++i)
        tailIsSlow = isSlow(m_alerts[i]);
    if (tailIsSlow) { // the usual case: the oldest rows go
        beginRemoveRows({}, MaxAlerts, int(m_alerts.size() - 1));
        m_alerts.resize(MaxAlerts);
        endRemoveRows();
        return;
    }
    // Budget alerts in the tail: the oldest slow ones go instead, wherever they are.
    beginResetModel();
    std::deque<Alert> kept;
    for (auto it = m_alerts.rbegin(); it != m_alerts.rend(); ++it) {
        if (excess && isSlow(*it)) {
            --excess;
            continue;
        }
        kept.push_front(*it);
    }
    while (kept.size() > std::size_t(MaxAlerts)) // only budget alerts left over: the oldest go
        kept.pop_back();
    m_alerts = std::move(kept);
    endResetModel();
}

const Alert* AlertsModel::alertAt(int row) const
{
    return row >= 0 && std::size_t(row) < m_alerts.size() ? &m_alerts[std::size_t(row)] : nullptr;
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
    if (role == KindRole)
        return int(a.kind);
    if (role == SortRole) {
        switch (Column(index.column())) {
        case Time:
            return a.timestampMs;
        case Severity:
            return int(a.kind);
        case Duration:
            return a.durationNs;
        default:
            return data(index, Qt::DisplayRole);
        }
    }
    if (role == Qt::DisplayRole) {
        switch (Column(index.column())) {
        case Time:
            return QDateTime::fromMSecsSinceEpoch(a.timestampMs).toString(QStringLiteral("HH:mm:ss.zzz"));
        case Severity:
            switch (a.kind) {
            case Alert::Kind::Slow:
                return tr("slow");
            case Alert::Kind::VerySlow:
                return tr("very slow");
            case Alert::Kind::BudgetBroken:
                return tr("budget broken");
            case Alert::Kind::BudgetRecovered:
                return tr("budget met again");
            }
            break;
        case Process:
            return a.process;
        case Operation:
            return a.operation;
        case Duration:
            return formatDuration(a.durationNs);
        case Details:
            return a.details;
        case ColumnCount:
            break;
        }
    }
    if (role == Qt::ForegroundRole && index.column() == Severity) {
        switch (a.kind) {
        case Alert::Kind::VerySlow:
        case Alert::Kind::BudgetBroken:
            return QBrush(QColor(0xb3, 0x26, 0x1e));
        case Alert::Kind::Slow:
            return QBrush(QColor(0x9a, 0x6b, 0x00));
        case Alert::Kind::BudgetRecovered:
            return QBrush(QColor(0x1b, 0x7f, 0x3b));
        }
    }
    if (role == Qt::ToolTipRole)
        return index.column() == Operation ? a.operation : a.details;
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
