// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"
#include "profiler/profileaggregate.h"
#include "profiler/samplecounts.h"

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace perfdash {

class Symbolizer;

/**
 * A live profile aggregated by address: each sample's stack of addresses (as unwound, before any
 * name is known) is interned in a trie, and counted under its SampleKey (thread, context, node)
 * per second (SampleCounts). Adding a sample costs the same whatever the binary's size; only
 * addresses never seen before are handed to the Symbolizer, once each. Names are applied when a
 * snapshot is built: each address node is mapped once to a node of a function trie
 * (ProfileAggregate), and that mapping is kept until a name changes (Symbolizer::generation()).
 * Bounded as ProfileAggregate is: past kMaxNodes, a new stack is cut at its deepest known node.
 * Not thread-safe: the owner locks.
 */
class StackAggregate
{
public:
    StackAggregate();

    /// @p pcs outermost first. Appends to @p fresh the addresses this aggregate had never seen.
    /// Counts @p count (a sample: 1; an off-CPU interval: its microseconds) under the stack's node,
    /// which it returns (for addAttributed()).
    std::uint32_t add(const SampleKey& key, std::uint64_t timeNs, std::span<const std::uint64_t> pcs,
        std::vector<std::uint64_t>* fresh, std::uint64_t count = 1);
    /// The node of @p pcs, made when new (add() without counting: an off-CPU stack whose interval
    /// is counted when it ends).
    std::uint32_t intern(std::span<const std::uint64_t> pcs, std::vector<std::uint64_t>* fresh);
    /// Counts @p count under @p key (its node from intern()).
    void count(const SampleKey& key, std::uint64_t timeNs, std::uint64_t count) { m_counts.add(key, timeNs, count); }
    /// Counts @p count again under @p key (its node from add(), its context the operations it ran
    /// in), apart from the process's counts: the per-operation profiles.
    void addAttributed(const SampleKey& key, std::uint64_t timeNs, std::uint64_t count);
    /// The contexts met among the attributed counts over @p lastSeconds of @p nowNs (0: the session).
    std::vector<std::uint32_t> contexts(int lastSeconds, std::uint64_t nowNs) const;
    void setThreadName(qint64 tid, const QString& name) { m_threadNames[tid] = name; }

    /// The call tree for @p query at @p nowNs, named by @p symbolizer (addresses it has not named
    /// yet show as their hex address). With @p context, only the attributed counts whose context
    /// it accepts (@p query's operation fields are the caller's to turn into it).
    ProfileSnapshot snapshot(const ProfileQuery& query, std::uint64_t nowNs, const Symbolizer& symbolizer,
        const std::function<bool(std::uint32_t context)>& context = {});

    /// The address of stack node @p node (0 for the root) and its caller's node: a node's stack
    /// read leaf first (the pprof export).
    std::uint64_t pcOf(std::uint32_t node) const { return m_nodes[node].pc; }
    std::uint32_t parentOf(std::uint32_t node) const { return m_nodes[node].parent; }
    /// The session's counts, and the same samples again by the contexts they were attributed to.
    const SampleCountMap& sessionCounts() const { return m_counts.session(); }
    const SampleCountMap& sessionAttributed() const { return m_attributed.session(); }
    const std::map<qint64, QString>& threadNames() const { return m_threadNames; }

    std::uint64_t samples() const { return m_counts.samples(); }
    std::uint64_t truncated() const { return m_truncated; }
    std::size_t nodeCount() const { return m_nodes.size(); }
    std::size_t addressCount() const { return m_seen.size(); }
    std::size_t memoryBytes() const;

    static constexpr std::size_t kMaxNodes = ProfileAggregate::kMaxNodes;

private:
    struct Node
    {
        std::uint64_t pc;
        std::uint32_t parent;
    };
    struct Edge
    {
        std::uint64_t pc;
        std::uint32_t parent;
        bool operator==(const Edge&) const = default;
    };
    struct EdgeHash
    {
        std::size_t operator()(const Edge& e) const noexcept
        {
            return std::hash<std::uint64_t>()(e.pc * 0x9E3779B97F4A7C15ull ^ e.parent);
        }
    };
    static constexpr std::uint32_t kUnmapped = ~std::uint32_t(0);
    static constexpr std::uint32_t kPlaceholder = 0x80000000u; ///< a function id bit: an address not named yet
    /// The function-trie node of address node @p node (the symbolizer's lock held). Paths through
    /// an address not named yet get a placeholder frame and are not kept in the mapping.
    std::uint32_t functionNode(std::uint32_t node, const Symbolizer& symbolizer);
    void resetNaming();

    std::vector<Node> m_nodes; ///< [0] is the root
    std::unordered_map<Edge, std::uint32_t, EdgeHash> m_children;
    std::unordered_set<std::uint64_t> m_seen; ///< every address met
    SampleCounts m_counts;
    SampleCounts m_attributed; ///< the same samples again, by the operations they ran in
    std::map<qint64, QString> m_threadNames;
    std::uint64_t m_truncated = 0;

    ProfileAggregate m_named; ///< the function trie the address nodes are mapped into
    std::vector<std::uint32_t> m_memo; ///< address node -> function node, kUnmapped when not mapped
    std::vector<std::uint64_t> m_placeholders; ///< addresses shown before they were named
    std::unordered_map<std::uint64_t, std::uint32_t> m_placeholderIds;
    std::uint64_t m_generation = ~std::uint64_t(0); ///< the Symbolizer's, when m_memo was made
};

} // namespace perfdash
