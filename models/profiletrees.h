// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"

#include <QMetaType>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

namespace perfdash {

/// One node of a ProfileTree: a function along one path (of callees top-down, of callers bottom-up).
struct TreeNode
{
    std::uint32_t function = 0; ///< into the snapshot's functions; the root's is unused
    std::uint32_t parent = 0; ///< the root (0) is its own parent
    std::uint32_t row = 0; ///< its index among its parent's children
    std::uint64_t self = 0; ///< top-down: samples with this node as the leaf; bottom-up: 0 but at the top level
    std::uint64_t total = 0; ///< samples through this node
    std::vector<std::uint32_t> children; ///< by total, largest first; then by name
};

/**
 * A call tree the tree views show, built on a worker from a snapshot: top-down (callees under
 * their callers, the snapshot's own tree) or bottom-up (the functions where samples were taken at
 * the top, their callers under them, Hotspot's "Bottom-Up").
 */
struct ProfileTree
{
    ProfileSnapshotPtr snapshot; ///< names its functions
    std::vector<TreeNode> nodes; ///< nodes[0] is the root, not shown
    bool bottomUp = false;

    std::uint64_t totalSamples() const { return snapshot ? snapshot->totalSamples() : 0; }
    /// The node's path of function names from the top level down to it.
    QStringList path(std::uint32_t node) const;
    /// The node at @p path (function names), 0 when there is none.
    std::uint32_t find(const QStringList& path) const;
};
using ProfileTreePtr = std::shared_ptr<const ProfileTree>;

ProfileTreePtr topDownTree(const ProfileSnapshotPtr& snapshot);
ProfileTreePtr bottomUpTree(const ProfileSnapshotPtr& snapshot);

/// A function's place in the samples, for the caller/callee view.
struct FunctionCallers
{
    std::uint64_t self = 0;
    std::uint64_t total = 0; ///< samples with the function anywhere on the stack, once each
    /// Samples through each direct caller (the process root: kRoot), and through each direct
    /// callee; a recursive function counts at its outermost call only, so that a sample counts once.
    std::map<std::uint32_t, std::uint64_t> callers;
    std::map<std::uint32_t, std::uint64_t> callees;
    static constexpr std::uint32_t kRoot = std::uint32_t(-1);
};

struct CallerCallee
{
    ProfileSnapshotPtr snapshot;
    std::vector<FunctionCallers> functions; ///< by function id of the snapshot
};
using CallerCalleePtr = std::shared_ptr<const CallerCallee>;

CallerCalleePtr callerCallee(const ProfileSnapshotPtr& snapshot);

/// @p snapshot with direct recursion folded: a call of a function by itself is merged into the
/// caller (its self samples and callees added there), as Hotspot's "Collapse Recursion".
ProfileSnapshot collapseRecursion(const ProfileSnapshot& snapshot);

/// @p snapshot seen from @p function (by name): every outermost call of it merged into one
/// frame under the root, with its callees below; what is outside it is left out.
ProfileSnapshot focusOn(const ProfileSnapshot& snapshot, const QString& function);

/// @p snapshot's bottom-up tree as a snapshot, for a flame graph of callers: the functions where
/// samples were taken under the root, their callers above them.
ProfileSnapshot bottomUpSnapshot(const ProfileSnapshot& snapshot);

/// The samples of @p now that @p before does not have, path by path (frames matched by name from
/// the root): a session profile now minus the same profile taken earlier is what came since.
ProfileSnapshot subtractProfile(const ProfileSnapshot& now, const ProfileSnapshot& before);

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::ProfileTreePtr)
Q_DECLARE_METATYPE(perfdash::CallerCalleePtr)
