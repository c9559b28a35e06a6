// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"
#include "stackaggregate.h"
#include "symbolizer.h"
#include "unwinder.h"

#include <cstdint>
#include <memory>
#include <vector>

#include <sys/types.h>

struct perf_event_header;

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

    /// The call tree for @p query at @p nowNs, with the names known now.
    ProfileSnapshot snapshot(const ProfileQuery& query, std::uint64_t nowNs);
    /// Waits until every address seen so far is named (the end of a run; tests).
    bool waitNamed(int timeoutMs) const { return m_symbolizer->waitIdle(timeoutMs); }
    const StackAggregate& aggregate() const { return m_aggregate; }
    const Symbolizer& symbolizer() const { return *m_symbolizer; }
    ProfileStats stats() const;
    void setThreadName(qint64 tid, const QString& name) { m_aggregate.setThreadName(tid, name); }

private:
    pid_t m_pid;
    int m_regCount;
    Unwinder m_unwinder;
    std::unique_ptr<Symbolizer> m_symbolizer;
    StackAggregate m_aggregate;
    std::vector<std::uint64_t> m_pcs;
    std::vector<std::uint64_t> m_fresh;
    ProfileStats m_stats;
    pid_t m_forked = 0;
};

} // namespace perfdash
