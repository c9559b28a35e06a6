// SPDX-License-Identifier: GPL-3.0-or-later
#include "format.h"

namespace perfdash {

QString formatDuration(quint64 ns)
{
    if (ns < 1000)
        return QStringLiteral("%1 ns").arg(ns);
    if (ns < 1'000'000)
        return QStringLiteral("%1 µs").arg(double(ns) / 1e3, 0, 'f', ns < 10'000 ? 2 : 1);
    if (ns < 1'000'000'000)
        return QStringLiteral("%1 ms").arg(double(ns) / 1e6, 0, 'f', ns < 10'000'000 ? 2 : 1);
    return QStringLiteral("%1 s").arg(double(ns) / 1e9, 0, 'f', 2);
}

QString formatDurationTick(quint64 ns)
{
    QString text = formatDuration(ns);
    const qsizetype space = text.indexOf(u' ');
    if (text.left(space).contains(u'.')) {
        qsizetype end = space;
        while (text.at(end - 1) == u'0')
            --end;
        if (text.at(end - 1) == u'.')
            --end;
        text.remove(end, space - end);
    }
    return text;
}

QString formatBytes(qint64 bytes)
{
    if (bytes < 0)
        return QStringLiteral("–");
    if (bytes < 1024 * 1024)
        return QStringLiteral("%1 KiB").arg(double(bytes) / 1024.0, 0, 'f', 0);
    if (bytes < 1024LL * 1024 * 1024)
        return QStringLiteral("%1 MiB").arg(double(bytes) / 1048576.0, 0, 'f', 1);
    return QStringLiteral("%1 GiB").arg(double(bytes) / 1073741824.0, 0, 'f', 2);
}

} // namespace perfdash
