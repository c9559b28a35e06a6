// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <functional>
#include <vector>

namespace perfdash {

/**
 * What the profiler asks about the operations of a profiled process: which instances were active
 * on a thread at an instant, and which instances ended. The profiler knows only this interface
 * (it depends on core alone); the dashboard gives it the scope-ring reader of ipc/ behind it
 * (RingOperationTimeline). Thread-safe: the profiler's processing threads call it.
 */
class OperationTimeline
{
public:
    /// Why the operations at an instant are not known. None: they are (possibly none at all).
    enum class Gap : quint8 {
        None = 0,
        NotTraced, ///< the process sends no scope rings (not a client of ours): a plain profile
        ThreadUntraced, ///< the thread has no ring (it began no operation since tracing began)
        BeforeTracing, ///< before the client began to record
        AskAgain, ///< not known yet (not read yet, or inside an operation whose start is unknown until it ends)
        Overrun, ///< the ring was overwritten before it was read
        Clock, ///< the client's clock readings could not be placed on CLOCK_MONOTONIC
        Mismatch, ///< the records contradicted each other
        Expired, ///< older than what is kept
    };
    static constexpr int GapCount = int(Gap::Expired) + 1;

    /// One active instance: its operation's name and its start; endNs -1 while it is open.
    struct Instance
    {
        QString name;
        quint64 id = 0; ///< unique per thread
        qint64 startNs = -1;
        qint64 endNs = -1;
    };
    struct Query
    {
        quint64 tid = 0;
        qint64 timeNs = 0; ///< CLOCK_MONOTONIC
    };
    struct Answer
    {
        Gap gap = Gap::None;
        std::vector<Instance> stack; ///< outermost first; empty with Gap::None: outside any operation
        /// The thread's operations are known up to this instant: an open instance of the stack ran
        /// at least until then (so it is slow once this is its threshold past its start).
        qint64 knownUntilNs = -1;
    };

    virtual ~OperationTimeline() = default;

    /// Whether @p pid's operations are known at all (its client records for us).
    virtual bool traces(qint64 pid) const = 0;
    /// For each query, the instances active on its thread at its instant.
    virtual std::vector<Answer> activeOperations(qint64 pid, const std::vector<Query>& queries) = 0;
    /// Every instance of @p pid that ended in [fromNs, toNs) with its start known.
    virtual void endedInstances(qint64 pid, qint64 fromNs, qint64 toNs,
        const std::function<void(const QString& name, qint64 startNs, qint64 endNs)>& each) const = 0;
    /// What went wrong reading @p pid's operations (a refusal, overruns), for the view; empty when nothing.
    virtual QString problems(qint64 pid) const = 0;
};

/// "overrun", "clock", ...: a gap as the views and the docs name it.
QString gapName(OperationTimeline::Gap gap);

} // namespace perfdash
