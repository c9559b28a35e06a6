// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/processprofiler.h"

#include "core/procfs.h"
#include "profiler/perfrecords.h"
#include "profiler/recordprocessor.h"
#include "profiler/recordqueue.h"

#include <linux/perf_event.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace perfdash {
namespace {
std::uint64_t monotonicNs()
{
    timespec ts {};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000ull + std::uint64_t(ts.tv_nsec);
}

/// Some thread still runs. Not kill(pid, 0), which succeeds on a zombie waiting for its parent;
/// not the leader's state alone, which is Z once a main thread called pthread_exit. A thread
/// whose stat cannot be read is gone.
bool processAlive(qint64 pid)
{
    const ProcFs proc;
    const QList<qint64> tids = proc.tasks(pid).value_or(QList<qint64>());
    return std::any_of(tids.begin(), tids.end(), [&](qint64 tid) {
        const std::optional<ProcStat> stat = proc.taskStat(pid, tid);
        return stat && !stat->exited();
    });
}
} // namespace

ProcessProfiler::ProcessProfiler(qint64 pid, QObject* parent)
    : ProcessProfiler(pid, Options {}, PerfSystem::real(), parent)
{
}

ProcessProfiler::ProcessProfiler(qint64 pid, const Options& options, PerfSystem system, QObject* parent)
    : QObject(parent)
    , m_pid(pid)
    , m_options(options)
    , m_source(std::make_unique<PerfEventSource>(std::move(system)))
    , m_threadNames(pid)
{
    qRegisterMetaType<ProfileSnapshotPtr>();
}

ProcessProfiler::~ProcessProfiler()
{
    stop();
}

bool ProcessProfiler::start(QString* error)
{
    QString why;
    const ProcFs proc;
    m_name = proc.comm(m_pid).value_or(QString());
    PerfEventSource::Options options;
    options.frequencyHz = m_options.frequencyHz;
    options.stackBytes = m_options.stackBytes;
    options.offCpu = m_options.offCpu;
    if (!m_source->open(pid_t(m_pid), options, &why)) {
        if (error)
            *error = why;
        Q_EMIT problem(why);
        return false;
    }
    m_frequencyHz = m_source->frequencyHz();
    m_queue = std::make_unique<RecordQueue>();
    readCpuTimes();
    // The events sample from now on: the reader first, before anything that takes time (the
    // processor reads every module's mappings).
    m_reader = std::thread([this] { read(); });
    auto processor = std::make_unique<RecordProcessor>(pid_t(m_pid), m_source->regCount());
    if (m_options.timeline)
        processor->setAttribution(std::make_unique<OperationAttribution>(m_pid, m_options.timeline,
            m_options.slowThresholds, 1'000'000'000ull / std::uint64_t(std::max(1, m_frequencyHz)), monotonicNs()));
    {
        std::lock_guard lock(m_mutex);
        m_processor = std::move(processor);
    }
    for (const qint64 tid : proc.tasks(m_pid).value_or(QList<qint64>()))
        m_processor->setThreadName(tid, proc.taskComm(m_pid, tid).value_or(QString()));
    m_processing = std::thread([this] { processRecords(); });
    return true;
}

void ProcessProfiler::stop()
{
    m_stop.store(true);
    if (m_reader.joinable())
        m_reader.join();
    if (m_processing.joinable())
        m_processing.join();
    {
        std::lock_guard lock(m_mutex);
        if (m_processor)
            m_processor->resolveAttribution(monotonicNs(), true); // the profile is complete: nothing waits
    }
    waitNamed(30000); // what is read is named before anyone exports it
}

bool ProcessProfiler::readCpuTimes()
{
    const std::optional<ProcStat> stat = ProcFs().stat(m_pid);
    if (!stat)
        return false;
    const CpuTimes times { monotonicNs(), stat->utimeTicks, stat->stimeTicks };
    std::lock_guard lock(m_cpuMutex);
    if (!m_firstCpuTimes)
        m_firstCpuTimes = times;
    m_cpuTimes.push_back(times);
    while (m_cpuTimes.size() > 2 && m_cpuTimes.front().timeNs + 61'000'000'000ull < times.timeNs)
        m_cpuTimes.pop_front();
    return true;
}

double ProcessProfiler::kernelShare(int lastSeconds) const
{
    std::lock_guard lock(m_cpuMutex);
    if (!m_firstCpuTimes || m_cpuTimes.empty())
        return -1;
    const CpuTimes& last = m_cpuTimes.back();
    CpuTimes first = *m_firstCpuTimes;
    if (lastSeconds > 0) {
        const std::uint64_t from
            = last.timeNs - std::min<std::uint64_t>(last.timeNs, std::uint64_t(lastSeconds) * 1'000'000'000ull);
        const auto it
            = std::find_if(m_cpuTimes.begin(), m_cpuTimes.end(), [&](const CpuTimes& t) { return t.timeNs >= from; });
        first = it != m_cpuTimes.end() ? *it : last;
    }
    const std::uint64_t user = last.user - first.user, kernel = last.kernel - first.kernel;
    return user + kernel == 0 ? -1 : double(kernel) / double(user + kernel);
}

void ProcessProfiler::read()
{
    // Copies only: every record goes into the queue at once, whatever the processor is doing.
    std::uint64_t lastCheck = monotonicNs();
    bool rescanned = false;
    const auto copy = [this](const perf_event_header& header, const std::uint8_t* record) {
        if (header.type == PERF_RECORD_FORK) {
            std::uint32_t pid = 0, tid = 0;
            if (perf::parseTask(record, header.size, &pid, &tid) && qint64(pid) == m_pid)
                m_source->noteInheritedThread(pid_t(tid));
        }
        m_queue->append(header, record);
    };
    bool gone = false;
    while (!m_stop.load()) {
        const bool open = m_source->wait(50);
        m_source->drain(copy);
        m_queue->publish();
        if (!open && processAlive(m_pid)) {
            // The thread that owns the buffers ended (a main thread that called pthread_exit) while
            // others run and still write into them: poll no longer waits, so pace the reads.
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        const std::uint64_t now = monotonicNs();
        if (!rescanned && now - lastCheck > 50'000'000) {
            // Threads created while start() opened the events were not inherited by anything:
            // once the fork records of that time are read, whatever is still unknown is opened.
            rescanned = true;
            m_source->addMissingThreads();
        }
        if (!open || now - lastCheck > 500'000'000) {
            lastCheck = now;
            const bool alive = readCpuTimes() && processAlive(m_pid);
            if (!open || !alive) {
                gone = true;
                break;
            }
        }
    }
    m_source->drain(copy);
    if (gone)
        m_exitSeen.store(true);
    m_queue->close();
}

void ProcessProfiler::processRecords()
{
    const auto handle = [this](const perf_event_header& header, const std::uint8_t* record) {
        // A new thread is named when a view asks (nameThreads()): no file is read on this path.
        m_processor->process(header, record);
        if (header.type == PERF_RECORD_SAMPLE)
            m_samples.store(m_processor->aggregate().samples(), std::memory_order_relaxed);
    };
    std::uint64_t resolved = 0;
    for (;;) {
        const bool more = m_queue->wait(50);
        std::lock_guard lock(m_mutex); // per batch, not per record: snapshots come in between
        if (more)
            m_queue->take(handle);
        // Samples are attributed to operations once their thread's ring is read: a little later.
        if (const std::uint64_t now = monotonicNs(); !more || now - resolved >= 50'000'000) {
            m_processor->resolveAttribution(now, !more && m_exitSeen.load());
            resolved = now;
        }
        if (!more)
            break;
    }
    if (!m_exitSeen.load())
        return;
    // The process is gone and its last samples are read: once they are named, say so.
    m_processor->waitNamed(30000);
    m_exited.store(true);
    QMetaObject::invokeMethod(
        this, [this] { Q_EMIT exited(); }, Qt::QueuedConnection);
}

ProfileSnapshotPtr ProcessProfiler::snapshot(const ProfileQuery& query, bool offCpu) const
{
    auto snapshot = std::make_shared<ProfileSnapshot>();
    {
        std::lock_guard lock(m_mutex);
        if (m_processor)
            *snapshot = m_processor->snapshot(query, monotonicNs(), offCpu);
    }
    snapshot->pid = m_pid;
    snapshot->process = m_name;
    snapshot->offCpu = offCpu;
    nameThreads(&snapshot->threads);
    fillStats(&snapshot->stats, query.lastSeconds);
    return snapshot;
}

std::vector<ProfileSnapshotPtr> ProcessProfiler::operationSnapshots(bool offCpu) const
{
    std::vector<ProfileSnapshot> parts;
    {
        std::lock_guard lock(m_mutex);
        if (m_processor)
            parts = m_processor->operationSnapshots(monotonicNs(), offCpu);
    }
    std::vector<ProfileSnapshotPtr> out;
    for (ProfileSnapshot& part : parts) {
        part.pid = m_pid;
        part.process = m_name;
        nameThreads(&part.threads);
        fillStats(&part.stats, 0);
        out.push_back(std::make_shared<const ProfileSnapshot>(std::move(part)));
    }
    return out;
}

std::vector<OperationCpu> ProcessProfiler::operations() const
{
    std::lock_guard lock(m_mutex);
    return m_processor ? m_processor->operations() : std::vector<OperationCpu> {};
}

PprofProcess ProcessProfiler::pprofPart() const
{
    PprofProcess part;
    {
        std::lock_guard lock(m_mutex);
        if (m_processor)
            part = m_processor->pprofPart();
    }
    part.pid = m_pid;
    part.name = m_name;
    for (const PprofProcess::Sample& sample : part.samples)
        part.threadNames.try_emplace(sample.tid);
    for (auto& [tid, name] : part.threadNames)
        name = m_threadNames.name(tid, name);
    part.frequencyHz = m_frequencyHz;
    std::lock_guard lock(m_cpuMutex);
    if (m_firstCpuTimes && !m_cpuTimes.empty())
        part.durationNs = m_cpuTimes.back().timeNs - m_firstCpuTimes->timeNs;
    return part;
}

void ProcessProfiler::nameThreads(std::vector<ProfileThread>* threads) const
{
    for (ProfileThread& thread : *threads)
        thread.name = m_threadNames.name(thread.tid, thread.name);
}

void ProcessProfiler::fillStats(ProfileStats* stats, int lastSeconds) const
{
    stats->frequencyHz = m_frequencyHz;
    stats->exited = m_exited.load();
    stats->kernelSampled = m_source && m_source->kernelSampled();
    stats->offCpuRecorded = m_source && m_source->offCpuSwitchesRecorded();
    if (m_source)
        stats->offCpuProblem = m_source->offCpuProblem();
    if (m_queue) {
        stats->queueRefused = m_queue->refusedSamples();
        stats->lost += stats->queueRefused;
    }
    stats->kernelShare = kernelShare(lastSeconds);
}

ProfileStats ProcessProfiler::stats() const
{
    ProfileStats stats;
    {
        std::lock_guard lock(m_mutex);
        if (m_processor)
            stats = m_processor->stats();
    }
    fillStats(&stats, 0);
    return stats;
}

bool ProcessProfiler::waitNamed(int timeoutMs) const
{
    // Not under m_mutex: the processor goes on meanwhile (the symbolizer is thread-safe, and the
    // processor is set once, by start(), before any thread runs).
    return !m_processor || m_processor->waitNamed(timeoutMs);
}

} // namespace perfdash
