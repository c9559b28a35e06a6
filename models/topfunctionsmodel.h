// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"

#include <QAbstractTableModel>

#include <vector>

namespace perfdash {

/// The functions of a profile snapshot by self samples: self, total, their shares (of all the
/// samples), and who calls them. Names are prettified; the tooltip has them whole.
class TopFunctionsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Function, Self, SelfPercent, Total, TotalPercent, Callers, Module, Location, ColumnCount };
    static constexpr int SortRole = Qt::UserRole; ///< numbers as numbers

    explicit TopFunctionsModel(QObject* parent = nullptr);

    /// The functions of @p snapshot, or of @p root and its callees (the flame graph's zoom).
    void setSnapshot(const ProfileSnapshotPtr& snapshot, std::uint32_t root = 0);
    std::uint32_t root() const { return m_root; }
    const FunctionCost* costAt(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    QString callersText(const FunctionCost& cost) const;
    QVariant offCpuAmount(std::uint64_t count, int role) const;

    ProfileSnapshotPtr m_snapshot;
    std::vector<FunctionCost> m_rows;
    std::uint32_t m_root = 0;
};

} // namespace perfdash
