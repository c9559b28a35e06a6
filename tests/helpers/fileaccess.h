// SPDX-License-Identifier: GPL-3.0-or-later
// Files as the tests of what perfdash writes look at them: put a previous file in place, read
// back its permissions.
#pragma once

#include <QByteArray>
#include <QFile>
#include <QString>

#include <sys/stat.h>

/// Writes @p content to @p path, replacing what was there; false when it could not.
inline bool writeBytes(const QString& path, const QByteArray& content)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(content) == content.size() && f.flush();
}

/// The permission bits of @p path (0600, ...), -1 when it cannot be stat()ed.
inline int permissionsOf(const QString& path)
{
    struct stat st
    {
    };
    return ::stat(QFile::encodeName(path).constData(), &st) == 0 ? int(st.st_mode & 07777) : -1;
}
