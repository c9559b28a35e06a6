// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>

namespace perfdash {

/**
 * What a sample is counted under: its thread, the context it ran in, and its stack (a node of a
 * stack trie). The context is 0 for plain CPU samples; a stage that knows what ran on a thread at
 * an instant (the operations active there) gives each such context an id of its own, and the
 * profile is then kept per (context, stack) with nothing else changed.
 */
struct SampleKey
{
    std::uint32_t tid = 0;
    std::uint32_t context = 0;
    std::uint32_t node = 0;
    bool operator==(const SampleKey&) const = default;
};

struct SampleKeyHash
{
    std::size_t operator()(const SampleKey& k) const noexcept
    {
        const std::uint64_t a = (std::uint64_t(k.tid) << 32) | k.node;
        return std::hash<std::uint64_t>()(a * 0x9E3779B97F4A7C15ull ^ k.context);
    }
};

using SampleCountMap = std::unordered_map<SampleKey, std::uint64_t, SampleKeyHash>;

/**
 * Sample counts per key for each of the last kSecondsKept seconds and for the session: the "last
 * 10 s", "last minute" and "session" views. Memory grows with the number of distinct keys, not
 * with time. Not thread-safe.
 */
class SampleCounts
{
public:
    static constexpr int kSecondsKept = 60;

    void add(const SampleKey& key, std::uint64_t timeNs, std::uint64_t count = 1);
    /// Counts over the seconds within @p lastSeconds of @p nowNs (CLOCK_MONOTONIC); 0: the session.
    SampleCountMap range(int lastSeconds, std::uint64_t nowNs) const;
    const SampleCountMap& session() const { return m_session; }
    std::uint64_t samples() const { return m_samples; }
    std::size_t memoryBytes() const;

private:
    struct Second
    {
        std::uint64_t second = 0;
        SampleCountMap counts;
    };
    std::deque<Second> m_seconds; ///< oldest first, at most kSecondsKept
    SampleCountMap m_session;
    std::uint64_t m_samples = 0;
};

} // namespace perfdash
