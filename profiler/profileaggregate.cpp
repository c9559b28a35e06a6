// SPDX-License-Identifier: GPL-3.0-or-later
#include "profileaggregate.h"

#include <algorithm>

namespace perfdash {

ProfileAggregate::ProfileAggregate()
{
    m_nodes.push_back({ 0, 0 });
}

void ProfileAggregate::add(qint64 tid, std::uint64_t timeNs, std::span<const std::uint32_t> frames, std::uint64_t count)
{
    std::uint32_t node = 0;
    bool cut = false;
    for (std::uint32_t function : frames) {
        const std::uint64_t edge = (std::uint64_t(node) << 32) | function;
        const auto it = m_children.find(edge);
        if (it != m_children.end()) {
            node = it->second;
            continue;
        }
        if (m_nodes.size() >= kMaxNodes) {
            cut = true;
            break;
        }
        const auto id = std::uint32_t(m_nodes.size());
        m_nodes.push_back({ node, function });
        m_children.emplace(edge, id);
        node = id;
    }
    m_truncated += cut ? count : 0;
    m_samples += count;
    const Key key = (std::uint64_t(std::uint32_t(tid)) << 32) | node;
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

ProfileSnapshot ProfileAggregate::snapshot(const ProfileQuery& query, std::uint64_t nowNs, const FunctionTable& functions) const
{
    ProfileSnapshot snapshot;
    snapshot.query = query;
    snapshot.functions = functions.all();
    std::unordered_map<Key, std::uint64_t> range;
    const std::unordered_map<Key, std::uint64_t>* counts = &m_session;
    if (query.lastSeconds > 0) {
        const std::uint64_t now = nowNs / 1'000'000'000ull;
        for (const Second& s : m_seconds) {
            if (s.second + std::uint64_t(query.lastSeconds) > now) {
                for (const auto& [key, count] : s.counts)
                    range[key] += count;
            }
        }
        counts = &range;
    }
    std::map<qint64, std::uint64_t> perThread;
    for (const auto& [tid, name] : m_threadNames)
        perThread[tid];
    // Only the nodes on counted paths are copied: a snapshot is as large as what it shows.
    std::unordered_map<std::uint32_t, std::uint32_t> copied { { 0, 0 } };
    snapshot.nodes.push_back({});
    std::vector<std::uint32_t> chain;
    for (const auto& [key, count] : *counts) {
        const qint64 tid = qint64(key >> 32);
        perThread[tid] += count;
        if (query.tid != 0 && tid != query.tid)
            continue;
        chain.clear();
        for (std::uint32_t node = std::uint32_t(key); node != 0 && !copied.count(node); node = m_nodes[node].parent)
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
        std::uint32_t at = copied.at(std::uint32_t(key));
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
        const auto name = m_threadNames.find(tid);
        snapshot.threads.push_back({ tid, name != m_threadNames.end() ? name->second : QString(), samples });
    }
    snapshot.stats.samples = m_samples;
    snapshot.stats.truncatedStacks = m_truncated;
    return snapshot;
}

std::size_t ProfileAggregate::memoryBytes() const
{
    // Hash nodes cost about a key, a value, a next pointer and a bucket pointer each.
    std::size_t bytes = m_nodes.capacity() * sizeof(Node) + m_children.size() * 32 + m_session.size() * 40;
    for (const Second& s : m_seconds)
        bytes += s.counts.size() * 40 + sizeof(Second);
    return bytes;
}

} // namespace perfdash
