// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/safepath.h"

#include "core/errors.h"

#include <QFile>
#include <QFileInfo>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace perfdash::safepath {

bool checkWritableTarget(const QString& path, QString* error)
{
    struct stat st
    {
    };
    if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
        return errno == ENOENT
            || failWith(
                error, QStringLiteral("cannot write %1: %2").arg(path, QString::fromLocal8Bit(std::strerror(errno))));
    if (S_ISLNK(st.st_mode))
        return failWith(error,
            QStringLiteral("refusing to write %1: it is a symbolic link (to %2); remove it or choose another path")
                .arg(path, QFileInfo(path).symLinkTarget()));
    if (!S_ISREG(st.st_mode))
        return failWith(error, QStringLiteral("refusing to write %1: it is not a regular file").arg(path));
    return true;
}

bool checkOwnDirectory(const QString& dir, QString* error)
{
    struct stat st
    {
    };
    if (::lstat(QFile::encodeName(dir).constData(), &st) != 0)
        return failWith(error, QStringLiteral("%1: %2").arg(dir, QString::fromLocal8Bit(std::strerror(errno))));
    if (S_ISLNK(st.st_mode))
        return failWith(error,
            QStringLiteral("the socket directory %1 is a symbolic link (to %2); refusing to use it")
                .arg(dir, QFileInfo(dir).symLinkTarget()));
    if (!S_ISDIR(st.st_mode))
        return failWith(error, QStringLiteral("%1 is not a directory").arg(dir));
    if (st.st_uid != ::getuid())
        return failWith(
            error, QStringLiteral("the socket directory %1 belongs to another user; refusing to use it").arg(dir));
    return true;
}

} // namespace perfdash::safepath
