// SPDX-License-Identifier: GPL-3.0-or-later
// What the perfdash command's parts share: how they speak to the user, and small checks.
#pragma once

#include <QString>

class QPixmap;

namespace perfdash {

/// A message to the user on stderr, as every part of the command writes them: "perfdash: MESSAGE".
void say(const QString& message);
/// say(), then the exit status of bad arguments (HeadlessGate::BadArguments).
[[noreturn]] void fail(const QString& message);
/// Returns when @p path can be written (its directory exists and is writable); otherwise fail()s
/// with why not, before the run starts rather than at its end.
void failUnlessWritable(const QString& path);
/// Saves @p picture as a PNG, whole or not at all (a full disk leaves the previous file), 0600.
bool savePng(const QPixmap& picture, const QString& path, QString* error);
/// What every window of perfdash shares: its icon, and the .desktop file that names it.
void brandGuiApplication();

} // namespace perfdash
