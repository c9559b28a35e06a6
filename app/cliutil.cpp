// SPDX-License-Identifier: GPL-3.0-or-later
#include "app/cliutil.h"

#include "core/atomicfile.h"
#include "core/headlessgate.h"

#include <QApplication>
#include <QBuffer>
#include <QFileInfo>
#include <QIcon>
#include <QPixmap>

#include <cstdio>
#include <cstdlib>

namespace perfdash {

void say(const QString& message)
{
    std::fprintf(stderr, "perfdash: %s\n", qUtf8Printable(message));
}

void fail(const QString& message)
{
    say(message);
    std::exit(HeadlessGate::BadArguments);
}

void failUnlessWritable(const QString& path)
{
    const QFileInfo info(path);
    const QFileInfo dir(info.absolutePath());
    if (!dir.isDir())
        fail(QStringLiteral("cannot write %1: directory %2 does not exist").arg(path, dir.filePath()));
    if (!dir.isWritable() || (info.exists() && !info.isWritable()))
        fail(QStringLiteral("cannot write %1: permission denied").arg(path));
}

bool savePng(const QPixmap& picture, const QString& path, QString* error)
{
    QByteArray png;
    QBuffer buffer(&png);
    if (!buffer.open(QIODevice::WriteOnly) || !picture.save(&buffer, "PNG")) {
        *error = QStringLiteral("cannot write the screenshot %1: the picture could not be encoded").arg(path);
        return false;
    }
    return atomicfile::write(path, png, error);
}

void brandGuiApplication()
{
    QApplication::setWindowIcon(QIcon(QStringLiteral(":/icons/perfdash.svg")));
    QGuiApplication::setDesktopFileName(QStringLiteral("perfdash"));
}

} // namespace perfdash
