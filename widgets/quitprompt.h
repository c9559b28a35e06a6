// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

class QWidget;

namespace perfdash {

/**
 * Asks whether to quit while @p running programs launched from the window still run (quitting
 * stops them). The buttons say what they do, "Quit and stop them" and "Keep running"; the safe
 * one is the default, and Return and Escape both keep running. True to quit.
 */
bool askQuitStoppingLaunched(QWidget* parent, int running);

} // namespace perfdash
