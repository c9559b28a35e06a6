// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/operationsmodel.h"

#include "models/format.h"
#include "models/palette.h"

#include <QBrush>
#include <QColor>
#include <QFont>

namespace perfdash {

OperationsModel::OperationsModel(QObject* parent)
    : RowsModel(parent)
{
}

void OperationsModel::setCpuSource(CpuSource source)
{
    m_cpuSource = std::move(source);
}

const OperationCpu* OperationsModel::cpuAt(int row) const
{
    const OperationRow* r = rowAt(row);
    if (!r || r->group)
        return nullptr;
    const auto process = m_cpu.constFind(r->pid);
    if (process == m_cpu.constEnd())
        return nullptr;
    const auto it = process->constFind(r->stats.operation);
    return it == process->constEnd() ? nullptr : &*it;
}

bool OperationsModel::hasCpu() const
{
    for (const auto& process : m_cpu) {
        for (const OperationCpu& cpu : process) {
            if (cpu.cpuShare() >= 0)
                return true;
        }
    }
    return false;
}

void OperationsModel::setRows(const QList<OperationRow>& rows)
{
    // Once per process and refresh: the profiler's lock is taken briefly to copy a small vector.
    m_cpu.clear();
    if (m_cpuSource) {
        for (const OperationRow& r : rows) {
            if (r.group || r.pid <= 0 || m_cpu.contains(r.pid))
                continue;
            QHash<QString, OperationCpu>& byName = m_cpu[r.pid];
            for (OperationCpu& cpu : m_cpuSource(r.pid))
                byName.insert(cpu.operation, std::move(cpu));
        }
    }
    m_totalNs = 0;
    for (const OperationRow& r : rows)
        m_totalNs += r.group ? 0.0 : totalNs(r);
    // Operations only come, but a new name can sort in between the known ones: then it resets.
    replaceRows(m_rows, rows, [](const OperationRow& a, const OperationRow& b) {
        return a.processKey == b.processKey && a.stats.operation == b.stats.operation;
    });
}

const OperationRow* OperationsModel::rowAt(int row) const
{
    return row >= 0 && row < m_rows.size() ? &m_rows[row] : nullptr;
}

int OperationsModel::rowOf(quint64 processKey, const QString& operation) const
{
    for (qsizetype i = 0; i < m_rows.size(); ++i) {
        if (m_rows[i].processKey == processKey && m_rows[i].stats.operation == operation)
            return int(i);
    }
    return -1;
}

int OperationsModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

int OperationsModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant OperationsModel::data(const QModelIndex& index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const OperationRow& r = m_rows[index.row()];
    const OperationStats& s = r.stats;
    const bool empty = s.count == 0;
    if (role == ProcessKeyRole)
        return r.processKey;
    if (role == OperationRole)
        return s.operation;
    if (role == SortRole) {
        switch (Column(index.column())) {
        case Process:
            return r.process;
        case Operation:
            return s.operation;
        case TotalTime:
            return totalNs(r);
        case Count:
            return s.count;
        case Errors:
            return s.errorCount;
        case ErrorRate:
            return s.errorRate;
        case Min:
            return s.minNs;
        case Mean:
            return s.meanNs;
        case P50:
            return s.p50Ns;
        case P90:
            return s.p90Ns;
        case P95:
            return s.p95Ns;
        case P99:
            return s.p99Ns;
        case P999:
            return s.p999Ns;
        case Max:
            return s.maxNs;
        case Slow:
            return s.slowCount;
        case Cpu: {
            const OperationCpu* cpu = cpuAt(index.row());
            return cpu && cpu->cpuShare() >= 0 ? QVariant(cpu->cpuShare()) : QVariant(-1.0);
        }
        case ColumnCount:
            break;
        }
        return {};
    }
    if (role == Qt::DisplayRole) {
        const auto duration = [&](quint64 ns) { return empty ? QStringLiteral("–") : formatDuration(ns); };
        switch (Column(index.column())) {
        case Process:
            return r.process;
        case Operation:
            return s.operation;
        case TotalTime: {
            if (empty)
                return QStringLiteral("–");
            const QString total = formatDuration(quint64(totalNs(r)));
            if (r.group || m_totalNs <= 0)
                return total;
            return QStringLiteral("%1 (%2%)")
                .arg(total)
                .arg(100.0 * totalNs(r) / m_totalNs, 0, 'f', totalNs(r) * 10 < m_totalNs ? 1 : 0);
        }
        case Count:
            return QString::number(s.count);
        case Errors:
            return QString::number(s.errorCount);
        case ErrorRate:
            return empty ? QStringLiteral("–") : QStringLiteral("%1%").arg(s.errorRate * 100, 0, 'f', 2);
        case Min:
            return duration(s.minNs);
        case Mean:
            return duration(quint64(s.meanNs));
        case P50:
            return duration(s.p50Ns);
        case P90:
            return duration(s.p90Ns);
        case P95:
            return duration(s.p95Ns);
        case P99:
            return duration(s.p99Ns);
        case P999:
            return duration(s.p999Ns);
        case Max:
            return duration(s.maxNs);
        case Slow:
            return QString::number(s.slowCount);
        case Cpu: {
            const OperationCpu* cpu = cpuAt(index.row());
            if (!cpu || cpu->cpuShare() < 0)
                return QString();
            const double percent = 100.0 * cpu->cpuShare();
            return QStringLiteral("%1%").arg(percent, 0, 'f', percent < 10 && percent > 0 ? 1 : 0);
        }
        case ColumnCount:
            break;
        }
    }
    if (role == Qt::FontRole && r.group) {
        QFont bold;
        bold.setBold(true);
        return bold;
    }
    if (role == Qt::BackgroundRole) {
        // Tints that read on the palette in use, light or dark.
        const bool dark = isDarkPalette();
        if (r.violation)
            return QBrush(dark ? QColor(0x5c, 0x25, 0x25) : QColor(0xfd, 0xe2, 0xe1));
        if (r.slow)
            return QBrush(dark ? QColor(0x4d, 0x40, 0x1c) : QColor(0xfd, 0xf3, 0xd8));
    }
    if (role == Qt::ToolTipRole) {
        const QString bucketed = s.fromSenderBuckets
            ? tr("From the sender's histogram buckets (OTLP metric): durations are known only to within a bucket, "
                 "so min, mean, percentiles and max are bounded by the sender's bucket bounds")
            : QString();
        if (index.column() == Process)
            return tr("%1, pid %2").arg(r.process).arg(r.pid);
        if (index.column() == Operation)
            return bucketed.isEmpty() ? s.operation : s.operation + u'\n' + bucketed;
        if (index.column() == TotalTime)
            return tr("Time spent in %1: count × mean, and its share of all operations' time").arg(s.operation);
        if (index.column() == Cpu) {
            const OperationCpu* cpu = cpuAt(index.row());
            if (!cpu)
                return tr("On-CPU share of the operation's wall time: known while its process is profiled "
                          "and its operations are traced (a perfdash client)");
            const auto ms = [](std::uint64_t ns) { return formatDuration(ns); };
            return tr("%1 on CPU, %2 off CPU over %3 instances (%4 wall time) while profiled; "
                      "nested operations included")
                .arg(ms(cpu->cpuNs), cpu->offCpuNs ? ms(cpu->offCpuNs) : tr("no recorded time"))
                .arg(cpu->instances)
                .arg(ms(cpu->wallNs));
        }
        if (r.group)
            return tr("Every operation of %1 whose name starts with %2, merged").arg(r.process, s.operation.chopped(1));
        if (r.violation) {
            const BudgetViolation& v = *r.violation;
            return tr("Budget broken: p%1 is %2, the budget %3 (%4×)")
                .arg(v.budget.percentile)
                .arg(formatDuration(v.actualNs), formatDuration(v.budget.limitNs))
                .arg(v.severity, 0, 'f', 2);
        }
        if (r.slow)
            return tr("Operations over the slow threshold in this window");
        if (!bucketed.isEmpty() && index.column() >= Min && index.column() <= Max)
            return bucketed;
    }
    if (role == Qt::TextAlignmentRole && index.column() > Operation)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant OperationsModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return {};
    static const char* const names[] = { "Process", "Operation", "Total time", "Count", "Errors", "Error rate", "Min",
        "Mean", "p50", "p90", "p95", "p99", "p99.9", "Max", "Slow", "CPU" };
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

} // namespace perfdash
