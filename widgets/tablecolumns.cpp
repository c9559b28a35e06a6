// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/tablecolumns.h"

#include <QAbstractItemDelegate>
#include <QDataStream>
#include <QEvent>
#include <QHeaderView>
#include <QIODevice>
#include <QScrollBar>
#include <QStyle>
#include <QStyleOptionViewItem>
#include <QTableView>

namespace perfdash {

TableColumns::TableColumns(QTableView* view, int nameColumn)
    : QObject(view)
    , m_view(view)
    , m_name(nameColumn)
{
    QHeaderView* header = view->horizontalHeader();
    header->setStretchLastSection(false);
    header->setSectionResizeMode(QHeaderView::Interactive);
    header->setMinimumSectionSize(view->fontMetrics().horizontalAdvance(QStringLiteral("00")));
    m_viewport = view->viewport();
    m_viewport->installEventFilter(this);
    connect(header, &QHeaderView::sectionResized, this, &TableColumns::onSectionResized);
    // Rows scrolled into view are measured then (a fit measures the rows on screen).
    connect(view->verticalScrollBar(), &QScrollBar::valueChanged, this, &TableColumns::fit);
    connect(view->model(), &QAbstractItemModel::modelReset, this, [this] {
        m_contentWidths.clear();
        fit();
    });
    connect(view->model(), &QAbstractItemModel::rowsInserted, this, &TableColumns::onRowsInserted);
    connect(view->model(), &QAbstractItemModel::layoutChanged, this, &TableColumns::fit);
}

void TableColumns::onRowsInserted(const QModelIndex& parent, int first, int last)
{
    if (parent.isValid())
        return;
    // Rows inserted above those waiting shift them: the union is what is new (bounded in rowsToMeasure()).
    if (m_insertedFirst < 0) {
        m_insertedFirst = first;
        m_insertedLast = last;
    } else {
        m_insertedFirst = std::min(m_insertedFirst, first);
        m_insertedLast = std::max(m_insertedLast + (first <= m_insertedLast ? last - first + 1 : 0), last);
    }
    fit();
}

QList<int> TableColumns::rowsToMeasure() const
{
    const int rows = m_view->model()->rowCount();
    QList<int> out;
    if (rows == 0)
        return out;
    // On screen (the first rows when the view has no height yet), then the inserted ones.
    int top = std::max(0, m_view->rowAt(0));
    int bottom = m_view->rowAt(m_view->viewport()->height() - 1);
    if (bottom < 0)
        bottom = rows - 1;
    bottom = std::min(bottom, top + MeasuredRows - 1);
    for (int r = top; r <= bottom; ++r)
        out.append(r);
    if (m_insertedFirst >= 0) {
        const int last = std::min({ m_insertedLast, rows - 1, m_insertedFirst + MeasuredRows - 1 });
        for (int r = m_insertedFirst; r <= last; ++r) {
            if (r < top || r > bottom)
                out.append(r);
        }
    }
    return out;
}

int TableColumns::cellWidth(int row, int column) const
{
    // What QTableView::sizeHintForColumn() asks of the delegate, for one cell.
    const QModelIndex index = m_view->model()->index(row, column);
    QStyleOptionViewItem option;
    option.initFrom(m_view->viewport());
    option.font = m_view->font();
    option.fontMetrics = QFontMetrics(option.font);
    option.decorationSize = m_view->iconSize().isValid() ? m_view->iconSize()
                                                         : QSize(m_view->style()->pixelMetric(QStyle::PM_SmallIconSize),
                                                             m_view->style()->pixelMetric(QStyle::PM_SmallIconSize));
    option.showDecorationSelected = true;
    const int width = m_view->itemDelegateForIndex(index)->sizeHint(option, index).width();
    return m_view->showGrid() ? width + 1 : width;
}

int TableColumns::contentWidth(int column) const
{
    // The title needs its text and margins, and the sorted column its indicator too (it covered
    // "Self" down to "Sel").
    QHeaderView* header = m_view->horizontalHeader();
    const QString title = m_view->model()->headerData(column, Qt::Horizontal).toString();
    const int margin = header->style()->pixelMetric(QStyle::PM_HeaderMargin, nullptr, header);
    int widest = header->fontMetrics().horizontalAdvance(title) + 4 * margin;
    if (header->isSortIndicatorShown() && header->sortIndicatorSection() == column)
        widest += header->style()->pixelMetric(QStyle::PM_HeaderMarkSize, nullptr, header) + margin;
    for (const int row : rowsToMeasure())
        widest = std::max(widest, cellWidth(row, column));
    return widest;
}

void TableColumns::setNameLimit(int chars)
{
    m_nameLimit = chars;
    fit();
}

void TableColumns::setMaximumChars(int column, int chars)
{
    m_maximumChars.insert(column, chars);
    fit();
}

void TableColumns::fit()
{
    QHeaderView* header = m_view->horizontalHeader();
    const int columns = header->count();
    if (columns == 0)
        return;
    m_fitting = true;
    // A proxy's layoutChanged (sorting) can give hidden sections their size back in the header's
    // geometry while they stay hidden (blank gaps between columns): hiding them again fixes it.
    int expected = 0;
    for (int c = 0; c < columns; ++c)
        expected += header->isSectionHidden(c) ? 0 : header->sectionSize(c);
    if (expected != header->length()) {
        for (int c = 0; c < columns; ++c) {
            if (header->isSectionHidden(c)) {
                header->setSectionHidden(c, false);
                header->setSectionHidden(c, true);
            }
        }
    }
    int others = 0;
    for (int c = 0; c < columns; ++c) {
        if (c == m_name || header->isSectionHidden(c))
            continue;
        // Grow-only while the rows stay, so that a value going from 10.2 to 9.8 ms does not jitter.
        int& content = m_contentWidths[c];
        content = std::max(content, contentWidth(c));
        int fitted = content;
        if (const auto cap = m_maximumChars.constFind(c); cap != m_maximumChars.constEnd())
            fitted = std::min(fitted, m_view->fontMetrics().averageCharWidth() * *cap + 16);
        const int width = std::max(fitted, m_userWidths.value(c, 0));
        if (width != header->sectionSize(c))
            header->resizeSection(c, width);
        others += width;
    }
    if (m_name >= 0 && m_name < columns && !header->isSectionHidden(m_name)) {
        const int least = leastNameWidth();
        const int room = m_view->viewport()->width() - others;
        const int width = std::max({ least, room, m_userWidths.value(m_name, 0) });
        if (width != header->sectionSize(m_name))
            header->resizeSection(m_name, width);
    }
    m_fitting = false;
    m_insertedFirst = m_insertedLast = -1;
    // The scroll range and the header's offset follow the new widths only when the view lays
    // itself out again; without it a header stays scrolled by what no longer overflows.
    QMetaObject::invokeMethod(m_view, "updateGeometries", Qt::QueuedConnection);
    if (header->length() <= m_view->viewport()->width())
        header->setOffset(0);
}

int TableColumns::leastNameWidth() const
{
    const int limit = m_view->fontMetrics().averageCharWidth() * m_nameLimit + 16;
    return std::min(contentWidth(m_name), limit);
}

int TableColumns::neededWidth() const
{
    const QHeaderView* header = m_view->horizontalHeader();
    int need = 2 * m_view->frameWidth() + m_view->verticalScrollBar()->sizeHint().width();
    for (int c = 0; c < header->count(); ++c) {
        if (!header->isSectionHidden(c))
            need += c == m_name ? std::max(leastNameWidth(), m_userWidths.value(c, 0)) : header->sectionSize(c);
    }
    return need;
}

void TableColumns::onSectionResized(int column, int, int newSize)
{
    if (m_fitting)
        return;
    // A drag by the user (or a restored state): that width is a floor from now on.
    m_userWidths.insert(column, newSize);
    if (column != m_name)
        fit();
}

bool TableColumns::eventFilter(QObject* watched, QEvent* event)
{
    // The viewport kept at install time: while the view is being destroyed, asking it for its
    // viewport calls into a half-destroyed object (UBSan saw it).
    if (watched == m_viewport && event->type() == QEvent::Resize)
        fit();
    return QObject::eventFilter(watched, event);
}

QByteArray TableColumns::saveState() const
{
    QByteArray out;
    QDataStream stream(&out, QIODevice::WriteOnly);
    stream << m_userWidths;
    return out;
}

void TableColumns::restoreState(const QByteArray& state)
{
    // What the header's own restoreState() reported as resizes is not what the user dragged.
    m_userWidths.clear();
    if (!state.isEmpty()) {
        QDataStream stream(state);
        QHash<int, int> widths;
        stream >> widths;
        if (stream.status() == QDataStream::Ok)
            m_userWidths = widths;
    }
    fit();
}

} // namespace perfdash
