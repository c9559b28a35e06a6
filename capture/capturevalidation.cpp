// SPDX-License-Identifier: GPL-3.0-or-later
#include "capture/capturevalidation.h"

#include "core/errors.h"
#include "core/latencyhistogram.h"

#include <cmath>
#include <limits>

namespace perfdash::capturevalidation {

std::optional<quint64> count(const QVariant& value)
{
    const std::optional<qint64> v = integer(value, 0, std::numeric_limits<qint64>::max());
    return v ? std::optional<quint64>(quint64(*v)) : std::nullopt;
}

std::optional<qint64> integer(const QVariant& value, qint64 min, qint64 max)
{
    // QSQLITE gives an INTEGER column's values as qlonglong; a REAL, text or NULL is not one.
    if (value.isNull() || value.typeId() != QMetaType::LongLong)
        return std::nullopt;
    const qint64 v = value.toLongLong();
    if (v < min || v > max)
        return std::nullopt;
    return v;
}

std::optional<quint64> metaNumber(const QVariant& value, quint64 min, quint64 max)
{
    bool ok = false;
    const quint64 v = value.toString().toULongLong(&ok);
    if (!ok || v < min || v > max)
        return std::nullopt;
    return v;
}

bool validSecond(qint64 second, const SparseHistogram& h, quint64 storedCount, quint64 errors, QString* problem)
{
    if (second < 0 || second > MaxWallMs / 1000)
        return failWith(problem, QStringLiteral("a second outside any recording"));
    quint64 sum = h.overflow;
    for (const auto& [index, c] : h.buckets) {
        Q_UNUSED(index);
        if (sum > std::numeric_limits<quint64>::max() - c)
            return failWith(problem, QStringLiteral("bucket counts past 2^64"));
        sum += c;
    }
    if (sum != storedCount || storedCount == 0)
        return failWith(problem, QStringLiteral("a count that is not the sum of its buckets"));
    if (errors > storedCount)
        return failWith(problem, QStringLiteral("more errors than operations"));
    if (h.minNs > h.maxNs)
        return failWith(problem, QStringLiteral("a minimum over the maximum"));
    if (h.overflow == 0) {
        // Without durations past the histogram's range, every one is within [min, max].
        if (h.maxNs > LatencyHistogram::MaxTrackableNs)
            return failWith(problem, QStringLiteral("a maximum past the histogram's range without overflow"));
        const quint64 mean = h.sumNs / storedCount;
        if (mean < h.minNs || mean > h.maxNs)
            return failWith(problem, QStringLiteral("a sum whose mean is not between the minimum and the maximum"));
    }
    return true;
}

bool validCpuPercent(double percent)
{
    return std::isfinite(percent) && percent >= 0 && percent <= 100.0 * 65536;
}

} // namespace perfdash::capturevalidation
