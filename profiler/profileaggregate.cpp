// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/profileaggregate.h"

#include <algorithm>

namespace perfdash {

ProfileAggregate::ProfileAggregate()
{
    m_nodes.push_back({ 0, 0 });
}

bool ProfileAggregate::child(std::uint32_t parent, std::uint32_t function, std::uint32_t* node)
{
    const std::uint64_t edge = (std::uint64_t(parent) << 32) | function;
    if (const auto it = m_children.find(edge); it != m_children.end()) {
        *node = it->second;
        return true;
    }
    if (m_nodes.size() >= kMaxNodes)
        return false;
    const auto id = std::uint32_t(m_nodes.size());
    m_nodes.push_back({ parent, function });
    m_children.emplace(edge, id);
    *node = id;
    return true;
}

void ProfileAggregate::clearTrie()
{
    m_nodes.resize(1);
    m_children.clear();
}

void ProfileAggregate::add(qint64 tid, std::uint64_t timeNs, std::span<const std::uint32_t> frames, std::uint64_t count)
{
    std::uint32_t node = 0;
    bool cut = false;
    for (std::uint32_t function : frames) {
        if (!child(node, function, &node)) {
            cut = true;
            break;
        }
    }
    m_truncated += cut ? count : 0;
    m_counts.add({ std::uint32_t(tid), 0, node }, timeNs, count);
}

ProfileSnapshot ProfileAggregate::snapshot(
    const ProfileQuery& query, std::uint64_t nowNs, const FunctionTable& functions) const
{
    ProfileSnapshot s = build(m_counts.range(query.lastSeconds, nowNs), query, functions.all(), m_threadNames);
    s.stats.samples = m_counts.samples();
    s.stats.truncatedStacks = m_truncated;
    return s;
}

ProfileSnapshot ProfileAggregate::build(const SampleCountMap& counts, const ProfileQuery& query,
    std::vector<ProfileFunction> functions, const std::map<qint64, QString>& threadNames) const
{
    ProfileSnapshot snapshot;
    snapshot.query = query;
    snapshot.functions = std::move(functions);
    std::map<qint64, std::uint64_t> perThread;
    for (const auto& [tid, name] : threadNames)
        perThread[tid];
    // Only the nodes on counted paths are copied: a snapshot is as large as what it shows.
    std::unordered_map<std::uint32_t, std::uint32_t> copied { { 0, 0 } };
    snapshot.nodes.push_back({});
    std::vector<std::uint32_t> chain;
    for (const auto& [key, count] : counts) {
        const qint64 tid = qint64(key.tid);
        perThread[tid] += count;
        if (query.tid != 0 && tid != query.tid)
            continue;
        chain.clear();
        for (std::uint32_t node = key.node; node != 0 && !copied.count(node); node = m_nodes[node].parent)
            chain.push_back(node);
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
            const std::uint32_t parent = copied.at(m_nodes[*it].parent);
            const auto id = std::uint32_t(snapshot.nodes.size());
            CallNode node;
            node.function = m_nodes[*it].function;
            node.parent = parent;
            snapshot.nodes.push_back(std::move(node));
            snapshot.nodes[parent].children.push_back(id);
            copied.emplace(*it, id);
        }
        std::uint32_t at = copied.at(key.node);
        snapshot.nodes[at].self += count;
        for (;;) {
            snapshot.nodes[at].total += count;
            if (at == 0)
                break;
            at = snapshot.nodes[at].parent;
        }
    }
    for (CallNode& node : snapshot.nodes) {
        std::sort(node.children.begin(), node.children.end(), [&](std::uint32_t a, std::uint32_t b) {
            const CallNode& x = snapshot.nodes[a];
            const CallNode& y = snapshot.nodes[b];
            return x.total != y.total ? x.total > y.total : x.function < y.function;
        });
    }
    for (const auto& [tid, samples] : perThread) {
        const auto name = threadNames.find(tid);
        snapshot.threads.push_back({ tid, name != threadNames.end() ? name->second : QString(), samples });
    }
    return snapshot;
}

std::size_t ProfileAggregate::memoryBytes() const
{
    return m_nodes.capacity() * sizeof(Node) + m_children.size() * 32 + m_counts.memoryBytes();
}

} // namespace perfdash
