// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QStyledItemDelegate>

namespace perfdash {

/// Draws a function's name cut in the middle so that its method's name stays (elideSymbol()),
/// where Qt's elision would cut it off or keep its template arguments instead.
class SymbolDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    explicit SymbolDelegate(QObject* parent = nullptr);

protected:
    void initStyleOption(QStyleOptionViewItem* option, const QModelIndex& index) const override;
};

} // namespace perfdash
