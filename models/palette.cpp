// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/palette.h"

#include <QGuiApplication>
#include <QPalette>

namespace perfdash {

bool isDarkPalette()
{
    // The application's palette: the one QApplication::setPalette() sets (a widget application's
    // palette is its QGuiApplication's), so that models need no widgets to read it.
    return QGuiApplication::palette().color(QPalette::Base).lightness() < 128;
}

} // namespace perfdash
