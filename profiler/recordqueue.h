// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

struct perf_event_header;

namespace perfdash {

/**
 * Between the ring-buffer reader and the thread that unwinds: the reader copies each record in
 * and goes back to the kernel's buffers at once, so that a slow moment of the unwinding (a
 * module's CFI loaded for the first time, a burst of threads) is absorbed here, in a buffer far
 * deeper than the kernel's, rather than lost there. Bounded: past maxBytes, samples are refused
 * (and counted: they are lost as the kernel's are), off-CPU samples (perf::kOffCpuSampleType)
 * too, counted apart; other records (mmap, comm, fork, lost, context switches) are always kept,
 * so that what follows is still understood (a switch-out and its switch-in pair up even when the
 * stack of the switch-out was refused).
 */
class RecordQueue
{
public:
    explicit RecordQueue(std::size_t maxBytes = std::size_t(256) << 20);

    /// Reader's side: copies one record (@p record starts with the kernel's header) into the batch
    /// being filled, with @p header in place of the kernel's (PerfEventSource::drain() rewrites the
    /// type of off-CPU records): take() presents the record with @p header.
    void append(const perf_event_header& header, const std::uint8_t* record);
    /// Reader's side: hands the batch filled since the last publish() to the other side.
    void publish();
    /// Stops waiting; what is queued can still be taken.
    void close();

    /// Consumer's side: waits up to @p timeoutMs for records; false once closed and empty.
    bool wait(int timeoutMs);
    /// Consumer's side: calls @p handle for each queued record, in order.
    void take(const std::function<void(const perf_event_header&, const std::uint8_t*)>& handle);

    std::uint64_t refusedSamples() const;
    /// Off-CPU samples refused past maxBytes (the switches around them are kept).
    std::uint64_t refusedOffCpu() const;
    std::size_t peakBytes() const;
    std::size_t queuedBytes() const;

private:
    using Batch = std::vector<std::uint64_t>; ///< records, each padded to 8 bytes, header first
    std::size_t m_maxBytes;
    Batch m_filling; ///< the reader's own, not shared
    mutable std::mutex m_mutex;
    std::condition_variable m_ready;
    std::deque<Batch> m_batches;
    std::size_t m_bytes = 0;
    std::size_t m_peak = 0;
    std::uint64_t m_refused = 0;
    std::uint64_t m_refusedOffCpu = 0;
    bool m_closed = false;
};

} // namespace perfdash
