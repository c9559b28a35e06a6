// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/calltree.h"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace perfdash {

QString foldedFrameName(const QString& name)
{
    QString safe = name;
    safe.replace(QLatin1Char(';'), QLatin1Char(':'));
    safe.replace(QLatin1Char('\n'), QLatin1Char(' '));
    safe.replace(QLatin1Char('\r'), QLatin1Char(' '));
    return safe;
}

std::uint64_t ProfileStats::unattributedTotal() const
{
    std::uint64_t total = 0;
    for (std::uint64_t n : unattributed)
        total += n;
    return total;
}

std::vector<FunctionCost> ProfileSnapshot::topFunctions(std::uint32_t root) const
{
    if (root >= nodes.size())
        root = 0;
    std::vector<FunctionCost> costs(functions.size());
    for (std::size_t i = 0; i < costs.size(); ++i)
        costs[i].function = std::uint32_t(i);
    std::vector<std::map<std::uint32_t, std::uint64_t>> callers(functions.size());
    visitOutermost(root, [&](const CallNode& node, bool outermost) {
        FunctionCost& cost = costs[node.function];
        cost.self += node.self;
        if (outermost) {
            cost.total += node.total;
            const std::uint32_t caller = node.parent == 0 ? std::uint32_t(-1) : nodes[node.parent].function;
            callers[node.function][caller] += node.total;
        }
    });
    std::vector<FunctionCost> result;
    for (FunctionCost& cost : costs) {
        if (cost.total == 0)
            continue;
        for (const auto& [caller, count] : callers[cost.function])
            cost.callers.emplace_back(caller, count);
        std::sort(
            cost.callers.begin(), cost.callers.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
        result.push_back(std::move(cost));
    }
    std::sort(result.begin(), result.end(), [](const FunctionCost& a, const FunctionCost& b) {
        return a.self != b.self ? a.self > b.self : a.total > b.total;
    });
    return result;
}

QStringList ProfileSnapshot::path(std::uint32_t node) const
{
    QStringList names;
    while (node != 0 && node < nodes.size()) {
        names.prepend(functions[nodes[node].function].name);
        node = nodes[node].parent;
    }
    return names;
}

QByteArray ProfileSnapshot::folded() const
{
    // Same names along different nodes (one name in two modules) make one line, as readers expect.
    std::map<QByteArray, std::uint64_t> lines;
    // "name (pid)": two processes of one name (two workers, the demo's two services) stay apart
    // in tools that merge lines by their stacks.
    QString processName
        = foldedFrameName(process.isEmpty() ? QString::number(pid) : QStringLiteral("%1 (%2)").arg(process).arg(pid));
    if (!operationFrames.isEmpty())
        processName += QLatin1Char(';') + operationFrames;
    for (std::uint32_t i = 1; i < nodes.size(); ++i) {
        if (nodes[i].self == 0)
            continue;
        QString line = processName;
        for (const QString& name : path(i))
            line += QLatin1Char(';') + foldedFrameName(name);
        lines[line.toUtf8()] += nodes[i].self;
    }
    QByteArray out;
    for (const auto& [stack, count] : lines)
        out += stack + ' ' + QByteArray::number(count) + '\n';
    return out;
}

} // namespace perfdash
