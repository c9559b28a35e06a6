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
    template <typename T, typename SameRow> void replaceRows(QList<T>& rows, const QList<T>& next, SameRow sameRow)
    {
        bool prefix = next.size() >= rows.size();
        for (qsizetype i = 0; prefix && i < rows.size(); ++i)
            prefix = sameRow(rows[i], next[i]);
        if (!prefix) {
            beginResetModel();
            rows = next;
            endResetModel();
            m_shown = cells();
            return;
        }
        const int old = int(rows.size());
        if (next.size() > old) {
            beginInsertRows({}, old, int(next.size() - 1));
            rows = next;
            endInsertRows();
        } else {
            rows = next;
        }
        QList<QVariant> shown = cells();
        reportChanges(shown, old);
        m_shown = std::move(shown);
    }

private:
    // Shaping text is most of what a table costs to paint, and a view repaints what it is told
    // changed: so only cells that look different from what views were last told are reported,
    // column by column.
    static constexpr int ComparedRoles[] = { Qt::DisplayRole, Qt::BackgroundRole, Qt::ForegroundRole, Qt::FontRole };
    static constexpr qsizetype PerCell = qsizetype(std::size(ComparedRoles));

    QList<QVariant> cells() const
    {
        QList<QVariant> out;
        out.reserve(qsizetype(rowCount()) * columnCount() * PerCell);
        for (int row = 0; row < rowCount(); ++row) {
            for (int column = 0; column < columnCount(); ++column) {
                for (int role : ComparedRoles)
                    out.append(data(index(row, column), role));
            }
        }
        return out;
    }

    /// Reports the cells of the first @p oldRows rows that differ between m_shown and @p shown.
    void reportChanges(const QList<QVariant>& shown, int oldRows)
    {
        const int columns = columnCount();
        const bool known = m_shown.size() == qsizetype(oldRows) * columns * PerCell;
        for (int column = 0; column < columns; ++column) {
            int first = -1, last = -1;
            for (int row = 0; row < oldRows; ++row) {
                const qsizetype at = (qsizetype(row) * columns + column) * PerCell;
                if (!known || !std::equal(m_shown.begin() + at, m_shown.begin() + at + PerCell, shown.begin() + at)) {
                    first = first < 0 ? row : first;
                    last = row;
                }
            }
            if (first >= 0)
                Q_EMIT dataChanged(index(first, column), index(last, column));
        }
    }

    QList<QVariant> m_shown; // every cell's compared roles, row by row, as views were last told
};

} // namespace perfdash
