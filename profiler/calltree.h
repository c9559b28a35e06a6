// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/symbolizer.h"

#include <QList>
#include <QMetaType>
#include <QString>

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace perfdash {

/// One node of a call tree: a function called along one path from the root.
struct CallNode
{
    std::uint32_t function = 0; ///< into ProfileSnapshot::functions; the root's is unused
    std::uint32_t parent = 0; ///< the root is its own parent (index 0)
    std::uint64_t self = 0; ///< samples with this node as the leaf
    std::uint64_t total = 0; ///< samples through this node
    std::vector<std::uint32_t> children; ///< sorted by total, largest first
};

/// A function's line in the top-functions table.
struct FunctionCost
{
    std::uint32_t function = 0;
    std::uint64_t self = 0;
    std::uint64_t total = 0; ///< samples with the function anywhere on the stack, once per sample
    /// Callers by samples through them, largest first (the process root counts as "[root]": empty name).
    std::vector<std::pair<std::uint32_t, std::uint64_t>> callers;
};

/// A thread seen in the profile, with its samples in the snapshot's time range.
struct ProfileThread
{
    qint64 tid = 0;
    QString name;
    std::uint64_t samples = 0;
};

/// How the profile was taken and what it could not see; shown next to the views.
struct ProfileStats
{
    std::uint64_t samples = 0;
    std::uint64_t lost = 0; ///< samples the kernel dropped (PERF_RECORD_LOST / LOST_SAMPLES)
    std::uint64_t throttled = 0; ///< PERF_RECORD_THROTTLE: the kernel lowered the rate
    std::uint64_t unknownFrames = 0; ///< frames in no module, no JIT map: "[unknown]"
    std::uint64_t cfiStacks = 0; ///< unwound with DWARF CFI
    std::uint64_t framePointerStacks = 0; ///< kernel frame-pointer chains (CFI gave nothing)
    std::uint64_t ipOnlyStacks = 0; ///< only the sampled address
    std::uint64_t truncatedStacks = 0; ///< the stack table was full: cut at the deepest known node
    std::uint64_t queueRefused = 0; ///< samples the dashboard's own queue had no room for (in lost too)
    std::uint64_t kernelSamples = 0; ///< samples taken in the kernel: their leaf is [kernel]
    bool kernelSampled = false; ///< the kernel allowed kernel samples (else user space only)
    /// The process's CPU time spent in the kernel, 0 to 1, from /proc over the snapshot's range
    /// (utime and stime); -1 when unknown. What a user-space-only flame graph leaves out.
    double kernelShare = -1;
    std::uint64_t addresses = 0; ///< distinct addresses in the stacks
    std::uint64_t namedAddresses = 0; ///< of them named (each once)
    std::uint64_t symbolLookups = 0; ///< lookups the symbolizer made (named + JIT re-reads)
    std::size_t modulesIndexed = 0; ///< modules whose symbol index was built (once each)
    int frequencyHz = 0;
    bool exited = false;

    // Attribution to operations (docs/PROFILE.md, "Profiles per operation"): each sample (and each
    // off-CPU interval) is counted once, by what is known of the operations on its thread then.
    bool operationsTraced = false; ///< the process's client records its operations for us
    std::uint64_t insideOperations = 0; ///< samples inside at least one operation
    std::uint64_t outsideOperations = 0; ///< samples known to be outside any operation
    std::uint64_t attributionPending = 0; ///< samples waiting for their operations to be read or to end
    /// Samples whose operations are not known, by OperationTimeline::Gap (index 0 unused).
    std::array<std::uint64_t, 9> unattributed {};
    std::uint64_t unattributedTotal() const;
    QString operationsProblem; ///< what went wrong reading the operations (refused, overruns)

    // Off-CPU (context switches): the time threads spent switched out, with the stack where they blocked.
    bool offCpuRecorded = false; ///< the kernel gave us context switches for this process
    QString offCpuProblem; ///< why not, when it did not
    std::uint64_t switches = 0; ///< switch-outs seen
    std::uint64_t offCpuNs = 0; ///< time off CPU of the switch-outs whose end was seen
    std::uint64_t offCpuLost = 0; ///< off-CPU records the kernel dropped (their intervals are missing)
};

/// Which instances of an operation a per-operation profile counts.
enum class InstanceFilter : std::uint8_t {
    All,
    Slow, ///< at or over the operation's slow threshold
    Typical, ///< under it
};

struct ProfileQuery
{
    int lastSeconds = 0; ///< 0: the whole session
    qint64 tid = 0; ///< 0: every thread
    /// Empty: every sample of the process. Else only samples inside an instance of this operation
    /// (at any depth: nested ones included), of the instances @c instances says.
    QString operation;
    InstanceFilter instances = InstanceFilter::All;
};

/**
 * What a view shows of one process's profile at one moment: the call tree for a time range and
 * thread filter, and the functions it names. Built on the profiler's side, shared read-only.
 */
struct ProfileSnapshot
{
    qint64 pid = 0;
    QString process;
    ProfileQuery query;
    std::vector<ProfileFunction> functions;
    std::vector<CallNode> nodes; ///< nodes[0] is the root (the process)
    std::vector<ProfileThread> threads; ///< every thread seen in the session, samples within the range
    ProfileStats stats;
    /// An off-CPU profile: counts are microseconds off CPU, not samples.
    bool offCpu = false;
    /// What a count is, where it is not a sample or an off-CPU microsecond: a heap profile's bytes.
    enum class Unit { Samples, Bytes, BytesPerSecond };
    Unit unit = Unit::Samples;
    /// "[outer];[inner slow]": the operations every sample of this snapshot ran in, written by
    /// folded() right after the process frame (the per-operation exports); empty: none.
    QString operationFrames;

    std::uint64_t totalSamples() const { return nodes.empty() ? 0 : nodes.front().total; }
    /// Functions by self samples, largest first: of the whole tree, or of @p root and its callees
    /// (the flame graph's zoom).
    std::vector<FunctionCost> topFunctions(std::uint32_t root = 0) const;
    /// Folded stacks, `name (pid);outermost;...;leaf COUNT`, one line per distinct stack, sorted
    /// (`name (pid);[operation];...;outermost;...;leaf COUNT` with operationFrames).
    QByteArray folded() const;
    /// The names along the path from the root's child down to @p node.
    QStringList path(std::uint32_t node) const;
    /// Visits the nodes under @p root (0: every node but the root) depth first, as
    /// visit(node, outermost): outermost when no caller on its path is the same function, so that
    /// a recursive function's samples count once, at its outermost call.
    template <typename Visit> void visitOutermost(std::uint32_t root, Visit visit) const;
};

template <typename Visit> void ProfileSnapshot::visitOutermost(std::uint32_t root, Visit visit) const
{
    if (nodes.empty() || root >= nodes.size())
        return;
    std::vector<int> onPath(functions.size(), 0);
    struct Item
    {
        std::uint32_t node;
        bool leaving;
    };
    std::vector<Item> stack;
    if (root != 0)
        stack.push_back({ root, false });
    else
        for (auto it = nodes[0].children.rbegin(); it != nodes[0].children.rend(); ++it)
            stack.push_back({ *it, false });
    while (!stack.empty()) {
        const Item item = stack.back();
        stack.pop_back();
        const CallNode& node = nodes[item.node];
        if (item.leaving) {
            --onPath[node.function];
            continue;
        }
        visit(node, onPath[node.function] == 0);
        ++onPath[node.function];
        stack.push_back({ item.node, true });
        for (auto it = node.children.rbegin(); it != node.children.rend(); ++it)
            stack.push_back({ *it, false });
    }
}
using ProfileSnapshotPtr = std::shared_ptr<const ProfileSnapshot>;

/// A frame name made safe for the folded format (no ';' or line breaks in a frame).
QString foldedFrameName(const QString& name);

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::ProfileSnapshotPtr)
