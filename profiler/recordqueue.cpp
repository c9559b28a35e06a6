// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/recordqueue.h"

#include "profiler/perfrecords.h"

#include <linux/perf_event.h>

#include <chrono>
#include <cstring>

namespace perfdash {

RecordQueue::RecordQueue(std::size_t maxBytes)
    : m_maxBytes(maxBytes)
{
}

void RecordQueue::append(const perf_event_header& header, const std::uint8_t* record)
{
    const std::size_t words = (std::size_t(header.size) + 7) / 8;
    const bool offCpu = header.type == perf::kOffCpuSampleType;
    if (header.type == PERF_RECORD_SAMPLE || offCpu) {
        std::lock_guard lock(m_mutex);
        if (m_bytes + (m_filling.size() + words) * 8 > m_maxBytes) {
            ++(offCpu ? m_refusedOffCpu : m_refused);
            return;
        }
    }
    const std::size_t at = m_filling.size();
    m_filling.resize(at + words);
    auto* bytes = reinterpret_cast<std::uint8_t*>(m_filling.data() + at);
    std::memcpy(bytes, record, header.size);
    std::memcpy(bytes, &header, sizeof header); // the type drain() gave, not the kernel's
}

void RecordQueue::publish()
{
    if (m_filling.empty())
        return;
    {
        std::lock_guard lock(m_mutex);
        m_bytes += m_filling.size() * 8;
        m_peak = std::max(m_peak, m_bytes);
        m_batches.push_back(std::move(m_filling));
    }
    m_filling = {};
    m_ready.notify_one();
}

void RecordQueue::close()
{
    publish();
    {
        std::lock_guard lock(m_mutex);
        m_closed = true;
    }
    m_ready.notify_all();
}

bool RecordQueue::wait(int timeoutMs)
{
    std::unique_lock lock(m_mutex);
    m_ready.wait_for(lock, std::chrono::milliseconds(timeoutMs), [this] { return m_closed || !m_batches.empty(); });
    return !m_closed || !m_batches.empty();
}

void RecordQueue::take(const std::function<void(const perf_event_header&, const std::uint8_t*)>& handle)
{
    std::deque<Batch> batches;
    {
        std::lock_guard lock(m_mutex);
        batches.swap(m_batches);
    }
    for (const Batch& batch : batches) {
        const auto* bytes = reinterpret_cast<const std::uint8_t*>(batch.data());
        std::size_t at = 0;
        while (at + sizeof(perf_event_header) <= batch.size() * 8) {
            perf_event_header header;
            std::memcpy(&header, bytes + at, sizeof header);
            handle(header, bytes + at);
            at += (std::size_t(header.size) + 7) / 8 * 8;
        }
        // Counted down per batch as it is done, so that the reader sees the room come back.
        std::lock_guard lock(m_mutex);
        m_bytes -= batch.size() * 8;
    }
}

std::uint64_t RecordQueue::refusedSamples() const
{
    std::lock_guard lock(m_mutex);
    return m_refused;
}

std::uint64_t RecordQueue::refusedOffCpu() const
{
    std::lock_guard lock(m_mutex);
    return m_refusedOffCpu;
}

std::size_t RecordQueue::peakBytes() const
{
    std::lock_guard lock(m_mutex);
    return m_peak;
}

std::size_t RecordQueue::queuedBytes() const
{
    std::lock_guard lock(m_mutex);
    return m_bytes;
}

} // namespace perfdash
