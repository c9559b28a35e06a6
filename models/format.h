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

} // namespace perfdash
