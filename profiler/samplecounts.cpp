// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/samplecounts.h"

#include <algorithm>

namespace perfdash {

void SampleCounts::add(const SampleKey& key, std::uint64_t timeNs, std::uint64_t count)
{
    m_samples += count;
    m_session[key] += count;
    const std::uint64_t second = timeNs / 1'000'000'000ull;
    if (m_seconds.empty() || m_seconds.back().second < second) {
        m_seconds.push_back({ second, {} });
        while (m_seconds.size() > std::size_t(kSecondsKept)
            || (m_seconds.size() > 1 && m_seconds.front().second + kSecondsKept <= second))
            m_seconds.pop_front();
    }
    // A late sample from another CPU's buffer goes into its own second when that is still kept.
    auto slot = std::find_if(m_seconds.rbegin(), m_seconds.rend(), [&](const Second& s) { return s.second <= second; });
    if (slot != m_seconds.rend() && slot->second == second)
        slot->counts[key] += count;
}

SampleCountMap SampleCounts::range(int lastSeconds, std::uint64_t nowNs) const
{
    if (lastSeconds <= 0)
        return m_session;
    SampleCountMap counts;
    const std::uint64_t now = nowNs / 1'000'000'000ull;
    for (const Second& s : m_seconds) {
        if (s.second + std::uint64_t(lastSeconds) > now) {
            for (const auto& [key, count] : s.counts)
                counts[key] += count;
        }
    }
    return counts;
}

std::size_t SampleCounts::memoryBytes() const
{
    // Hash nodes cost about a key, a value, a next pointer and a bucket pointer each.
    std::size_t bytes = m_session.size() * 48;
    for (const Second& s : m_seconds)
        bytes += s.counts.size() * 48 + sizeof(Second);
    return bytes;
}

} // namespace perfdash
