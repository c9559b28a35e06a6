// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/processesmodel.h"

#include "models/format.h"

#include <QBrush>
#include <QColor>

namespace perfdash {

namespace {
QString stateText(const ProcessInfo& p)
{
    switch (p.state) {
    case ProcessInfo::State::Live:
        return QObject::tr("live");
    case ProcessInfo::State::Exited:
        return QObject::tr("exited");
    case ProcessInfo::State::ProcOnly:
        return QObject::tr("/proc only");
    case ProcessInfo::State::Error:
        return QObject::tr("error");
    }
    return {};
}
} // namespace

ProcessesModel::ProcessesModel(QObject* parent)
    : RowsModel(parent)
{
}

void ProcessesModel::setProcesses(const QList<ProcessInfo>& processes)
{
    // The store lists processes by key and only adds (or, at its limit, forgets the oldest exited).
    replaceRows(m_processes, processes, [](const ProcessInfo& a, const ProcessInfo& b) { return a.key == b.key; });
}

const ProcessInfo* ProcessesModel::processAt(int row) const
{
    return row >= 0 && row < m_processes.size() ? &m_processes[row] : nullptr;
}

int ProcessesModel::rowOf(quint64 key) const
{
    for (qsizetype i = 0; i < m_processes.size(); ++i) {
        if (m_processes[i].key == key)
            return int(i);
    }
    return -1;
}

int ProcessesModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_processes.size());
}

int ProcessesModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant ProcessesModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const ProcessInfo& p = m_processes[index.row()];
    if (role == KeyRole)
        return p.key;
    if (role == Qt::DisplayRole) {
        switch (Column(index.column())) {
        case Pid:
            return p.pid;
        case Name:
            return p.name;
        case State:
            return stateText(p);
        // An exited process (or one read from a capture) sends nothing: no rate to show.
        case Rate:
            return p.instrumented && p.state == ProcessInfo::State::Live
                ? QString::number(p.operationsPerSecond, 'f', p.operationsPerSecond < 10 ? 1 : 0)
                : QStringLiteral("–");
        case Operations:
            return p.instrumented ? QString::number(p.operations) : QStringLiteral("–");
        case Drops:
            return p.drops();
        case Rss:
            return formatBytes(p.rssBytes);
        case Heap:
            return formatBytes(p.heapBytes);
        case Cpu:
            return p.cpuPercent ? QStringLiteral("%1%").arg(*p.cpuPercent, 0, 'f', 1) : QStringLiteral("–");
        case ColumnCount:
            break;
        }
    }
    if (role == SortRole) {
        switch (Column(index.column())) {
        case Pid:
            return p.pid;
        case Rate:
            return p.operationsPerSecond;
        case Operations:
            return p.operations;
        case Drops:
            return p.drops();
        case Rss:
            return p.rssBytes;
        case Heap:
            return p.heapBytes;
        case Cpu:
            return p.cpuPercent.value_or(-1.0);
        default:
            return data(index, Qt::DisplayRole);
        }
    }
    if (role == Qt::ForegroundRole && index.column() == State) {
        switch (p.state) {
        case ProcessInfo::State::Live:
            return QBrush(QColor(0x1b, 0x7f, 0x3b));
        case ProcessInfo::State::Error:
            return QBrush(QColor(0xb3, 0x26, 0x1e));
        default:
            return QBrush(QColor(0x6b, 0x6b, 0x6b));
        }
    }
    if (role == Qt::ToolTipRole) {
        QString tip = p.commandLine.join(u' ');
        if (!p.reason.isEmpty())
            tip += QStringLiteral("\n") + p.reason;
        if (!p.lastProblem.isEmpty())
            tip += QStringLiteral("\n") + tr("last malformed input: %1").arg(p.lastProblem);
        if (p.lostOperations || p.droppedBytes) {
            tip += QStringLiteral("\n")
                + tr("%1 operations given up by the client (%2 while it could not send)")
                      .arg(p.lostOperations)
                      .arg(formatBytes(qint64(p.droppedBytes)));
        }
        if (p.droppedEvents)
            tip += QStringLiteral("\n")
                + tr("%1 raw events not sent (their operations are counted)").arg(p.droppedEvents);
        if (p.droppedOperations)
            tip += QStringLiteral("\n")
                + tr("%1 operations over the limit of names per process, counted in the row '%2'")
                      .arg(p.droppedOperations)
                      .arg(MetricsStore::overflowOperationName());
        if (p.refusedValues)
            tip += QStringLiteral("\n")
                + tr("%1 values refused (out of range, or counters and gauges over the limit)").arg(p.refusedValues);
        if (p.malformed)
            tip += QStringLiteral("\n") + tr("%1 malformed lines or frames skipped").arg(p.malformed);
        return tip;
    }
    if (role == Qt::TextAlignmentRole && index.column() != Name && index.column() != State)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant ProcessesModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    switch (Column(section)) {
    case Pid:
        return tr("PID");
    case Name:
        return tr("Process");
    case State:
        return tr("State");
    case Rate:
        return tr("Ops/s");
    case Operations:
        return tr("Operations");
    case Drops:
        return tr("Drops");
    case Rss:
        return tr("RSS");
    case Heap:
        return tr("Heap");
    case Cpu:
        return tr("CPU");
    case ColumnCount:
        break;
    }
    return {};
}

} // namespace perfdash
