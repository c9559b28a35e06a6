// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/format.h"

#include "profiler/calltree.h"

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

QString formatProfileAmount(const ProfileSnapshot& snapshot, quint64 count, bool unitName)
{
    if (snapshot.offCpu) // counts microseconds off CPU
        return unitName ? QStringLiteral("%1 ms off CPU").arg(double(count) / 1000.0, 0, 'f', 1)
                        : QStringLiteral("%1 ms").arg(double(count) / 1000.0, 0, 'f', 1);
    switch (snapshot.unit) {
    case ProfileSnapshot::Unit::Bytes:
        return count < 1024 ? QStringLiteral("%1 B").arg(count) : formatBytes(qint64(count));
    case ProfileSnapshot::Unit::BytesPerSecond:
        return (count < 1024 ? QStringLiteral("%1 B").arg(count) : formatBytes(qint64(count))) + QStringLiteral("/s");
    case ProfileSnapshot::Unit::Samples:
        break;
    }
    return unitName ? QStringLiteral("%1 samples").arg(count) : QString::number(count);
}

bool hasProfileUnit(const ProfileSnapshot& snapshot)
{
    return snapshot.offCpu || snapshot.unit != ProfileSnapshot::Unit::Samples;
}

} // namespace perfdash
