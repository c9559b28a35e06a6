// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

namespace perfdash {

/// 812 ns, 3.4 µs, 12.0 ms, 1.25 s: the unit scales with the value.
QString formatDuration(quint64 ns);
/// formatDuration() without trailing zeros, for axis ticks: 1 ms, 2.5 ms, 10 ms, 500 µs.
QString formatDurationTick(quint64 ns);
/// In formatDuration()'s unit with up to three decimals and no trailing zeros, for a value the user
/// typed and reads back: 30 ms, 12.345 ms, 500 µs, 1.5 s (never "30.000 ms").
QString formatDurationExact(quint64 ns);

/// A unit durations are written in: nanoseconds per unit and its name ("ms").
struct DurationUnit
{
    double ns = 1.0;
    QString name;
};
/// The unit formatDuration() writes @p ns in: the largest it reaches (1 ms and over: ms).
DurationUnit durationUnit(double ns);
/// The unit of an axis reaching @p maxNs: the largest it reaches twice, so that its labels are whole
/// numbers rather than fractions of one unit (up to 2 s: "1500 ms").
DurationUnit axisDurationUnit(double maxNs);
/// 52.4 MiB, 1.2 GiB.
QString formatBytes(qint64 bytes);

struct ProfileSnapshot;
/// A profile's count in its unit: "12.5 ms off CPU", "3.2 MiB", "1.1 MiB/s"; a sample count as a
/// number ("412"), or "412 samples" with @p unitName.
QString formatProfileAmount(const ProfileSnapshot& snapshot, quint64 count, bool unitName = false);
/// Whether a profile's counts read as more than numbers (formatProfileAmount() says them).
bool hasProfileUnit(const ProfileSnapshot& snapshot);

} // namespace perfdash
