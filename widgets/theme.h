// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "models/palette.h" // isDarkPalette(): whether the palette applyTheme() set is dark

class QPalette;

namespace perfdash {

/// The window's colours: the system's palette (dark when the desktop's is), or light or dark.
enum class Theme { System, Light, Dark };

void applyTheme(Theme theme);
/// A dark palette of the Fusion style's kind.
QPalette darkPalette();

} // namespace perfdash
