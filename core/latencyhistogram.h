// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QtGlobal>

#include <array>
#include <bit>
#include <cstdint>
#include <utility>
#include <vector>

namespace perfdash {

/**
 * Log-linear (HdrHistogram-style) histogram of durations in nanoseconds.
 *
 * Layout: values 0..127 ns have one bucket each (exact). Above that, every power of two
 * [2^m, 2^(m+1)) is split into 64 equal buckets, so a bucket is at most 1/64 of its lower bound
 * wide and the bucket's midpoint is within 1/128 (0.78%) of any value in it. The last bucket ends
 * at 2^45 ns (9.77 hours); longer durations are counted in an overflow bucket (overflowCount()),
 * and count, sum, min and max still include them exactly. The sum wraps after 584 years of time.
 *
 * Memory is fixed: BucketCount (2560) 64-bit counters plus five scalars, sizeof == 20,520 bytes.
 * record() is a count-leading-zeros, a shift and an add: no allocation, no search, no lock.
 * Histograms add and subtract bucket by bucket, which is what sliding windows are made of.
 */
class LatencyHistogram final
{
public:
    static constexpr int LinearBits = 7; // 128 exact buckets below 128 ns
    static constexpr int SubBucketBits = 6; // 64 buckets per power of two above
    static constexpr int MaxExponent = 45; // trackable values are < 2^45 ns (9.77 hours)
    static constexpr quint64 MaxTrackableNs = (quint64(1) << MaxExponent) - 1;
    static constexpr int BucketCount = (1 << LinearBits) + ((MaxExponent - LinearBits) << SubBucketBits);

    LatencyHistogram() = default;

    static constexpr int bucketIndex(quint64 ns) noexcept
    {
        if (ns < (quint64(1) << LinearBits))
            return int(ns);
        const int msb = 63 - std::countl_zero(ns);
        const int shift = msb - SubBucketBits;
        return ((shift) << SubBucketBits) + int(ns >> shift);
    }
    /// Smallest value that falls into bucket @p index.
    static constexpr quint64 bucketLowerBound(int index) noexcept
    {
        if (index < (1 << LinearBits))
            return quint64(index);
        const int shift = (index >> SubBucketBits) - 1;
        const quint64 mantissa = quint64(index & ((1 << SubBucketBits) - 1)) + (quint64(1) << SubBucketBits);
        return mantissa << shift;
    }
    /// Number of distinct values in bucket @p index.
    static constexpr quint64 bucketWidth(int index) noexcept
    {
        return index < (1 << LinearBits) ? 1 : quint64(1) << ((index >> SubBucketBits) - 1);
    }

    void record(quint64 ns) noexcept { recordMany(ns, 1); }
    void recordMany(quint64 ns, quint64 count) noexcept
    {
        if (count == 0)
            return;
        if (ns <= MaxTrackableNs)
            m_counts[std::size_t(bucketIndex(ns))] += count;
        else
            m_overflow += count;
        m_count += count;
        m_sum += ns * count;
        m_min = ns < m_min ? ns : m_min;
        m_max = ns > m_max ? ns : m_max;
    }
    /// Adds @p count values known only by their bucket (used to rebuild from sparse form).
    void addToBucket(int index, quint64 count) noexcept { m_counts[std::size_t(index)] += count; }
    /// Sets the exact scalars that addToBucket() cannot know.
    void addScalars(quint64 count, quint64 sumNs, quint64 minNs, quint64 maxNs, quint64 overflow) noexcept;

    /// Undoes addToBucket() and addScalars() for count, sum and overflow. Min and max are left
    /// alone: a caller that removes parts tracks the bounds itself and sets them with setBounds().
    void removeFromBucket(int index, quint64 count) noexcept
    {
        Q_ASSERT(m_counts[std::size_t(index)] >= count);
        m_counts[std::size_t(index)] -= count;
    }
    void removeScalars(quint64 count, quint64 sumNs, quint64 overflow) noexcept;
    void setBounds(quint64 minNs, quint64 maxNs) noexcept
    {
        m_min = minNs;
        m_max = maxNs;
    }

    void add(const LatencyHistogram& other) noexcept;
    /// Removes @p other, which must have been added before. Min and max cannot be un-merged:
    /// afterwards they are the bounds of the lowest and highest non-empty buckets.
    void subtract(const LatencyHistogram& other) noexcept;
    void reset() noexcept { *this = LatencyHistogram(); }

    quint64 count() const noexcept { return m_count; }
    bool isEmpty() const noexcept { return m_count == 0; }
    quint64 overflowCount() const noexcept { return m_overflow; }
    quint64 sumNs() const noexcept { return m_sum; }
    quint64 minNs() const noexcept { return m_count ? m_min : 0; }
    quint64 maxNs() const noexcept { return m_max; }
    double meanNs() const noexcept { return m_count ? double(m_sum) / double(m_count) : 0.0; }
    quint64 countAt(int index) const noexcept { return m_counts[std::size_t(index)]; }

    /// Nearest-rank quantile: the value of rank ceil(q * count), q in [0, 1], estimated by the
    /// midpoint of its bucket and clamped to [min, max]. 0 for an empty histogram.
    quint64 valueAtQuantile(double q) const noexcept;

    bool operator==(const LatencyHistogram& other) const noexcept = default;

private:
    void recomputeBounds() noexcept;

    std::array<quint64, BucketCount> m_counts {};
    quint64 m_count = 0;
    quint64 m_overflow = 0;
    quint64 m_sum = 0;
    quint64 m_min = ~quint64(0);
    quint64 m_max = 0;
};

/// A histogram in transit: only the non-empty buckets, plus the exact scalars. This is what an
/// instrumented client sends for each interval.
struct SparseHistogram
{
    std::vector<std::pair<quint16, quint32>> buckets; ///< (bucket index, count); an index may repeat
    quint64 count = 0; ///< sum of the bucket counts plus overflow
    quint64 sumNs = 0;
    quint64 minNs = 0;
    quint64 maxNs = 0;
    quint64 overflow = 0;
    /// Placed from a sender's bucket bounds (OTLP histogram metrics): the operation's statistics
    /// say so (OperationStats::fromSenderBuckets).
    bool fromSenderBuckets = false;

    void addTo(LatencyHistogram& h) const noexcept
    {
        for (const auto& [index, c] : buckets)
            h.addToBucket(index, c);
        h.addScalars(count, sumNs, minNs, maxNs, overflow);
    }
};

static_assert(LatencyHistogram::BucketCount == 2560);
static_assert(sizeof(LatencyHistogram) == 20520);
static_assert(LatencyHistogram::bucketIndex(LatencyHistogram::MaxTrackableNs) == LatencyHistogram::BucketCount - 1);
static_assert(LatencyHistogram::bucketIndex(128) == 128);
static_assert(LatencyHistogram::bucketLowerBound(128) == 128 && LatencyHistogram::bucketWidth(128) == 2);

} // namespace perfdash
