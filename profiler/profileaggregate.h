// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"

#include <QString>

#include <cstdint>
#include <deque>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

namespace perfdash {

/**
 * The samples of one process, aggregated as they come: stacks are interned in a trie (one node
 * per distinct path), counts are kept per second for the last minute (the "last 10 s" and "1 min"
 * views) and for the whole session; raw samples are not kept. Memory grows with the number of
 * distinct stacks (bounded: past kMaxNodes a new stack is cut at its deepest known node and
 * counted as truncated), not with time. Not thread-safe: the owner locks.
 */
class ProfileAggregate
{
public:
    ProfileAggregate();

    /// @p frames outermost first (function ids of @p functions).
    void add(qint64 tid, std::uint64_t timeNs, std::span<const std::uint32_t> frames, std::uint64_t count = 1);
    void setThreadName(qint64 tid, const QString& name) { m_threadNames[tid] = name; }

    /// The call tree for @p query at @p nowNs (CLOCK_MONOTONIC, as the samples' times).
    ProfileSnapshot snapshot(const ProfileQuery& query, std::uint64_t nowNs, const FunctionTable& functions) const;

    std::size_t nodeCount() const { return m_nodes.size(); }
    std::uint64_t truncated() const { return m_truncated; }
    std::uint64_t samples() const { return m_samples; }
    /// Approximate heap bytes held (for the memory benchmark and the limits in docs/PROFILE.md).
    std::size_t memoryBytes() const;

    static constexpr std::size_t kMaxNodes = 1 << 20;
    static constexpr int kSecondsKept = 60;

private:
    struct Node {
        std::uint32_t parent;
        std::uint32_t function;
    };
    using Key = std::uint64_t; ///< tid << 32 | node
    struct Second {
        std::uint64_t second = 0;
        std::unordered_map<Key, std::uint64_t> counts;
    };
    std::vector<Node> m_nodes; ///< [0] is the root
    std::unordered_map<std::uint64_t, std::uint32_t> m_children; ///< parent << 32 | function -> node
    std::deque<Second> m_seconds; ///< oldest first, at most kSecondsKept
    std::unordered_map<Key, std::uint64_t> m_session;
    std::map<qint64, QString> m_threadNames;
    std::uint64_t m_truncated = 0;
    std::uint64_t m_samples = 0;
};

} // namespace perfdash
