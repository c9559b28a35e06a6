// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"
#include "profileaggregate.h"
#include "symbolizer.h"
#include "unwinder.h"

#include <cstdint>
#include <vector>

#include <sys/types.h>

struct perf_event_header;

namespace perfdash {

/**
 * Turns ring-buffer records of one process into its profile: samples are unwound, symbolized and
 * aggregated at once (nothing raw is kept); mmap records refresh the modules, comm records name
 * threads, lost and throttle records are counted. Takes bytes, not fds, so that the benchmark
 * replays recorded samples. One thread at a time.
 */
class RecordProcessor
{
public:
    RecordProcessor(pid_t pid, int regCount);

    /// @p record starts with @p header; 8-byte aligned.
    void process(const perf_event_header& header, const std::uint8_t* record);

    /// A forked thread's tid, for the event source (0 when the last record was not a fork).
    pid_t lastForkedThread() const { return m_forked; }

    const ProfileAggregate& aggregate() const { return m_aggregate; }
    ProfileAggregate& aggregate() { return m_aggregate; }
    const FunctionTable& functions() const { return m_functions; }
    ProfileStats stats() const;
    void setThreadName(qint64 tid, const QString& name) { m_aggregate.setThreadName(tid, name); }

private:
    pid_t m_pid;
    int m_regCount;
    FunctionTable m_functions;
    Unwinder m_unwinder;
    Symbolizer m_symbolizer;
    ProfileAggregate m_aggregate;
    std::vector<std::uint64_t> m_pcs;
    std::vector<std::uint32_t> m_frames;
    ProfileStats m_stats;
    pid_t m_forked = 0;
};

} // namespace perfdash
