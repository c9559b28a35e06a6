// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/stackaggregate.h"

#include "profiler/symbolizer.h"

#include <algorithm>

namespace perfdash {

StackAggregate::StackAggregate()
{
    m_nodes.push_back({ 0, 0 });
}

std::uint32_t StackAggregate::add(const SampleKey& key, std::uint64_t timeNs, std::span<const std::uint64_t> pcs,
    std::vector<std::uint64_t>* fresh, std::uint64_t count)
{
    SampleKey counted = key;
    counted.node = intern(pcs, fresh);
    m_counts.add(counted, timeNs, count);
    return counted.node;
}

std::uint32_t StackAggregate::intern(std::span<const std::uint64_t> pcs, std::vector<std::uint64_t>* fresh)
{
    std::uint32_t node = 0;
    bool cut = false;
    for (std::uint64_t pc : pcs) {
        const Edge edge { pc, node };
        if (const auto it = m_children.find(edge); it != m_children.end()) {
            node = it->second;
            continue;
        }
        if (m_nodes.size() >= kMaxNodes) {
            cut = true;
            break;
        }
        const auto id = std::uint32_t(m_nodes.size());
        m_nodes.push_back({ pc, node });
        m_children.emplace(edge, id);
        node = id;
        if (m_seen.insert(pc).second)
            fresh->push_back(pc);
    }
    m_truncated += cut ? 1 : 0;
    return node;
}

void StackAggregate::addAttributed(const SampleKey& key, std::uint64_t timeNs, std::uint64_t count)
{
    m_attributed.add(key, timeNs, count);
}

std::vector<std::uint32_t> StackAggregate::contexts(int lastSeconds, std::uint64_t nowNs) const
{
    std::unordered_set<std::uint32_t> seen;
    const SampleCountMap counts = m_attributed.range(lastSeconds, nowNs);
    for (const auto& [key, count] : counts)
        seen.insert(key.context);
    std::vector<std::uint32_t> result(seen.begin(), seen.end());
    std::sort(result.begin(), result.end());
    return result;
}

void StackAggregate::resetNaming()
{
    m_named.clearTrie();
    m_memo.clear();
    m_placeholders.clear();
    m_placeholderIds.clear();
}

std::uint32_t StackAggregate::functionNode(std::uint32_t node, const Symbolizer& symbolizer)
{
    if (m_memo.size() < m_nodes.size())
        m_memo.resize(m_nodes.size(), kUnmapped);
    std::vector<std::uint32_t> chain; // address nodes up to the first one mapped (or the root)
    std::uint32_t at = node;
    while (at != 0 && m_memo[at] == kUnmapped) {
        chain.push_back(at);
        at = m_nodes[at].parent;
    }
    std::uint32_t function = at == 0 ? 0 : m_memo[at];
    bool named = true;
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        const std::uint64_t pc = m_nodes[*it].pc;
        const std::vector<std::uint32_t>* frames = symbolizer.framesOf(pc);
        std::uint32_t placeholder = 0;
        if (!frames) {
            named = false;
            auto [slot, inserted] = m_placeholderIds.try_emplace(pc, std::uint32_t(m_placeholders.size()));
            if (inserted)
                m_placeholders.push_back(pc);
            placeholder = kPlaceholder | slot->second;
        }
        const auto step = [&](std::uint32_t id) {
            std::uint32_t next = function;
            if (m_named.child(function, id, &next))
                function = next;
        };
        if (frames) {
            for (auto f = frames->rbegin(); f != frames->rend(); ++f) // innermost first: outermost first here
                step(*f);
        } else {
            step(placeholder);
        }
        if (named)
            m_memo[*it] = function;
    }
    return function;
}

ProfileSnapshot StackAggregate::snapshot(const ProfileQuery& query, std::uint64_t nowNs, const Symbolizer& symbolizer,
    const std::function<bool(std::uint32_t context)>& context)
{
    SampleCountMap counts = (context ? m_attributed : m_counts).range(query.lastSeconds, nowNs);
    if (context)
        std::erase_if(counts, [&](const auto& entry) { return !context(entry.first.context); });
    SampleCountMap named;
    std::vector<ProfileFunction> functions;
    {
        const auto lock = symbolizer.lock();
        // Placeholders from earlier snapshots pile up in the function trie: start again now and then.
        if (symbolizer.generation() != m_generation || m_placeholders.size() > 65536) {
            resetNaming();
            m_generation = symbolizer.generation();
        }
        for (const auto& [key, count] : counts) {
            SampleKey k = key;
            k.node = functionNode(key.node, symbolizer);
            named[k] += count;
        }
        functions = symbolizer.functions().all();
    }
    const auto placeholderBase = std::uint32_t(functions.size());
    for (std::uint64_t pc : m_placeholders)
        functions.push_back({ QStringLiteral("0x") + QString::number(pc, 16), {}, {}, false });
    ProfileSnapshot s = m_named.build(named, query, std::move(functions), m_threadNames);
    for (CallNode& node : s.nodes) {
        if (node.function & kPlaceholder)
            node.function = placeholderBase + (node.function & ~kPlaceholder);
    }
    s.stats.samples = m_counts.samples();
    s.stats.truncatedStacks = m_truncated;
    // Frames no module or JIT map names, counted per sample as they are in the view.
    for (std::uint32_t i = 1; i < s.nodes.size(); ++i) {
        if (s.nodes[i].function == FunctionTable::kUnknown)
            s.stats.unknownFrames += s.nodes[i].total;
    }
    return s;
}

std::size_t StackAggregate::memoryBytes() const
{
    return m_nodes.capacity() * sizeof(Node) + m_children.size() * 40 + m_seen.size() * 24 + m_counts.memoryBytes()
        + m_attributed.memoryBytes() + m_named.memoryBytes() + m_memo.capacity() * 4 + m_placeholders.size() * 40;
}

} // namespace perfdash
