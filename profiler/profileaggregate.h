// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"
#include "profiler/samplecounts.h"

#include <QString>

#include <cstdint>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

namespace perfdash {

/**
 * Samples aggregated by function stack: stacks are interned in a trie (one node per distinct path
 * of functions), counts kept per (thread, context, node) per second for the last minute and for
 * the session (SampleCounts); raw samples are not kept. Memory grows with the number of distinct
 * stacks (bounded: past kMaxNodes a new stack is cut at its deepest known node and counted as
 * truncated), not with time. Also the function trie the live profiler names its address stacks
 * into (StackAggregate). Not thread-safe: the owner locks.
 */
class ProfileAggregate
{
public:
    ProfileAggregate();

    /// @p frames outermost first (function ids of a FunctionTable).
    void add(qint64 tid, std::uint64_t timeNs, std::span<const std::uint32_t> frames, std::uint64_t count = 1);
    void setThreadName(qint64 tid, const QString& name) { m_threadNames[tid] = name; }
    const std::map<qint64, QString>& threadNames() const { return m_threadNames; }

    /// The call tree for @p query at @p nowNs (CLOCK_MONOTONIC, as the samples' times).
    ProfileSnapshot snapshot(const ProfileQuery& query, std::uint64_t nowNs, const FunctionTable& functions) const;
    /// The call tree of @p counts, whose nodes are this trie's; @p functions is what they name.
    ProfileSnapshot build(const SampleCountMap& counts, const ProfileQuery& query,
        std::vector<ProfileFunction> functions, const std::map<qint64, QString>& threadNames) const;

    /// The node for @p function called from @p parent, made when new; false when the trie is full.
    bool child(std::uint32_t parent, std::uint32_t function, std::uint32_t* node);
    void clearTrie();

    std::size_t nodeCount() const { return m_nodes.size(); }
    std::uint64_t truncated() const { return m_truncated; }
    std::uint64_t samples() const { return m_counts.samples(); }
    /// Approximate heap bytes held (for the memory benchmark and the limits in docs/PROFILE.md).
    std::size_t memoryBytes() const;

    static constexpr std::size_t kMaxNodes = 1 << 20;
    static constexpr int kSecondsKept = SampleCounts::kSecondsKept;

private:
    struct Node
    {
        std::uint32_t parent;
        std::uint32_t function;
    };
    std::vector<Node> m_nodes; ///< [0] is the root
    std::unordered_map<std::uint64_t, std::uint32_t> m_children; ///< parent << 32 | function -> node
    SampleCounts m_counts;
    std::map<qint64, QString> m_threadNames;
    std::uint64_t m_truncated = 0;
};

} // namespace perfdash
