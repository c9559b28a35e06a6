// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "models/profiletrees.h"

#include <QAbstractTableModel>

namespace perfdash {

/**
 * The caller/callee view's tables, over one CallerCallee: every function (self and total), or the
 * callers, or the callees, of one function with the samples through each and their share of that
 * function's total.
 */
class CallerCalleeModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum class Kind { Functions, Callers, Callees };
    enum Column { Function, Samples, Share, Self, SelfPercent, ColumnCount };
    static constexpr int SortRole = Qt::UserRole;
    static constexpr int FunctionRole = Qt::UserRole + 1; ///< the function id (kRoot for the process)
    static constexpr int FullNameRole = Qt::UserRole + 2;

    explicit CallerCalleeModel(Kind kind, QObject* parent = nullptr);

    Kind kind() const { return m_kind; }
    void setCallerCallee(CallerCalleePtr data);
    CallerCalleePtr callerCallee() const { return m_data; }
    /// The function whose callers or callees are listed (by name: ids change with every snapshot).
    void setFunction(const QString& name);
    QString function() const { return m_function; }
    /// The row of @p name, -1 when it is not there.
    int rowOf(const QString& name) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Row
    {
        std::uint32_t function;
        std::uint64_t samples; ///< Functions: total
        std::uint64_t self; ///< Functions only
    };
    void rebuild();
    QString nameOf(std::uint32_t function) const;

    Kind m_kind;
    CallerCalleePtr m_data;
    QString m_function;
    std::uint64_t m_functionTotal = 0;
    std::vector<Row> m_rows;
};

} // namespace perfdash
