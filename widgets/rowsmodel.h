// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QAbstractTableModel>

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
        if (next.size() > old) {
            beginInsertRows({}, int(old), int(next.size() - 1));
            rows = next;
            endInsertRows();
        } else {
            rows = next;
        }
        if (old > 0)
            Q_EMIT dataChanged(index(0, 0), index(int(old - 1), columnCount() - 1));
    }
};

} // namespace perfdash
