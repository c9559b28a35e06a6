// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>
#include <QVariant>

#include <optional>

namespace perfdash {

struct SparseHistogram;

/**
 * What a capture's rows may hold, checked on load as the wire checks what clients send: a capture
 * is a file anyone may hand over, and a hand-edited one (a count of 9223372036854775898, a CPU of
 * -1e308) must not become impossible statistics. Each check says why a value cannot be one a
 * recording wrote; the loader leaves such rows out and lists them among the capture's problems.
 */
namespace capturevalidation {
/// Wall-clock milliseconds a recording can hold (the wire's ts_us bound, 9.2e15 µs).
inline constexpr qint64 MaxWallMs = 9'200'000'000'000;
/// The wire's largest duration (duration_us 1.8e13, 208 days), in nanoseconds.
inline constexpr qint64 MaxDurationNs = 18'000'000'000'000'000;
/// Memory figures over 2^48 bytes are refused on the wire too.
inline constexpr qint64 MaxMemoryBytes = qint64(1) << 48;

/// A count as a recording writes it: an integer column, 0 or more. nullopt for a REAL (SQLite
/// stores integers past 2^63 so), text, NULL or a negative number.
std::optional<quint64> count(const QVariant& value);
/// An integer column within [@p min, @p max]; nullopt otherwise.
std::optional<qint64> integer(const QVariant& value, qint64 min, qint64 max);
/// A number written as text in the meta table, within [@p min, @p max].
std::optional<quint64> metaNumber(const QVariant& value, quint64 min, quint64 max);

/// Whether a `seconds` row can be one a recording wrote: its count is the sum of its buckets and
/// overflow, its errors at most its count, min <= mean <= max. Otherwise false, and what is
/// impossible about it in @p problem.
bool validSecond(qint64 second, const SparseHistogram& h, quint64 storedCount, quint64 errors, QString* problem);
/// CPU percent as /proc sampling gives it: finite, 0 to 100 per CPU of the largest machines.
bool validCpuPercent(double percent);
} // namespace capturevalidation

} // namespace perfdash
