// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/safepath.h"

#include <QFile>
#include <QFileInfo>

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace perfdash::safepath {

QString checkWritableTarget(const QString& path)
{
    struct stat st
    {
    };
    if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
        return errno == ENOENT
            ? QString()
            : QStringLiteral("cannot write %1: %2").arg(path, QString::fromLocal8Bit(std::strerror(errno)));
    if (S_ISLNK(st.st_mode))
        return QStringLiteral("refusing to write %1: it is a symbolic link (to %2); remove it or choose another path")
            .arg(path, QFileInfo(path).symLinkTarget());
    if (!S_ISREG(st.st_mode))
        return QStringLiteral("refusing to write %1: it is not a regular file").arg(path);
    return {};
}

QString checkOwnDirectory(const QString& dir)
{
    struct stat st
    {
    };
    if (::lstat(QFile::encodeName(dir).constData(), &st) != 0)
        return QStringLiteral("%1: %2").arg(dir, QString::fromLocal8Bit(std::strerror(errno)));
    if (S_ISLNK(st.st_mode))
        return QStringLiteral("the socket directory %1 is a symbolic link (to %2); refusing to use it")
            .arg(dir, QFileInfo(dir).symLinkTarget());
    if (!S_ISDIR(st.st_mode))
        return QStringLiteral("%1 is not a directory").arg(dir);
    if (st.st_uid != ::getuid())
        return QStringLiteral("the socket directory %1 belongs to another user; refusing to use it").arg(dir);
    return {};
}

} // namespace perfdash::safepath
