// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/latencyhistogram.h"

#include <algorithm>
#include <cmath>

namespace perfdash {

void LatencyHistogram::addScalars(quint64 count, quint64 sumNs, quint64 minNs, quint64 maxNs, quint64 overflow) noexcept
{
    if (count == 0)
        return;
    m_count += count;
    m_sum += sumNs;
    m_overflow += overflow;
    m_min = std::min(m_min, minNs);
    m_max = std::max(m_max, maxNs);
}

void LatencyHistogram::removeScalars(quint64 count, quint64 sumNs, quint64 overflow) noexcept
{
    Q_ASSERT(count <= m_count && overflow <= m_overflow);
    m_count -= count;
    m_sum -= sumNs;
    m_overflow -= overflow;
    if (m_count == 0) {
        m_min = ~quint64(0);
        m_max = 0;
    }
}

void LatencyHistogram::add(const LatencyHistogram& other) noexcept
{
    if (other.m_count == 0)
        return;
    for (std::size_t i = 0; i < m_counts.size(); ++i)
        m_counts[i] += other.m_counts[i];
    addScalars(other.m_count, other.m_sum, other.m_min, other.m_max, other.m_overflow);
}

void LatencyHistogram::subtract(const LatencyHistogram& other) noexcept
{
    if (other.m_count == 0)
        return;
    Q_ASSERT(other.m_count <= m_count);
    for (std::size_t i = 0; i < m_counts.size(); ++i) {
        Q_ASSERT(other.m_counts[i] <= m_counts[i]);
        m_counts[i] -= other.m_counts[i];
    }
    m_count -= other.m_count;
    m_sum -= other.m_sum;
    m_overflow -= other.m_overflow;
    recomputeBounds();
}

void LatencyHistogram::recomputeBounds() noexcept
{
    if (m_count == 0) {
        m_min = ~quint64(0);
        m_max = 0;
        return;
    }
    if (m_overflow == 0) {
        int top = BucketCount - 1;
        while (top > 0 && m_counts[std::size_t(top)] == 0)
            --top;
        m_max = bucketLowerBound(top) + bucketWidth(top) - 1;
    }
    // With overflow left, the old maximum is the best bound there is.
    int bottom = 0;
    while (bottom < BucketCount && m_counts[std::size_t(bottom)] == 0)
        ++bottom;
    m_min = bottom < BucketCount ? bucketLowerBound(bottom) : MaxTrackableNs + 1;
}

quint64 LatencyHistogram::valueAtQuantile(double q) const noexcept
{
    if (m_count == 0)
        return 0;
    q = std::clamp(q, 0.0, 1.0);
    // Nearest rank, 1-based; the small epsilon keeps 0.95 * 100 from becoming rank 96.
    const auto rank = std::max<quint64>(1, quint64(std::ceil(q * double(m_count) - 1e-9)));
    if (rank == 1 && m_min <= MaxTrackableNs)
        return m_min;
    if (rank >= m_count)
        return m_max;
    quint64 seen = 0;
    for (int i = 0; i < BucketCount; ++i) {
        seen += m_counts[std::size_t(i)];
        if (seen >= rank) {
            const quint64 mid = bucketLowerBound(i) + bucketWidth(i) / 2;
            return std::clamp(mid, minNs(), m_max);
        }
    }
    return m_max; // the rank lies in the overflow bucket
}

} // namespace perfdash
