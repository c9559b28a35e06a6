// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/format.h"

#include "profiler/calltree.h"

namespace perfdash {

namespace {
/// "12.500" as "12.5", "30.000" as "30"; a number without a point stays whole ("100").
QString withoutTrailingZeros(QString number)
{
    if (!number.contains(u'.'))
        return number;
    while (number.endsWith(u'0'))
        number.chop(1);
    if (number.endsWith(u'.'))
        number.chop(1);
    return number;
}
} // namespace

QString formatDuration(quint64 ns)
{
    const DurationUnit unit = durationUnit(double(ns));
    if (unit.ns == 1.0)
        return QStringLiteral("%1 ns").arg(ns);
    // Two decimals below ten of the unit (3.42 ms), one above (12.5 ms); seconds always two.
    const int decimals = unit.ns == 1e9 || double(ns) < 10 * unit.ns ? 2 : 1;
    return QStringLiteral("%1 %2").arg(double(ns) / unit.ns, 0, 'f', decimals).arg(unit.name);
}

QString formatDurationTick(quint64 ns)
{
    const QString text = formatDuration(ns);
    const qsizetype space = text.indexOf(u' ');
    return withoutTrailingZeros(text.left(space)) + text.mid(space);
}

QString formatDurationExact(quint64 ns)
{
    const DurationUnit unit = durationUnit(double(ns));
    return withoutTrailingZeros(QString::number(double(ns) / unit.ns, 'f', 3)) + u' ' + unit.name;
}

DurationUnit durationUnit(double ns)
{
    if (ns >= 1e9)
        return { 1e9, QStringLiteral("s") };
    if (ns >= 1e6)
        return { 1e6, QStringLiteral("ms") };
    if (ns >= 1e3)
        return { 1e3, QStringLiteral("µs") };
    return { 1.0, QStringLiteral("ns") };
}

DurationUnit axisDurationUnit(double maxNs)
{
    return durationUnit(maxNs / 2);
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
