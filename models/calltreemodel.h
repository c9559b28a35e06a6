// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "models/profiletrees.h"

#include <QAbstractItemModel>

namespace perfdash {

/**
 * A ProfileTree as a tree model: the top-down and bottom-up views. Function names are shown
 * prettified (template arguments as "<...>"), in full in the tooltip; self and total in samples
 * (milliseconds off CPU for an off-CPU profile) and as shares of all the samples.
 */
class CallTreeModel : public QAbstractItemModel
{
    Q_OBJECT
public:
    enum Column { Function, Self, SelfPercent, Total, TotalPercent, Module, ColumnCount };
    static constexpr int SortRole = Qt::UserRole; ///< numbers as numbers
    static constexpr int NodeRole = Qt::UserRole + 1; ///< the node's index in the tree
    static constexpr int FullNameRole = Qt::UserRole + 2; ///< the function's name as demangled

    explicit CallTreeModel(QObject* parent = nullptr);

    void setTree(ProfileTreePtr tree);
    ProfileTreePtr tree() const { return m_tree; }
    /// The index of @p node (column @p column); invalid for the root.
    QModelIndex indexOf(std::uint32_t node, int column = Function) const;
    std::uint32_t nodeOf(const QModelIndex& index) const;

    QModelIndex index(int row, int column, const QModelIndex& parent = {}) const override;
    QModelIndex parent(const QModelIndex& child) const override;
    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    ProfileTreePtr m_tree;
};

} // namespace perfdash
