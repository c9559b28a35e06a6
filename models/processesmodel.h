// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/metricsstore.h"
#include "models/rowsmodel.h"

namespace perfdash {

/// Every process of a snapshot: pid, name, state, rate, drops, memory, CPU. Rows keep their order
/// (processes only come, exited ones stay), so selections survive refreshes.
class ProcessesModel : public RowsModel
{
    Q_OBJECT
public:
    enum Column { Pid, Name, State, Rate, Operations, Drops, Rss, Heap, Cpu, ColumnCount };
    static constexpr int KeyRole = Qt::UserRole;
    static constexpr int SortRole = Qt::UserRole + 1;

    explicit ProcessesModel(QObject* parent = nullptr);

    void setProcesses(const QList<ProcessInfo>& processes);
    const ProcessInfo* processAt(int row) const;
    int rowOf(quint64 key) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QList<ProcessInfo> m_processes;
};

} // namespace perfdash
