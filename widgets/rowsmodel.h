// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QAbstractTableModel>

#include <algorithm>
#include <iterator>

namespace perfdash {

/**
 * A table refreshed with whole snapshots. replaceRows() keeps views' selections and scroll
 * positions: when the rows it has are still the first rows of the new list (the usual case: things
 * only come), it inserts the new ones and reports the old as changed; otherwise it resets.
 */
class RowsModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    using QAbstractTableModel::QAbstractTableModel;

protected:
    template <typename T, typename SameRow>
    void replaceRows(QList<T>& rows, const QList<T>& next, SameRow sameRow)
    {
        bool prefix = next.size() >= rows.size();
        for (qsizetype i = 0; prefix && i < rows.size(); ++i)
            prefix = sameRow(rows[i], next[i]);
        if (!prefix) {
            beginResetModel();
            rows = next;
            endResetModel();
            return;
        }
        const qsizetype old = rows.size();
        const QList<QVariant> before = cells(int(old));
        if (next.size() > old) {
            beginInsertRows({}, int(old), int(next.size() - 1));
            rows = next;
            endInsertRows();
        } else {
            rows = next;
        }
        reportChanges(before, int(old));
    }

private:
    // Shaping text is most of what a table costs to paint, and a view repaints what it is told
    // changed: so only cells that look different are reported, column by column.
    static constexpr int ComparedRoles[] = { Qt::DisplayRole, Qt::BackgroundRole, Qt::ForegroundRole, Qt::FontRole };

    QList<QVariant> cells(int rowCount) const
    {
        QList<QVariant> out;
        out.reserve(qsizetype(rowCount) * columnCount() * qsizetype(std::size(ComparedRoles)));
        for (int row = 0; row < rowCount; ++row) {
            for (int column = 0; column < columnCount(); ++column) {
                for (int role : ComparedRoles)
                    out.append(data(index(row, column), role));
            }
        }
        return out;
    }

    void reportChanges(const QList<QVariant>& before, int rowCount)
    {
        const QList<QVariant> after = cells(rowCount);
        const qsizetype perCell = qsizetype(std::size(ComparedRoles));
        for (int column = 0; column < columnCount(); ++column) {
            int first = -1, last = -1;
            for (int row = 0; row < rowCount; ++row) {
                const qsizetype at = (qsizetype(row) * columnCount() + column) * perCell;
                if (!std::equal(before.begin() + at, before.begin() + at + perCell, after.begin() + at)) {
                    first = first < 0 ? row : first;
                    last = row;
                }
            }
            if (first >= 0)
                Q_EMIT dataChanged(index(first, column), index(last, column));
        }
    }
};

} // namespace perfdash
