// SPDX-License-Identifier: GPL-3.0-or-later
#include "recordprocessor.h"

#include "perfrecords.h"

#include <linux/perf_event.h>
#include <sys/mman.h>

#include <algorithm>

namespace perfdash {

RecordProcessor::RecordProcessor(pid_t pid, int regCount)
    : m_pid(pid)
    , m_regCount(regCount)
    , m_unwinder(pid, regCount)
    , m_symbolizer(std::make_unique<Symbolizer>(pid))
{
    m_unwinder.refreshModules();
}

void RecordProcessor::process(const perf_event_header& header, const std::uint8_t* record)
{
    m_forked = 0;
    switch (header.type) {
    case PERF_RECORD_SAMPLE: {
        perf::Sample sample;
        if (!perf::parseSample(record, header.size, m_regCount, &sample) || pid_t(sample.pid) != m_pid)
            return;
        switch (m_unwinder.unwind(sample, &m_pcs)) {
        case Unwinder::Method::Cfi:
            ++m_stats.cfiStacks;
            break;
        case Unwinder::Method::FramePointers:
            ++m_stats.framePointerStacks;
            break;
        case Unwinder::Method::IpOnly:
            ++m_stats.ipOnlyStacks;
            break;
        }
        // In the kernel (where the kernel allows kernel samples): the user stack that entered it,
        // under one [kernel] frame.
        if ((header.misc & PERF_RECORD_MISC_CPUMODE_MASK) == PERF_RECORD_MISC_KERNEL) {
            ++m_stats.kernelSamples;
            if (!m_pcs.empty() && m_pcs.front() == sample.ip)
                m_pcs.front() = perf::kKernelAddress;
            else
                m_pcs.insert(m_pcs.begin(), perf::kKernelAddress);
        }
        std::reverse(m_pcs.begin(), m_pcs.end()); // outermost first
        m_fresh.clear();
        // The thread and the time are kept up to here, where the sample is counted: a stage that
        // knows what ran on that thread at that instant gives the key its context.
        m_aggregate.add({ sample.tid, 0, 0 }, sample.timeNs, m_pcs, &m_fresh);
        m_symbolizer->request(m_fresh);
        break;
    }
    case PERF_RECORD_MMAP2: {
        perf::Mmap mmap;
        if (perf::parseMmap2(record, header.size, &mmap) && (mmap.prot & PROT_EXEC) && pid_t(mmap.pid) == m_pid) {
            m_unwinder.modulesChanged();
            m_symbolizer->modulesChanged();
        }
        break;
    }
    case PERF_RECORD_COMM: {
        std::uint32_t pid = 0, tid = 0;
        std::string_view comm;
        if (perf::parseComm(record, header.size, &pid, &tid, &comm) && pid_t(pid) == m_pid) {
            m_aggregate.setThreadName(tid, QString::fromUtf8(comm.data(), qsizetype(comm.size())));
            if (header.misc & PERF_RECORD_MISC_COMM_EXEC) { // a new program: new modules
                m_unwinder.modulesChanged();
                m_symbolizer->modulesChanged();
            }
        }
        break;
    }
    case PERF_RECORD_FORK: {
        std::uint32_t pid = 0, tid = 0;
        if (perf::parseTask(record, header.size, &pid, &tid) && pid_t(pid) == m_pid)
            m_forked = pid_t(tid);
        break;
    }
    case PERF_RECORD_LOST:
    case PERF_RECORD_LOST_SAMPLES: {
        std::uint64_t lost = 0;
        if (perf::parseLost(record, header.size, header.type == PERF_RECORD_LOST_SAMPLES, &lost))
            m_stats.lost += lost;
        break;
    }
    case PERF_RECORD_THROTTLE:
        ++m_stats.throttled;
        break;
    default:
        break;
    }
}

ProfileSnapshot RecordProcessor::snapshot(const ProfileQuery& query, std::uint64_t nowNs)
{
    ProfileSnapshot s = m_aggregate.snapshot(query, nowNs, *m_symbolizer);
    const std::uint64_t unknown = s.stats.unknownFrames;
    s.stats = stats();
    s.stats.unknownFrames = unknown;
    return s;
}

ProfileStats RecordProcessor::stats() const
{
    ProfileStats stats = m_stats;
    stats.samples = m_aggregate.samples();
    stats.truncatedStacks = m_aggregate.truncated();
    stats.addresses = m_aggregate.addressCount();
    const Symbolizer::Stats names = m_symbolizer->stats();
    stats.namedAddresses = names.named;
    stats.symbolLookups = names.lookups;
    stats.modulesIndexed = names.modulesIndexed;
    return stats;
}

} // namespace perfdash
