// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

namespace perfdash {

/// 812 ns, 3.4 µs, 12.0 ms, 1.25 s: the unit scales with the value.
QString formatDuration(quint64 ns);
/// formatDuration() without trailing zeros, for axis ticks: 1 ms, 2.5 ms, 10 ms, 500 µs.
QString formatDurationTick(quint64 ns);
/// 52.4 MiB, 1.2 GiB.
QString formatBytes(qint64 bytes);

struct ProfileSnapshot;
/// A profile's count in its unit: "12.5 ms off CPU", "3.2 MiB", "1.1 MiB/s"; a sample count as a
/// number ("412"), or "412 samples" with @p unitName.
QString formatProfileAmount(const ProfileSnapshot& snapshot, quint64 count, bool unitName = false);
/// Whether a profile's counts read as more than numbers (formatProfileAmount() says them).
bool hasProfileUnit(const ProfileSnapshot& snapshot);

} // namespace perfdash
