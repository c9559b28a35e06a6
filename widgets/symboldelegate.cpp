// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/symboldelegate.h"

#include "models/symbolprettifier.h"

#include <QApplication>
#include <QStyle>

namespace perfdash {

SymbolDelegate::SymbolDelegate(QObject* parent)
    : QStyledItemDelegate(parent)
{
}

void SymbolDelegate::initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const
{
    QStyledItemDelegate::initStyleOption(option, index);
    if (option->rect.width() <= 0) // measured for a size hint: the whole name
        return;
    const QStyle* style = option->widget ? option->widget->style() : QApplication::style();
    // The room the style leaves the text: the cell less its margins on both sides.
    const int margin = style->pixelMetric(QStyle::PM_FocusFrameHMargin, nullptr, option->widget) + 1;
    const int width = option->rect.width() - 2 * margin
        - (option->features & QStyleOptionViewItem::HasDecoration ? option->decorationSize.width() + margin : 0);
    option->text = elideSymbol(option->text, option->fontMetrics, width);
    option->textElideMode = Qt::ElideNone; // cut already; the style would cut again from the right
}

} // namespace perfdash
