// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/latencyhistogram.h"

#include <memory>
#include <vector>

namespace perfdash {

/**
 * A LatencyHistogram that costs what it holds: up to DenseAt distinct buckets it keeps only the
 * non-empty ones (sorted by index, 16 bytes each), past that it switches to the dense 20.5 KB form
 * for good (until reset()). Same buckets, same exact scalars, same quantiles as LatencyHistogram,
 * so an operation that saw a handful of events costs a few hundred bytes, not five dense
 * histograms (134 KB with the ring); a busy one costs what it did. Not thread-safe.
 */
class CompactHistogram final
{
public:
    /// 256 sparse entries are 4 KB, a fifth of the dense form; beyond, merging is faster dense.
    static constexpr std::size_t DenseAt = 256;

    CompactHistogram() = default;
    CompactHistogram(const CompactHistogram& other);
    CompactHistogram& operator=(const CompactHistogram& other);
    CompactHistogram(CompactHistogram&&) noexcept = default;
    CompactHistogram& operator=(CompactHistogram&&) noexcept = default;

    void record(quint64 ns) noexcept { recordMany(ns, 1); }
    void recordMany(quint64 ns, quint64 count);
    void addToBucket(int index, quint64 count);
    void addScalars(quint64 count, quint64 sumNs, quint64 minNs, quint64 maxNs, quint64 overflow) noexcept;
    void removeFromBucket(int index, quint64 count) noexcept;
    void removeScalars(quint64 count, quint64 sumNs, quint64 overflow) noexcept;
    void setBounds(quint64 minNs, quint64 maxNs) noexcept;
    void add(const CompactHistogram& other);
    void add(const LatencyHistogram& other);
    void reset() noexcept { *this = CompactHistogram(); }

    /// Adds everything, buckets and exact scalars, to @p out.
    void addTo(LatencyHistogram& out) const noexcept;
    /// Calls @p visit(index, count) for each non-empty bucket, lowest first.
    template <typename F> void forEachBucket(F&& visit) const
    {
        if (m_dense) {
            for (int i = 0; i < LatencyHistogram::BucketCount; ++i) {
                if (const quint64 c = m_dense->countAt(i))
                    visit(i, c);
            }
            return;
        }
        for (const auto& [index, c] : m_sparse)
            visit(int(index), c);
    }

    quint64 count() const noexcept { return m_dense ? m_dense->count() : m_count; }
    bool isEmpty() const noexcept { return count() == 0; }
    quint64 sumNs() const noexcept { return m_dense ? m_dense->sumNs() : m_sum; }
    quint64 minNs() const noexcept { return m_dense ? m_dense->minNs() : (m_count ? m_min : 0); }
    quint64 maxNs() const noexcept { return m_dense ? m_dense->maxNs() : m_max; }
    quint64 overflowCount() const noexcept { return m_dense ? m_dense->overflowCount() : m_overflow; }
    bool isDense() const noexcept { return m_dense != nullptr; }
    /// As LatencyHistogram::valueAtQuantile(), on the same buckets.
    quint64 valueAtQuantile(double q) const noexcept;
    std::size_t memoryBytes() const noexcept;

private:
    void makeDense();

    std::vector<std::pair<quint16, quint64>> m_sparse; // sorted by index, no zero counts
    std::unique_ptr<LatencyHistogram> m_dense;
    quint64 m_count = 0;
    quint64 m_overflow = 0;
    quint64 m_sum = 0;
    quint64 m_min = ~quint64(0);
    quint64 m_max = 0;
};

} // namespace perfdash
