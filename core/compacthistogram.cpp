// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/compacthistogram.h"

#include <algorithm>
#include <cmath>

namespace perfdash {

CompactHistogram::CompactHistogram(const CompactHistogram& other)
    : m_sparse(other.m_sparse)
    , m_dense(other.m_dense ? std::make_unique<LatencyHistogram>(*other.m_dense) : nullptr)
    , m_count(other.m_count)
    , m_overflow(other.m_overflow)
    , m_sum(other.m_sum)
    , m_min(other.m_min)
    , m_max(other.m_max)
{
}

CompactHistogram& CompactHistogram::operator=(const CompactHistogram& other)
{
    if (this != &other)
        *this = CompactHistogram(other);
    return *this;
}

void CompactHistogram::makeDense()
{
    m_dense = std::make_unique<LatencyHistogram>();
    for (const auto& [index, c] : m_sparse)
        m_dense->addToBucket(index, c);
    m_dense->addScalars(m_count, m_sum, m_count ? m_min : 0, m_max, m_overflow);
    m_sparse = {};
}

void CompactHistogram::addToBucket(int index, quint64 count)
{
    if (count == 0)
        return;
    if (m_dense) {
        m_dense->addToBucket(index, count);
        return;
    }
    const auto it = std::lower_bound(m_sparse.begin(), m_sparse.end(), quint16(index),
        [](const std::pair<quint16, quint64>& e, quint16 i) { return e.first < i; });
    if (it != m_sparse.end() && it->first == index) {
        it->second += count;
        return;
    }
    if (m_sparse.size() >= DenseAt) {
        makeDense();
        m_dense->addToBucket(index, count);
        return;
    }
    m_sparse.insert(it, { quint16(index), count });
}

void CompactHistogram::addScalars(quint64 count, quint64 sumNs, quint64 minNs, quint64 maxNs, quint64 overflow) noexcept
{
    if (m_dense) {
        m_dense->addScalars(count, sumNs, minNs, maxNs, overflow);
        return;
    }
    if (count == 0)
        return;
    m_count += count;
    m_sum += sumNs;
    m_overflow += overflow;
    m_min = std::min(m_min, minNs);
    m_max = std::max(m_max, maxNs);
}

void CompactHistogram::recordMany(quint64 ns, quint64 count)
{
    if (count == 0)
        return;
    if (ns <= LatencyHistogram::MaxTrackableNs)
        addToBucket(LatencyHistogram::bucketIndex(ns), count);
    addScalars(count, ns * count, ns, ns, ns <= LatencyHistogram::MaxTrackableNs ? 0 : count);
}

void CompactHistogram::removeFromBucket(int index, quint64 count) noexcept
{
    if (m_dense) {
        m_dense->removeFromBucket(index, count);
        return;
    }
    const auto it = std::lower_bound(m_sparse.begin(), m_sparse.end(), quint16(index),
        [](const std::pair<quint16, quint64>& e, quint16 i) { return e.first < i; });
    Q_ASSERT(it != m_sparse.end() && it->first == index && it->second >= count);
    if (it == m_sparse.end() || it->first != index)
        return;
    it->second -= std::min(it->second, count);
    if (it->second == 0)
        m_sparse.erase(it);
}

void CompactHistogram::removeScalars(quint64 count, quint64 sumNs, quint64 overflow) noexcept
{
    if (m_dense) {
        m_dense->removeScalars(count, sumNs, overflow);
        return;
    }
    Q_ASSERT(count <= m_count && overflow <= m_overflow);
    m_count -= count;
    m_sum -= sumNs;
    m_overflow -= overflow;
    if (m_count == 0) {
        m_min = ~quint64(0);
        m_max = 0;
        m_sparse = {}; // a window that emptied gives its memory back
    }
}

void CompactHistogram::setBounds(quint64 minNs, quint64 maxNs) noexcept
{
    if (m_dense) {
        m_dense->setBounds(minNs, maxNs);
        return;
    }
    m_min = minNs;
    m_max = maxNs;
}

void CompactHistogram::add(const CompactHistogram& other)
{
    if (other.isEmpty())
        return;
    if (other.m_dense) {
        add(*other.m_dense);
        return;
    }
    for (const auto& [index, c] : other.m_sparse)
        addToBucket(index, c);
    addScalars(other.m_count, other.m_sum, other.minNs(), other.m_max, other.m_overflow);
}

void CompactHistogram::add(const LatencyHistogram& other)
{
    if (other.isEmpty())
        return;
    if (!m_dense) {
        std::size_t distinct = 0;
        for (int i = 0; i < LatencyHistogram::BucketCount && distinct <= DenseAt; ++i)
            distinct += other.countAt(i) != 0;
        if (distinct + m_sparse.size() > DenseAt)
            makeDense();
    }
    if (m_dense) {
        m_dense->add(other);
        return;
    }
    for (int i = 0; i < LatencyHistogram::BucketCount; ++i) {
        if (const quint64 c = other.countAt(i))
            addToBucket(i, c);
    }
    addScalars(other.count(), other.sumNs(), other.minNs(), other.maxNs(), other.overflowCount());
}

void CompactHistogram::addTo(LatencyHistogram& out) const noexcept
{
    if (m_dense) {
        out.add(*m_dense);
        return;
    }
    for (const auto& [index, c] : m_sparse)
        out.addToBucket(index, c);
    out.addScalars(m_count, m_sum, minNs(), m_max, m_overflow);
}

quint64 CompactHistogram::valueAtQuantile(double q) const noexcept
{
    if (m_dense)
        return m_dense->valueAtQuantile(q);
    // The same nearest-rank rule as LatencyHistogram::valueAtQuantile(), over the sparse buckets.
    if (m_count == 0)
        return 0;
    q = std::clamp(q, 0.0, 1.0);
    const auto rank = std::max<quint64>(1, quint64(std::ceil(q * double(m_count) - 1e-9)));
    if (rank == 1 && m_min <= LatencyHistogram::MaxTrackableNs)
        return m_min;
    if (rank >= m_count)
        return m_max;
    quint64 seen = 0;
    for (const auto& [index, c] : m_sparse) {
        seen += c;
        if (seen >= rank) {
            const quint64 mid = LatencyHistogram::bucketLowerBound(index) + LatencyHistogram::bucketWidth(index) / 2;
            return std::clamp(mid, minNs(), m_max);
        }
    }
    return m_max;
}

std::size_t CompactHistogram::memoryBytes() const noexcept
{
    return sizeof(*this) + m_sparse.capacity() * sizeof(m_sparse[0]) + (m_dense ? sizeof(LatencyHistogram) : 0);
}

} // namespace perfdash
