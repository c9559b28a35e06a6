// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"
#include "profiler/operationattribution.h"
#include "profiler/pprofexport.h"
#include "profiler/stackaggregate.h"
#include "profiler/symbolizer.h"
#include "profiler/unwinder.h"

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include <sys/types.h>

struct perf_event_header;

namespace perfdash::perf {
struct Sample;
}

namespace perfdash {

/**
 * Turns ring-buffer records of one process into its profile: each sample is unwound and counted
 * at once under its thread, time and stack of addresses (StackAggregate; nothing raw is kept),
 * and the addresses never seen before go to the Symbolizer, which names them on its own thread.
 * Mmap records refresh the modules, comm records name threads, lost and throttle records are
 * counted. Takes bytes, not fds, so that the benchmark replays recorded samples. One thread at a
 * time (the Symbolizer is thread-safe).
 */
class RecordProcessor
{
public:
    RecordProcessor(pid_t pid, int regCount);

    /// @p record starts with @p header; 8-byte aligned.
    void process(const perf_event_header& header, const std::uint8_t* record);

    /// A forked thread's tid (0 when the last record was not a fork of this process).
    pid_t lastForkedThread() const { return m_forked; }

    /// From now on, samples and off-CPU intervals are attributed to operations by @p attribution.
    void setAttribution(std::unique_ptr<OperationAttribution> attribution) { m_attribution = std::move(attribution); }
    /// Attributes what can be now (@p final: all that is pending; the end of the profile).
    void resolveAttribution(std::uint64_t nowNs, bool final = false);

    /// The call tree for @p query at @p nowNs, with the names known now: CPU samples, or with
    /// @p offCpu the time off CPU (microseconds). A query for an operation counts only the
    /// samples attributed to its instances.
    ProfileSnapshot snapshot(const ProfileQuery& query, std::uint64_t nowNs, bool offCpu = false);
    /// One snapshot per context (the operations samples ran in, operationFrames set): the
    /// per-operation folded exports. Without attribution, the whole profile with no operation frames.
    std::vector<ProfileSnapshot> operationSnapshots(std::uint64_t nowNs, bool offCpu);
    std::vector<OperationCpu> operations() const;
    /// The session's CPU samples and off-CPU time with the names known now, for the pprof export
    /// (pid, name, rate and duration are the caller's): by operation context where the process's
    /// operations are traced (the attributed counts), else the plain counts.
    PprofProcess pprofPart() const;
    /// Waits until every address seen so far is named (the end of a run; tests).
    bool waitNamed(int timeoutMs) const { return m_symbolizer->waitIdle(timeoutMs); }
    const StackAggregate& aggregate() const { return m_aggregate; }
    const Symbolizer& symbolizer() const { return *m_symbolizer; }
    ProfileStats stats() const;
    void setThreadName(qint64 tid, const QString& name) { m_aggregate.setThreadName(tid, name); }

private:
    /// Unwinds @p sample into m_pcs (outermost first), counting how.
    void unwind(const perf_event_header& header, const perf::Sample& sample);

    pid_t m_pid;
    int m_regCount;
    Unwinder m_unwinder;
    std::unique_ptr<Symbolizer> m_symbolizer;
    StackAggregate m_aggregate;
    StackAggregate m_offCpu; ///< counts: microseconds off CPU
    struct SwitchedOut
    {
        std::uint64_t timeNs;
        std::uint32_t node;
    };
    std::unordered_map<std::uint32_t, SwitchedOut> m_switchedOut; ///< per thread, its last switch-out
    std::unique_ptr<OperationAttribution> m_attribution;
    std::vector<std::uint64_t> m_pcs;
    std::vector<std::uint64_t> m_fresh;
    ProfileStats m_stats;
    pid_t m_forked = 0;
};

} // namespace perfdash
