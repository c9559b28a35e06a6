// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/dashboardsnapshot.h"
#include "models/rowsmodel.h"
#include "profiler/operationattribution.h"

#include <QHash>

#include <functional>
#include <vector>

namespace perfdash {

/// The operations of a snapshot with the statistics columns of the CSV export, and where time goes:
/// TotalTime is count x mean (the sum of the durations) with its share of every operation's.
/// Rows over the slow threshold or breaking a budget are marked. Cpu is the operation's on-CPU share
/// of its wall time while profiled (empty when its process is not profiled or not traced), asked of
/// the CPU source once per process at each setRows(). Sort through a proxy on SortRole.
class OperationsModel : public RowsModel
{
    Q_OBJECT
public:
    enum Column {
        Process,
        Operation,
        TotalTime,
        Count,
        Errors,
        ErrorRate,
        Min,
        Mean,
        P50,
        P90,
        P95,
        P99,
        P999,
        Max,
        Slow,
        Cpu,
        ColumnCount
    };
    static constexpr int ProcessKeyRole = Qt::UserRole;
    static constexpr int SortRole = Qt::UserRole + 1;
    static constexpr int OperationRole = Qt::UserRole + 2;

    /// A process's operations' CPU and wall time (Profiler::operationCpu); empty: not profiled.
    using CpuSource = std::function<std::vector<OperationCpu>(qint64 pid)>;

    explicit OperationsModel(QObject* parent = nullptr);

    /// Where the Cpu column comes from (none: the column stays empty); read at the next setRows().
    void setCpuSource(CpuSource source);
    /// The CPU of @p row's operation as of the last setRows(); null when unknown.
    const OperationCpu* cpuAt(int row) const;
    /// Some row has an on-CPU share (a process is profiled and its operations traced).
    bool hasCpu() const;

    void setRows(const QList<OperationRow>& rows);
    const OperationRow* rowAt(int row) const;
    int rowOf(quint64 processKey, const QString& operation) const;
    /// The summed durations of a row (count x mean), in nanoseconds.
    static double totalNs(const OperationRow& row) noexcept { return row.stats.meanNs * double(row.stats.count); }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<OperationRow> m_rows;
    CpuSource m_cpuSource;
    QHash<qint64, QHash<QString, OperationCpu>> m_cpu; ///< by pid, then operation
    double m_totalNs = 0; ///< of every row that is not a group (groups repeat their members)
};

} // namespace perfdash
