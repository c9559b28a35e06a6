// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QHash>
#include <QList>
#include <QObject>

class QModelIndex;
class QTableView;

namespace perfdash {

/**
 * How a table's columns share its width, instead of QHeaderView::Stretch (which makes the name
 * column impossible to drag and lets it collapse to a letter when the numbers take the room):
 * every column is Interactive; numbers are never narrower than their widest value (they only grow
 * while data streams in, so they do not jitter); the name column takes what is left, but never
 * less than its own content up to NameLimit characters; a width the user drags is kept. When all
 * of that does not fit, the view scrolls horizontally from the left.
 *
 * Cost: a fit measures the rows on screen and the rows inserted since the last fit (at most
 * MeasuredRows of each), never the whole model: Qt's sizeHintForColumn() measured up to 1,000 rows
 * per column, and a table of alerts refitted on every batch held the GUI thread for 1.5 s.
 */
class TableColumns : public QObject
{
    Q_OBJECT
public:
    static constexpr int NameLimit = 20; ///< characters the name column shows at least (if it has them), by default
    static constexpr int MeasuredRows = 100; ///< rows on screen, and rows inserted, that one fit measures at most

    TableColumns(QTableView* view, int nameColumn);

    /// Characters the name column shows at least (if it has them), however narrow the view: a
    /// table read for its long names (C++ functions) gives them more than NameLimit.
    void setNameLimit(int chars);
    /// A text column besides the name (a list of callers, a path): never wider than @p chars
    /// characters unless the user drags it wider, so that the name column keeps the room.
    void setMaximumChars(int column, int chars);
    /// Refits after new rows or values (cheap enough for every refresh: see the class's cost).
    void fit();
    int nameColumn() const noexcept { return m_name; }
    /// The view's width that shows every visible column without scrolling, the name column at
    /// the least fit() gives it (its content up to the name limit).
    int neededWidth() const;
    /// The widest value of @p column's rows on screen and inserted since the last fit, and of its
    /// header, in pixels.
    int contentWidth(int column) const;
    /// Widths the user chose by dragging, by column (restored with the header's state).
    QByteArray saveState() const;
    void restoreState(const QByteArray& state);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void onSectionResized(int column, int oldSize, int newSize);
    void onRowsInserted(const QModelIndex& parent, int first, int last);
    /// The rows a fit measures: those on screen and those inserted since the last fit, bounded.
    QList<int> rowsToMeasure() const;
    int cellWidth(int row, int column) const;
    /// The name column's content up to the name limit, in pixels.
    int leastNameWidth() const;

    QTableView* m_view;
    QObject* m_viewport = nullptr;
    int m_name;
    int m_nameLimit = NameLimit;
    bool m_fitting = false;
    QHash<int, int> m_userWidths;
    QHash<int, int> m_maximumChars;
    QHash<int, int> m_contentWidths; // the widest content seen since the last reset
    int m_insertedFirst = -1, m_insertedLast = -1; // rows inserted since the last fit
};

} // namespace perfdash
