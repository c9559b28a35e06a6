// SPDX-License-Identifier: GPL-3.0-or-later
#include "models/profiletrees.h"

#include <algorithm>
#include <unordered_map>

namespace perfdash {

namespace {

std::uint64_t key(std::uint32_t parent, std::uint32_t function)
{
    return (std::uint64_t(parent) << 32) | function;
}

/// Builds a tree of nodes by (parent, function): one child per function under each node.
template <typename Node> class Builder
{
public:
    explicit Builder(std::vector<Node>& nodes)
        : m_nodes(nodes)
    {
        if (m_nodes.empty())
            m_nodes.emplace_back();
    }
    std::uint32_t child(std::uint32_t parent, std::uint32_t function)
    {
        const auto [it, added] = m_index.try_emplace(key(parent, function), std::uint32_t(m_nodes.size()));
        if (added) {
            Node node;
            node.function = function;
            node.parent = parent;
            m_nodes.push_back(std::move(node));
            m_nodes[parent].children.push_back(it->second);
        }
        return it->second;
    }

private:
    std::vector<Node>& m_nodes;
    std::unordered_map<std::uint64_t, std::uint32_t> m_index;
};

/// Children by total, largest first, then by name: the order every view shows.
template <typename Node> void sortChildren(std::vector<Node>& nodes, const std::vector<ProfileFunction>& functions)
{
    for (Node& node : nodes) {
        std::sort(node.children.begin(), node.children.end(), [&](std::uint32_t a, std::uint32_t b) {
            if (nodes[a].total != nodes[b].total)
                return nodes[a].total > nodes[b].total;
            return functions[nodes[a].function].name < functions[nodes[b].function].name;
        });
    }
}

/// Visits @p snapshot's nodes parents first; @p visit(node) returns whether to go into its children.
template <typename Visit> void preOrder(const ProfileSnapshot& snapshot, Visit visit)
{
    if (snapshot.nodes.empty())
        return;
    std::vector<std::uint32_t> todo(snapshot.nodes[0].children.rbegin(), snapshot.nodes[0].children.rend());
    while (!todo.empty()) {
        const std::uint32_t node = todo.back();
        todo.pop_back();
        if (visit(node))
            todo.insert(todo.end(), snapshot.nodes[node].children.rbegin(), snapshot.nodes[node].children.rend());
    }
}

ProfileSnapshot withNodes(const ProfileSnapshot& snapshot, std::vector<CallNode> nodes)
{
    ProfileSnapshot out;
    out.pid = snapshot.pid;
    out.process = snapshot.process;
    out.query = snapshot.query;
    out.functions = snapshot.functions;
    out.threads = snapshot.threads;
    out.stats = snapshot.stats;
    out.offCpu = snapshot.offCpu;
    out.unit = snapshot.unit;
    out.operationFrames = snapshot.operationFrames;
    sortChildren(nodes, out.functions);
    out.nodes = std::move(nodes);
    return out;
}

} // namespace

QStringList ProfileTree::path(std::uint32_t node) const
{
    QStringList names;
    while (node != 0 && node < nodes.size()) {
        names.prepend(snapshot->functions[nodes[node].function].name);
        node = nodes[node].parent;
    }
    return names;
}

std::uint32_t ProfileTree::find(const QStringList& path) const
{
    std::uint32_t at = 0;
    for (const QString& name : path) {
        if (at >= nodes.size())
            return 0;
        const auto& children = nodes[at].children;
        const auto it = std::find_if(children.begin(), children.end(),
            [&](std::uint32_t child) { return snapshot->functions[nodes[child].function].name == name; });
        if (it == children.end())
            return 0;
        at = *it;
    }
    return at;
}

ProfileTreePtr topDownTree(const ProfileSnapshotPtr& snapshot)
{
    auto tree = std::make_shared<ProfileTree>();
    tree->snapshot = snapshot;
    if (!snapshot || snapshot->nodes.empty())
        return tree;
    tree->nodes.resize(snapshot->nodes.size());
    for (std::size_t i = 0; i < snapshot->nodes.size(); ++i) {
        const CallNode& from = snapshot->nodes[i];
        TreeNode& to = tree->nodes[i];
        to.function = from.function;
        to.parent = from.parent;
        to.self = from.self;
        to.total = from.total;
        to.children = from.children;
    }
    sortChildren(tree->nodes, snapshot->functions);
    for (TreeNode& node : tree->nodes) {
        for (std::uint32_t row = 0; row < node.children.size(); ++row)
            tree->nodes[node.children[row]].row = row;
    }
    return tree;
}

ProfileTreePtr bottomUpTree(const ProfileSnapshotPtr& snapshot)
{
    auto tree = std::make_shared<ProfileTree>();
    tree->snapshot = snapshot;
    tree->bottomUp = true;
    tree->nodes.emplace_back();
    if (!snapshot || snapshot->nodes.empty())
        return tree;
    tree->nodes[0].total = snapshot->totalSamples();
    Builder<TreeNode> builder(tree->nodes);
    const auto& nodes = snapshot->nodes;
    for (std::uint32_t leaf = 1; leaf < nodes.size(); ++leaf) {
        const std::uint64_t self = nodes[leaf].self;
        if (self == 0)
            continue;
        // The leaf at the top, then its callers, outwards.
        std::uint32_t at = builder.child(0, nodes[leaf].function);
        tree->nodes[at].self += self;
        tree->nodes[at].total += self;
        for (std::uint32_t caller = nodes[leaf].parent; caller != 0; caller = nodes[caller].parent) {
            at = builder.child(at, nodes[caller].function);
            tree->nodes[at].total += self;
        }
    }
    sortChildren(tree->nodes, snapshot->functions);
    for (TreeNode& node : tree->nodes) {
        for (std::uint32_t row = 0; row < node.children.size(); ++row)
            tree->nodes[node.children[row]].row = row;
    }
    return tree;
}

CallerCalleePtr callerCallee(const ProfileSnapshotPtr& snapshot)
{
    auto out = std::make_shared<CallerCallee>();
    out->snapshot = snapshot;
    if (!snapshot || snapshot->nodes.empty())
        return out;
    const auto& nodes = snapshot->nodes;
    out->functions.resize(snapshot->functions.size());
    snapshot->visitOutermost(0, [&](const CallNode& node, bool outermost) {
        FunctionCallers& f = out->functions[node.function];
        f.self += node.self;
        if (outermost) {
            f.total += node.total;
            f.callers[node.parent == 0 ? FunctionCallers::kRoot : nodes[node.parent].function] += node.total;
            for (std::uint32_t child : node.children)
                f.callees[nodes[child].function] += nodes[child].total;
        }
    });
    return out;
}

ProfileSnapshot collapseRecursion(const ProfileSnapshot& snapshot)
{
    std::vector<CallNode> nodes;
    if (snapshot.nodes.empty())
        return withNodes(snapshot, {});
    nodes.emplace_back();
    nodes[0].self = snapshot.nodes[0].self;
    nodes[0].total = snapshot.nodes[0].total;
    Builder<CallNode> builder(nodes);
    std::vector<std::uint32_t> mapped(snapshot.nodes.size(), 0);
    preOrder(snapshot, [&](std::uint32_t node) {
        const CallNode& from = snapshot.nodes[node];
        const std::uint32_t parent = mapped[from.parent];
        if (parent != 0 && nodes[parent].function == from.function) {
            mapped[node] = parent; // called by itself: its samples are already in the caller's total
            nodes[parent].self += from.self;
        } else {
            const std::uint32_t to = builder.child(parent, from.function);
            nodes[to].self += from.self;
            nodes[to].total += from.total;
            mapped[node] = to;
        }
        return true;
    });
    return withNodes(snapshot, std::move(nodes));
}

ProfileSnapshot focusOn(const ProfileSnapshot& snapshot, const QString& function)
{
    std::vector<CallNode> nodes;
    nodes.emplace_back();
    if (snapshot.nodes.empty())
        return withNodes(snapshot, std::move(nodes));
    const auto it = std::find_if(snapshot.functions.begin(), snapshot.functions.end(),
        [&](const ProfileFunction& f) { return f.name == function; });
    if (it == snapshot.functions.end())
        return withNodes(snapshot, std::move(nodes));
    Builder<CallNode> builder(nodes);
    const std::uint32_t focus = builder.child(0, std::uint32_t(it - snapshot.functions.begin()));
    std::vector<std::uint32_t> mapped(snapshot.nodes.size(), 0);
    std::vector<bool> inside(snapshot.nodes.size(), false);
    preOrder(snapshot, [&](std::uint32_t node) {
        const CallNode& from = snapshot.nodes[node];
        if (inside[from.parent]) {
            const std::uint32_t to = builder.child(mapped[from.parent], from.function);
            nodes[to].self += from.self;
            nodes[to].total += from.total;
            mapped[node] = to;
            inside[node] = true;
        } else if (snapshot.functions[from.function].name == function) {
            nodes[focus].self += from.self;
            nodes[focus].total += from.total;
            mapped[node] = focus;
            inside[node] = true;
        }
        return true;
    });
    nodes[0].total = nodes[focus].total;
    return withNodes(snapshot, std::move(nodes));
}

ProfileSnapshot bottomUpSnapshot(const ProfileSnapshot& snapshot)
{
    auto shared = std::make_shared<ProfileSnapshot>();
    shared->functions = snapshot.functions; // the tree names its functions through it
    shared->nodes = snapshot.nodes;
    const ProfileTreePtr tree = bottomUpTree(shared);
    std::vector<CallNode> nodes(tree->nodes.size());
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const TreeNode& from = tree->nodes[i];
        CallNode& to = nodes[i];
        to.function = from.function;
        to.parent = from.parent;
        to.total = from.total;
        to.children = from.children;
        // In a graph of callers a frame's own width is the samples whose stack ends (outwards) there.
        std::uint64_t children = 0;
        for (std::uint32_t child : from.children)
            children += tree->nodes[child].total;
        to.self = from.total - std::min(from.total, children);
    }
    if (!nodes.empty())
        nodes[0].self = 0;
    return withNodes(snapshot, std::move(nodes));
}

ProfileSnapshot subtractProfile(const ProfileSnapshot& now, const ProfileSnapshot& before)
{
    std::vector<CallNode> nodes;
    nodes.emplace_back();
    if (now.nodes.empty())
        return withNodes(now, std::move(nodes));
    Builder<CallNode> builder(nodes);
    constexpr std::uint32_t none = std::uint32_t(-1);
    const auto name = [](const ProfileSnapshot& s, std::uint32_t node) -> const QString& {
        return s.functions[s.nodes[node].function].name;
    };
    // Both trees walked together; a node's self is what is left of it, its total is summed from below.
    struct Item
    {
        std::uint32_t node;
        std::uint32_t twin;
        std::uint32_t to;
    };
    std::vector<Item> todo { { 0, before.nodes.empty() ? none : 0, 0 } };
    while (!todo.empty()) {
        const Item item = todo.back();
        todo.pop_back();
        const CallNode& from = now.nodes[item.node];
        const std::uint64_t old = item.twin == none ? 0 : before.nodes[item.twin].self;
        nodes[item.to].self += from.self - std::min(from.self, old);
        for (std::uint32_t child : from.children) {
            std::uint32_t match = none;
            if (item.twin != none) {
                for (std::uint32_t candidate : before.nodes[item.twin].children) {
                    if (name(before, candidate) == name(now, child)) {
                        match = candidate;
                        break;
                    }
                }
            }
            const std::uint64_t gone = match == none ? 0 : before.nodes[match].total;
            if (now.nodes[child].total > gone)
                todo.push_back({ child, match, builder.child(item.to, now.nodes[child].function) });
        }
    }
    // Totals from the leaves up: children come after their parents in the vector.
    for (std::size_t i = nodes.size(); i-- > 0;) {
        nodes[i].total += nodes[i].self;
        if (i != 0)
            nodes[nodes[i].parent].total += nodes[i].total;
    }
    return withNodes(now, std::move(nodes));
}

} // namespace perfdash
