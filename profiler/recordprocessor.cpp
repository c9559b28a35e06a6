// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/recordprocessor.h"

#include "profiler/perfrecords.h"

#include <linux/perf_event.h>
#include <sys/mman.h>

#include <algorithm>
#include <unordered_set>

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
        unwind(header, sample);
        m_fresh.clear();
        // The thread and the time are kept up to here, where the sample is counted: the attribution
        // gives it the context of the operations that ran on that thread at that instant.
        const std::uint32_t node = m_aggregate.add({ sample.tid, 0, 0 }, sample.timeNs, m_pcs, &m_fresh);
        m_symbolizer->request(m_fresh);
        if (m_attribution)
            m_attribution->addSample(sample.tid, sample.timeNs, node);
        break;
    }
    case perf::kOffCpuSampleType: { // the stack where a thread was switched out: counted when it is back
        perf::Sample sample;
        if (!perf::parseSample(record, header.size, m_regCount, &sample) || pid_t(sample.pid) != m_pid)
            return;
        // Taken in the kernel while switching (misc says kernel): the user stack where the thread
        // blocked is what counts, with no [kernel] leaf; the CPU samples' unwinding counts are theirs.
        perf_event_header user = header;
        user.misc = (header.misc & ~PERF_RECORD_MISC_CPUMODE_MASK) | PERF_RECORD_MISC_USER;
        const auto saved = m_stats;
        unwind(user, sample);
        m_stats = saved;
        m_fresh.clear();
        const std::uint32_t node = m_offCpu.intern(m_pcs, &m_fresh);
        m_symbolizer->request(m_fresh);
        m_switchedOut[sample.tid] = { sample.timeNs, node };
        ++m_stats.switches;
        break;
    }
    case PERF_RECORD_SWITCH: {
        std::uint32_t pid = 0, tid = 0;
        std::uint64_t timeNs = 0;
        if (!perf::parseSwitch(record, header.size, &pid, &tid, &timeNs) || pid_t(pid) != m_pid)
            break;
        if (perf::isSwitchOut(header.misc)) {
            // Its stack came just before (kOffCpuSampleType), unless stacks are not recorded (or that
            // sample was dropped): then the interval is counted without one, on the process's frame.
            if (!m_switchedOut.count(tid)) {
                m_switchedOut[tid] = { timeNs, 0 };
                ++m_stats.switches;
            }
            break;
        }
        const auto out = m_switchedOut.find(tid);
        if (out == m_switchedOut.end())
            break;
        const SwitchedOut was = out->second;
        m_switchedOut.erase(out);
        if (timeNs <= was.timeNs)
            break;
        const std::uint64_t ns = timeNs - was.timeNs;
        const std::uint64_t micros = (ns + 500) / 1000;
        m_stats.offCpuNs += ns;
        if (micros == 0)
            break;
        m_offCpu.count({ tid, 0, was.node }, was.timeNs, micros);
        if (m_attribution)
            m_attribution->addOffCpu(tid, was.timeNs, was.node, micros, ns);
        break;
    }
    case perf::kOffCpuLostType:
    case perf::kOffCpuLostSamplesType: {
        std::uint64_t lost = 0;
        if (perf::parseLost(record, header.size, header.type == perf::kOffCpuLostSamplesType, &lost))
            m_stats.offCpuLost += lost;
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

void RecordProcessor::unwind(const perf_event_header& header, const perf::Sample& sample)
{
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
}

void RecordProcessor::resolveAttribution(std::uint64_t nowNs, bool final)
{
    if (m_attribution)
        m_attribution->resolve(m_aggregate, m_offCpu, nowNs, final);
}

ProfileSnapshot RecordProcessor::snapshot(const ProfileQuery& query, std::uint64_t nowNs, bool offCpu)
{
    StackAggregate& aggregate = offCpu ? m_offCpu : m_aggregate;
    std::function<bool(std::uint32_t)> context;
    if (!query.operation.isEmpty()) // an operation asked of a process whose operations are not known: empty
        context = m_attribution ? m_attribution->filter(query.operation, query.instances)
                                : [](std::uint32_t) { return false; };
    ProfileSnapshot s = aggregate.snapshot(query, nowNs, *m_symbolizer, context);
    const std::uint64_t unknown = s.stats.unknownFrames;
    s.stats = stats();
    s.stats.unknownFrames = unknown;
    s.offCpu = offCpu;
    return s;
}

std::vector<ProfileSnapshot> RecordProcessor::operationSnapshots(std::uint64_t nowNs, bool offCpu)
{
    StackAggregate& aggregate = offCpu ? m_offCpu : m_aggregate;
    std::vector<ProfileSnapshot> out;
    ProfileStats traced;
    if (m_attribution)
        m_attribution->fillStats(&traced);
    if (!traced.operationsTraced) { // a process that is not a client of ours: its plain profile
        out.push_back(snapshot({}, nowNs, offCpu));
        return out;
    }
    for (std::uint32_t c : aggregate.contexts(0, nowNs)) {
        ProfileSnapshot s
            = aggregate.snapshot({}, nowNs, *m_symbolizer, [c](std::uint32_t context) { return context == c; });
        s.operationFrames = m_attribution->foldedFrames(c);
        s.offCpu = offCpu;
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<OperationCpu> RecordProcessor::operations() const
{
    return m_attribution ? m_attribution->operations() : std::vector<OperationCpu> {};
}

PprofProcess RecordProcessor::pprofPart() const
{
    PprofProcess part;
    ProfileStats traced;
    if (m_attribution)
        m_attribution->fillStats(&traced);
    part.offCpuRecorded = m_stats.switches > 0;
    part.threadNames = m_aggregate.threadNames();
    for (const auto& [tid, name] : m_offCpu.threadNames())
        part.threadNames.emplace(tid, name);

    std::unordered_set<std::uint64_t> pcs;
    const auto addCounts = [&](const StackAggregate& aggregate, bool offCpu) {
        const SampleCountMap& counts
            = traced.operationsTraced ? aggregate.sessionAttributed() : aggregate.sessionCounts();
        std::unordered_map<std::uint32_t, std::uint32_t> stacks; // node -> index in part.stacks
        const auto stackOf = [&](std::uint32_t leaf) {
            const auto [it, inserted] = stacks.try_emplace(leaf, std::uint32_t(part.stacks.size()));
            if (inserted) {
                std::vector<std::uint64_t> stack; // leaf first: up the trie
                for (std::uint32_t node = leaf; node != 0; node = aggregate.parentOf(node)) {
                    stack.push_back(aggregate.pcOf(node));
                    pcs.insert(stack.back());
                }
                part.stacks.push_back(std::move(stack));
            }
            return it->second;
        };
        for (const auto& [key, count] : counts) {
            if (count == 0)
                continue;
            PprofProcess::Sample sample;
            sample.stack = stackOf(key.node);
            sample.tid = key.tid;
            sample.context = traced.operationsTraced ? key.context : 0;
            if (offCpu)
                sample.offCpuNs = count * 1000; // counted in microseconds
            else
                sample.cpuSamples = count;
            part.samples.push_back(sample);
        }
        if (!traced.operationsTraced)
            return;
        // What could not be attributed (before tracing, a ring overrun: ProfileStats) stays in
        // the profile, marked so: its totals are the process's.
        SampleCountMap unattributed = aggregate.sessionCounts();
        for (const auto& [key, count] : counts) {
            auto at = unattributed.find({ key.tid, 0, key.node });
            if (at != unattributed.end())
                at->second -= std::min(at->second, count);
        }
        for (const auto& [key, count] : unattributed) {
            if (count == 0)
                continue;
            PprofProcess::Sample sample;
            sample.stack = stackOf(key.node);
            sample.tid = key.tid;
            sample.unattributed = true;
            if (offCpu)
                sample.offCpuNs = count * 1000;
            else
                sample.cpuSamples = count;
            part.samples.push_back(sample);
        }
    };
    addCounts(m_aggregate, false);
    addCounts(m_offCpu, true);

    if (traced.operationsTraced) {
        std::uint32_t contexts = 0;
        for (const PprofProcess::Sample& s : part.samples)
            contexts = std::max(contexts, s.context + 1);
        part.operations.resize(contexts);
        for (std::uint32_t c = 1; c < contexts; ++c)
            part.operations[c] = m_attribution->contextOperations(c);
    }

    // The names, as the symbolizer knows them now: only the functions these addresses use.
    const auto lock = m_symbolizer->lock();
    const FunctionTable& table = m_symbolizer->functions();
    std::unordered_map<std::uint32_t, std::uint32_t> functionIndex; // the table's id -> part.functions
    for (std::uint64_t pc : pcs) {
        const std::vector<std::uint32_t>* ids = m_symbolizer->framesOf(pc);
        if (!ids)
            continue; // not named yet: a location without lines, its address shown
        const std::vector<int>* lines = m_symbolizer->linesOf(pc);
        std::vector<PprofProcess::Frame>& frames = part.frames[pc];
        for (std::size_t i = 0; i < ids->size(); ++i) {
            const auto [it, inserted] = functionIndex.try_emplace((*ids)[i], std::uint32_t(part.functions.size()));
            if (inserted)
                part.functions.push_back(table.at((*ids)[i]));
            frames.push_back({ it->second, lines && i < lines->size() ? (*lines)[i] : 0 });
        }
    }
    part.modules = m_symbolizer->modules();
    return part;
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
    if (m_attribution)
        m_attribution->fillStats(&stats);
    return stats;
}

} // namespace perfdash
