// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/operationattribution.h"

#include "core/slowthresholds.h"
#include "profiler/stackaggregate.h"

#include <algorithm>

namespace perfdash {

static_assert(std::tuple_size_v<decltype(ProfileStats::unattributed)> == OperationTimeline::GapCount);

OperationAttribution::OperationAttribution(qint64 pid, OperationTimeline* timeline, const SlowThresholds* thresholds,
    std::uint64_t samplePeriodNs, std::uint64_t startNs)
    : m_pid(pid)
    , m_timeline(timeline)
    , m_thresholds(thresholds)
    , m_periodNs(samplePeriodNs)
    , m_startNs(startNs)
    , m_wallUntilNs(startNs)
{
    m_contexts.emplace_back(); // 0: outside any operation
}

void OperationAttribution::addSample(std::uint32_t tid, std::uint64_t timeNs, std::uint32_t node)
{
    if (m_pending.size() >= kMaxPending) {
        ++m_gaps[std::size_t(OperationTimeline::Gap::Expired)];
        return;
    }
    m_pending.push_back({ timeNs, 1, m_periodNs, tid, node, false });
}

void OperationAttribution::addOffCpu(
    std::uint32_t tid, std::uint64_t timeNs, std::uint32_t node, std::uint64_t micros, std::uint64_t ns)
{
    if (m_pending.size() >= kMaxPending)
        return; // counted off CPU in the process's profile; not attributed
    m_pending.push_back({ timeNs, micros, ns, tid, node, true });
}

std::uint32_t OperationAttribution::nameId(const QString& name)
{
    if (const auto it = m_nameIds.constFind(name); it != m_nameIds.cend())
        return it.value();
    const auto id = std::uint32_t(m_names.size());
    m_nameIds.insert(name, id);
    m_names.push_back(name);
    m_thresholdCache.push_back(~quint64(0));
    OperationCpu op;
    op.operation = name;
    m_operations.push_back(op);
    return id;
}

quint64 OperationAttribution::thresholdOf(std::uint32_t name)
{
    if (!m_thresholds)
        return 0;
    if (const quint64 generation = m_thresholds->generation(); generation != m_thresholdGeneration) {
        m_thresholdGeneration = generation;
        std::fill(m_thresholdCache.begin(), m_thresholdCache.end(), ~quint64(0));
    }
    quint64& cached = m_thresholdCache[name];
    if (cached == ~quint64(0))
        cached = m_thresholds->thresholdFor(m_names[name]);
    return cached;
}

std::uint32_t OperationAttribution::contextOf(const std::vector<Frame>& frames)
{
    std::vector<std::uint32_t> key;
    key.reserve(frames.size());
    for (const Frame& f : frames)
        key.push_back(f.name << 1 | (f.slow ? 1u : 0u));
    const auto [it, inserted] = m_contextIds.try_emplace(std::move(key), std::uint32_t(m_contexts.size()));
    if (inserted)
        m_contexts.push_back(frames);
    return it->second;
}

OperationCpu& OperationAttribution::operation(std::uint32_t name)
{
    return m_operations[name];
}

void OperationAttribution::countGap(const Pending& p, OperationTimeline::Gap gap)
{
    if (!p.offCpu)
        ++m_gaps[std::size_t(gap)];
}

bool OperationAttribution::settle(const Pending& p, const OperationTimeline::Answer& answer, std::uint64_t nowNs,
    bool final, StackAggregate& cpu, StackAggregate& offCpu)
{
    const std::uint64_t age = nowNs > p.timeNs ? nowNs - p.timeNs : 0;
    if (answer.gap == OperationTimeline::Gap::AskAgain && !final && age < kPatienceNs)
        return false;
    if (answer.gap != OperationTimeline::Gap::None) {
        countGap(p, answer.gap);
        return true;
    }
    std::vector<Frame> frames;
    frames.reserve(answer.stack.size());
    for (const OperationTimeline::Instance& instance : answer.stack) {
        const std::uint32_t name = nameId(instance.name);
        const quint64 threshold = thresholdOf(name);
        bool slow = false;
        if (threshold && instance.startNs >= 0) {
            if (instance.endNs >= 0) {
                slow = quint64(instance.endNs - instance.startNs) >= threshold;
            } else if (answer.knownUntilNs >= instance.startNs
                && quint64(answer.knownUntilNs - instance.startNs) >= threshold) {
                slow = true; // still open, and already past its threshold: slow whatever comes
            } else if (!final && age < kOpenPatienceNs) {
                return false; // open and under its threshold so far: its end decides
            }
        }
        frames.push_back({ name, slow });
    }
    const std::uint32_t context = contextOf(frames);
    (p.offCpu ? offCpu : cpu).addAttributed({ p.tid, context, p.node }, p.timeNs, p.micros);
    if (!p.offCpu)
        ++(frames.empty() ? m_outside : m_inside);
    // Inclusive, once per operation however often it recurs in the stack; only instances that began
    // while profiled, so that the CPU is measured against the wall time of the same instances.
    m_scratchNames.clear();
    for (std::size_t k = 0; k < frames.size(); ++k) {
        const std::uint32_t name = frames[k].name;
        if (answer.stack[k].startNs < qint64(m_startNs)
            || std::find(m_scratchNames.begin(), m_scratchNames.end(), name) != m_scratchNames.end())
            continue;
        m_scratchNames.push_back(name);
        OperationCpu& op = operation(name);
        if (p.offCpu) {
            op.offCpuNs += p.ns;
        } else {
            ++op.samples;
            op.slowSamples += frames[k].slow ? 1 : 0;
            op.cpuNs += p.ns;
        }
    }
    return true;
}

void OperationAttribution::resolve(StackAggregate& cpu, StackAggregate& offCpu, std::uint64_t nowNs, bool final)
{
    // Kept once known: the reader forgets a process some time after it exits.
    if (m_timeline->traces(m_pid)) {
        m_traced = true;
        m_problem = m_timeline->problems(m_pid);
    }
    if (!m_pending.empty()) {
        std::vector<OperationTimeline::Query> queries;
        queries.reserve(m_pending.size());
        for (const Pending& p : m_pending)
            queries.push_back({ p.tid, qint64(p.timeNs) });
        const std::vector<OperationTimeline::Answer> answers = m_timeline->activeOperations(m_pid, queries);
        std::deque<Pending> waiting;
        for (std::size_t k = 0; k < m_pending.size(); ++k) {
            const OperationTimeline::Answer none { OperationTimeline::Gap::NotTraced, {}, -1 };
            if (!settle(m_pending[k], k < answers.size() ? answers[k] : none, nowNs, final, cpu, offCpu))
                waiting.push_back(m_pending[k]);
        }
        m_pending.swap(waiting);
    }
    // Wall time: the instances that ended by now, read a little behind the rings (they are read
    // every few milliseconds), each once.
    const std::uint64_t until = final ? nowNs : nowNs - std::min<std::uint64_t>(nowNs, 300'000'000);
    if (until > m_wallUntilNs) {
        m_timeline->endedInstances(
            m_pid, qint64(m_wallUntilNs), qint64(until), [&](const QString& name, qint64 startNs, qint64 endNs) {
                if (startNs < qint64(m_startNs) || endNs < startNs)
                    return;
                OperationCpu& op = operation(nameId(name));
                op.wallNs += std::uint64_t(endNs - startNs);
                ++op.instances;
            });
        m_wallUntilNs = until;
    }
}

std::function<bool(std::uint32_t)> OperationAttribution::filter(const QString& operation, InstanceFilter filter) const
{
    const auto it = m_nameIds.find(operation);
    if (it == m_nameIds.end())
        return [](std::uint32_t) { return false; };
    // Which contexts hold the operation (an instance of it of the kind asked for), decided once.
    std::vector<bool> accepted(m_contexts.size(), false);
    for (std::size_t c = 0; c < m_contexts.size(); ++c) {
        for (const Frame& f : m_contexts[c]) {
            if (f.name != it.value())
                continue;
            // Recursion: the outermost instance of the operation decides.
            accepted[c] = filter == InstanceFilter::All || (filter == InstanceFilter::Slow) == f.slow;
            break;
        }
    }
    return [accepted = std::move(accepted)](
               std::uint32_t context) { return context < accepted.size() && accepted[context]; };
}

QString OperationAttribution::foldedFrames(std::uint32_t context) const
{
    QString out;
    if (context >= m_contexts.size())
        return out;
    for (const Frame& f : m_contexts[context]) {
        if (!out.isEmpty())
            out += QLatin1Char(';');
        out += QLatin1Char('[') + foldedFrameName(m_names[f.name])
            + (f.slow ? QStringLiteral(" slow]") : QStringLiteral("]"));
    }
    return out;
}

std::vector<std::pair<QString, bool>> OperationAttribution::contextOperations(std::uint32_t context) const
{
    std::vector<std::pair<QString, bool>> out;
    if (context < m_contexts.size()) {
        for (const Frame& f : m_contexts[context])
            out.emplace_back(m_names[f.name], f.slow);
    }
    return out;
}

std::vector<OperationCpu> OperationAttribution::operations() const
{
    return m_operations;
}

void OperationAttribution::fillStats(ProfileStats* stats) const
{
    stats->operationsTraced = m_traced;
    stats->insideOperations = m_inside;
    stats->outsideOperations = m_outside;
    stats->attributionPending
        = std::size_t(std::count_if(m_pending.begin(), m_pending.end(), [](const Pending& p) { return !p.offCpu; }));
    std::copy(m_gaps.begin(), m_gaps.end(), stats->unattributed.begin());
    stats->operationsProblem = m_problem;
}

} // namespace perfdash
