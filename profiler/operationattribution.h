// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/operationtimeline.h"
#include "profiler/calltree.h"

#include <QHash>
#include <QString>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <unordered_map>
#include <utility>
#include <vector>

namespace perfdash {

class SlowThresholds;
class StackAggregate;

/// One operation's share of a profiled process's CPU (docs/PROFILE.md, "Profiles per operation").
struct OperationCpu
{
    QString operation;
    std::uint64_t samples = 0; ///< CPU samples inside its instances (nested operations included)
    std::uint64_t slowSamples = 0; ///< of them inside its slow instances
    std::uint64_t cpuNs = 0; ///< samples x the sampling period
    std::uint64_t offCpuNs = 0; ///< time its threads spent switched out inside it (where recorded)
    std::uint64_t wallNs = 0; ///< the summed durations of its instances that ended while profiled
    std::uint64_t instances = 0; ///< those instances
    /// On-CPU time over wall time, 0..1; -1 when no instance ended. An estimate: for operations
    /// shorter than the sampling period it is noisy, and an estimate over 1 is given as 1.
    double cpuShare() const { return wallNs ? std::min(1.0, double(cpuNs) / double(wallNs)) : -1.0; }
};

/**
 * Attributes a profiled process's CPU samples and off-CPU intervals to the operations active on
 * their thread at their instant, asked of an OperationTimeline, and counts them in the profile's
 * aggregates under a context: the stack of operation frames they ran in, outermost first, each
 * with whether its instance was slow (at or over its operation's threshold). Context 0 is
 * "outside any operation".
 *
 * A sample waits (bounded) until its operations are known: until the timeline has read its
 * thread's ring, and until each open instance around it has ended or has already run past its
 * threshold (then it is slow whatever happens next). What cannot be known (overrun, clock,
 * not read within kPatienceNs) is counted by gap, never guessed. Not thread-safe: the owner locks.
 */
class OperationAttribution
{
public:
    OperationAttribution(qint64 pid, OperationTimeline* timeline, const SlowThresholds* thresholds,
        std::uint64_t samplePeriodNs, std::uint64_t startNs);

    /// A CPU sample counted under @p node of the CPU aggregate.
    void addSample(std::uint32_t tid, std::uint64_t timeNs, std::uint32_t node);
    /// An off-CPU interval from @p timeNs (the switch-out, where the operations are asked), counted
    /// under @p node of the off-CPU aggregate with @p micros (its count there) and @p ns.
    void addOffCpu(std::uint32_t tid, std::uint64_t timeNs, std::uint32_t node, std::uint64_t micros, std::uint64_t ns);

    /// Attributes what can be now (@p final: everything, the end of the profile) into @p cpu and
    /// @p offCpu (their addAttributed()), and sums the wall time of instances ended by then.
    void resolve(StackAggregate& cpu, StackAggregate& offCpu, std::uint64_t nowNs, bool final = false);

    /// Whether a context's samples belong to @p operation's instances of @p filter.
    std::function<bool(std::uint32_t)> filter(const QString& operation, InstanceFilter filter) const;
    /// "[outer];[inner slow]": the context's frames for the folded exports; empty for context 0.
    QString foldedFrames(std::uint32_t context) const;
    /// The context's operations, outermost first, each with whether its instance was slow.
    std::vector<std::pair<QString, bool>> contextOperations(std::uint32_t context) const;
    std::vector<OperationCpu> operations() const;
    void fillStats(ProfileStats* stats) const;

    /// How long a sample waits for its thread's ring to be read before it counts as unknown.
    static constexpr std::uint64_t kPatienceNs = 5'000'000'000ull;
    /// How long it waits at most for an open instance around it to end (or pass its threshold).
    static constexpr std::uint64_t kOpenPatienceNs = 30'000'000'000ull;
    static constexpr std::size_t kMaxPending = std::size_t(1) << 20;

private:
    struct Pending
    {
        std::uint64_t timeNs;
        std::uint64_t micros; ///< off-CPU: the count; CPU: 1
        std::uint64_t ns; ///< off-CPU: its duration; CPU: the period
        std::uint32_t tid;
        std::uint32_t node;
        bool offCpu;
    };
    struct Frame
    {
        std::uint32_t name;
        bool slow;
        bool operator==(const Frame&) const = default;
    };
    std::uint32_t nameId(const QString& name);
    std::uint32_t contextOf(const std::vector<Frame>& frames);
    quint64 thresholdOf(std::uint32_t name);
    /// Counts @p p as @p answer says; false when it must wait.
    bool settle(const Pending& p, const OperationTimeline::Answer& answer, std::uint64_t nowNs, bool final,
        StackAggregate& cpu, StackAggregate& offCpu);
    void countGap(const Pending& p, OperationTimeline::Gap gap);
    OperationCpu& operation(std::uint32_t name);

    qint64 m_pid;
    OperationTimeline* m_timeline;
    const SlowThresholds* m_thresholds;
    std::uint64_t m_periodNs;
    std::uint64_t m_startNs;
    std::deque<Pending> m_pending;
    std::vector<QString> m_names;
    QHash<QString, std::uint32_t> m_nameIds;
    std::vector<quint64> m_thresholdCache; ///< per name id; ~0: not asked since the rules changed
    quint64 m_thresholdGeneration = ~quint64(0);
    std::vector<std::vector<Frame>> m_contexts; ///< [0] is outside any operation
    std::map<std::vector<std::uint32_t>, std::uint32_t> m_contextIds; ///< name << 1 | slow, per frame
    std::vector<OperationCpu> m_operations; ///< per name id
    std::uint64_t m_wallUntilNs;
    bool m_traced = false;
    QString m_problem;
    std::uint64_t m_inside = 0;
    std::uint64_t m_outside = 0;
    std::array<std::uint64_t, OperationTimeline::GapCount> m_gaps {};
    std::vector<std::uint32_t> m_scratchNames;
};

} // namespace perfdash
