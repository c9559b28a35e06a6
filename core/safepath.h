// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

namespace perfdash::safepath {

/// Empty when @p path may be written: it does not exist, or it is a regular file and no symbolic
/// link. Otherwise the sentence why not. QSaveFile and SQLite resolve a symlink and write to its
/// target: one planted by someone else in a shared directory would turn an export into an
/// overwrite of any file the user may write.
QString checkWritableTarget(const QString& path);

/// Empty when @p dir is a real directory (not a symlink) owned by the user; otherwise why not.
QString checkOwnDirectory(const QString& dir);

} // namespace perfdash::safepath
