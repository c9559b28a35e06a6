// SPDX-License-Identifier: GPL-3.0-or-later
#include "tablecolumns.h"

#include <QDataStream>
#include <QEvent>
#include <QHeaderView>
#include <QIODevice>
#include <QScrollBar>
#include <QStyle>
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
    connect(view->model(), &QAbstractItemModel::modelReset, this, [this] {
        m_contentWidths.clear();
        fit();
    });
    connect(view->model(), &QAbstractItemModel::rowsInserted, this, &TableColumns::fit);
    connect(view->model(), &QAbstractItemModel::layoutChanged, this, &TableColumns::fit);
}

int TableColumns::contentWidth(int column) const
{
    // sizeHintForColumn() measures the visible rows (resizeContentsPrecision). The title needs its
    // text and margins, and the sorted column its indicator too (it covered "Self" down to "Sel").
    QHeaderView* header = m_view->horizontalHeader();
    const QString title = m_view->model()->headerData(column, Qt::Horizontal).toString();
    const int margin = header->style()->pixelMetric(QStyle::PM_HeaderMargin, nullptr, header);
    int titleWidth = header->fontMetrics().horizontalAdvance(title) + 4 * margin;
    if (header->isSortIndicatorShown() && header->sortIndicatorSection() == column)
        titleWidth += header->style()->pixelMetric(QStyle::PM_HeaderMarkSize, nullptr, header) + margin;
    return std::max(static_cast<const QAbstractItemView*>(m_view)->sizeHintForColumn(column), titleWidth);
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
        const int limit = m_view->fontMetrics().averageCharWidth() * m_nameLimit + 16;
        const int least = std::min(contentWidth(m_name), limit);
        const int room = m_view->viewport()->width() - others;
        const int width = std::max({ least, room, m_userWidths.value(m_name, 0) });
        if (width != header->sectionSize(m_name))
            header->resizeSection(m_name, width);
    }
    m_fitting = false;
    // The scroll range and the header's offset follow the new widths only when the view lays
    // itself out again; without it a header stays scrolled by what no longer overflows.
    QMetaObject::invokeMethod(m_view, "updateGeometries", Qt::QueuedConnection);
    if (header->length() <= m_view->viewport()->width())
        header->setOffset(0);
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
