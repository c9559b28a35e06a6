// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

class QPalette;

namespace perfdash {

/// The window's colours: the system's palette (dark when the desktop's is), or light or dark.
enum class Theme { System, Light, Dark };

void applyTheme(Theme theme);
/// A dark palette of the Fusion style's kind.
QPalette darkPalette();
/// Whether the application's palette is dark now (its base colour), whichever way it came.
bool isDarkPalette();

} // namespace perfdash
