// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

namespace perfdash::safepath {

/// Whether @p path may be written: it does not exist, or it is a regular file and no symbolic
/// link. Otherwise false, and the sentence why not in @p error. QSaveFile and SQLite resolve a symlink and write to its
/// target: one planted by someone else in a shared directory would turn an export into an
/// overwrite of any file the user may write.
bool checkWritableTarget(const QString& path, QString* error);

/// Whether @p dir is a real directory (not a symlink) owned by the user; otherwise false, and why not in @p error.
bool checkOwnDirectory(const QString& dir, QString* error);

} // namespace perfdash::safepath
