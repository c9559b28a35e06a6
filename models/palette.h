// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

namespace perfdash {

/// Whether the application's palette is dark now (its base colour), whichever way it came: the
/// models pick tints that read on it, the window's theme (widgets/theme.h) sets it.
bool isDarkPalette();

} // namespace perfdash
