// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/metricsstore.h"

#include <QDateTime>

#include <algorithm>
#include <cmath>

namespace perfdash {

struct MetricsStore::Process
{
    ProcessInfo info;
    // No QObject parent: processes are created on whichever thread feeds the store. Shared, so that
    // a /metrics render, the headless table or the capture writer holding it outlives an eviction.
    std::shared_ptr<PerformanceMonitor> monitor;
    std::unique_ptr<ProcessSampler> sampler;
    std::deque<MemoryRecord> memory;
};

MetricsStore::MetricsStore(QObject* parent)
    : MetricsStore(Clock::system(), parent)
{
}

MetricsStore::MetricsStore(Clock* clock, QObject* parent)
    : QObject(parent)
    , m_clock(clock)
{
    m_slowThresholds.setDefault(m_thresholds.slowNs);
    qRegisterMetaType<perfdash::ProcessInfo>();
    m_samplingThread.setMaxThreadCount(1);
    m_samplingThread.setExpiryTimeout(-1);
    connect(&m_sampling, &QTimer::timeout, this, [this] {
        if (m_samplingThread.activeThreadCount() == 0) // a slow /proc skips a beat rather than queueing
            m_samplingThread.start([this] { sampleProcesses(); });
    });
}

MetricsStore::~MetricsStore()
{
    stop();
}

MetricsStore::Process* MetricsStore::findLocked(quint64 key) const
{
    auto it = m_processes.find(key);
    return it == m_processes.end() ? nullptr : it->second.get();
}

MetricsStore::Process* MetricsStore::createLocked(qint64 pid)
{
    if (m_processes.size() >= std::size_t(MaxProcesses)) {
        // Forget the oldest exited process to make room; live ones are never dropped.
        for (auto it = m_processes.begin(); it != m_processes.end(); ++it) {
            if (it->second->info.state == ProcessInfo::State::Exited
                || it->second->info.state == ProcessInfo::State::Error) {
                m_processes.erase(it); // freed now, or by the last reader still holding it

                break;
            }
        }
        if (m_processes.size() >= std::size_t(MaxProcesses))
            return nullptr;
    }
    auto p = std::make_unique<Process>();
    p->info.key = m_nextKey++;
    p->info.pid = pid;
    p->info.firstSeenMs = p->info.lastSeenMs = QDateTime::currentMSecsSinceEpoch();
    p->monitor = std::make_shared<PerformanceMonitor>(m_clock);
    p->monitor->setMaxOperations(MaxOperationsPerProcess);
    p->monitor->setOverflowOperation(overflowOperationName());
    p->monitor->setSamplingRate(0.0); // raw samples are the ones clients chose to send
    p->monitor->setSlowThreshold(std::chrono::nanoseconds(m_thresholds.slowNs));
    p->monitor->setVerySlowThreshold(std::chrono::nanoseconds(m_thresholds.verySlowNs));
    for (const SlowRule& rule : m_slowThresholds.rules())
        p->monitor->setThresholds(rule.pattern, std::chrono::nanoseconds(rule.slowNs),
            std::chrono::nanoseconds(std::max(rule.slowNs, m_thresholds.verySlowNs)));
    const quint64 key = p->info.key;
    p->monitor->setBudgets(m_budgets);
    connect(p->monitor.get(), &PerformanceMonitor::slowOperation, this,
        [this, key](const OperationSample& sample) { Q_EMIT slowOperation(key, sample); });
    connect(p->monitor.get(), &PerformanceMonitor::budgetViolationChanged, this,
        [this, key](const BudgetViolation& v, bool broken) { Q_EMIT budgetViolationChanged(key, v, broken); });
    p->sampler = std::make_unique<ProcessSampler>(pid);
    Process* raw = p.get();
    m_processes.emplace(key, std::move(p));
    return raw;
}

quint64 MetricsStore::openProcess(qint64 pid, const QString& name, const QStringList& commandLine)
{
    QMutexLocker lock(&m_mutex);
    Process* p = nullptr;
    bool added = false;
    for (auto& [key, candidate] : m_processes) {
        if (candidate->info.pid == pid && candidate->info.state == ProcessInfo::State::ProcOnly) {
            p = candidate.get(); // attached by pid before it connected: the same process
            break;
        }
    }
    if (!p) {
        p = createLocked(pid);
        added = true;
        if (!p)
            return 0;
    }
    p->info.name = name;
    p->info.commandLine = commandLine;
    p->info.instrumented = true;
    p->info.state = ProcessInfo::State::Live;
    p->info.reason.clear();
    p->info.lastSeenMs = QDateTime::currentMSecsSinceEpoch();
    const quint64 key = p->info.key;
    lock.unlock();
    Q_EMIT added ? processAdded(key) : processChanged(key);
    return key;
}

bool MetricsStore::hasRoomFor(qint64 pid) const
{
    QMutexLocker lock(&m_mutex);
    if (m_processes.size() < std::size_t(MaxProcesses))
        return true;
    for (const auto& [key, p] : m_processes) {
        const ProcessInfo::State state = p->info.state;
        if (state == ProcessInfo::State::Exited || state == ProcessInfo::State::Error
            || (state == ProcessInfo::State::ProcOnly && p->info.pid == pid))
            return true;
    }
    return false;
}

void MetricsStore::closeProcess(quint64 key, const QString& error)
{
    QMutexLocker lock(&m_mutex);
    Process* p = findLocked(key);
    if (!p)
        return;
    p->info.state = error.isEmpty() ? ProcessInfo::State::Exited : ProcessInfo::State::Error;
    p->info.reason = error.isEmpty() ? tr("disconnected") : error;
    p->info.cpuPercent.reset();
    lock.unlock();
    Q_EMIT processChanged(key);
}

quint64 MetricsStore::attachPid(qint64 pid, QString* error)
{
    ProcessSampler probe(pid);
    const ProcessSample first = probe.sample();
    if (!first.isValid() && first.status != ProcessSample::Status::NoMemoryMap) { // one just launched is welcome
        if (error)
            *error = first.error;
        return 0;
    }
    QMutexLocker lock(&m_mutex);
    for (auto& [key, p] : m_processes) {
        if (p->info.pid == pid
            && (p->info.state == ProcessInfo::State::Live || p->info.state == ProcessInfo::State::ProcOnly))
            return key;
    }
    Process* p = createLocked(pid);
    if (!p) {
        if (error)
            *error = tr("too many processes (at most %1)").arg(MaxProcesses);
        return 0;
    }
    p->info.name = first.name;
    p->info.commandLine = first.commandLine;
    p->info.state = ProcessInfo::State::ProcOnly;
    p->sampler = std::make_unique<ProcessSampler>(std::move(probe));
    const quint64 key = p->info.key;
    lock.unlock();
    Q_EMIT processAdded(key);
    return key;
}

QString MetricsStore::overflowOperationName()
{
    return tr("(other operations: over %1 names)").arg(MaxOperationsPerProcess);
}

void MetricsStore::recordHistogram(
    quint64 key, const QString& operation, const SparseHistogram& histogram, quint64 errors)
{
    if (auto m = sharedMonitor(key))
        m->recordHistogram(operation, histogram, errors);
}

void MetricsStore::recordOperation(
    quint64 key, const QString& operation, quint64 durationNs, bool ok, const QVariantMap& metadata)
{
    if (auto m = sharedMonitor(key))
        m->record(operation, std::chrono::nanoseconds(durationNs), ok, metadata);
}

void MetricsStore::recordEvent(quint64 key, OperationSample sample)
{
    if (auto m = sharedMonitor(key))
        m->addSample(std::move(sample));
}

void MetricsStore::recordMemory(quint64 key, qint64 rssBytes, qint64 heapBytes)
{
    QMutexLocker lock(&m_mutex);
    if (Process* p = findLocked(key)) {
        // No process has more than 2^48 bytes (256 TiB) of memory: a larger figure is a client's bug.
        constexpr qint64 MaxBytes = qint64(1) << 48;
        if (rssBytes > MaxBytes || heapBytes > MaxBytes) {
            ++p->info.refusedValues;
            ++m_refusals.invalidValues;
            p->info.lastProblem = tr("a memory figure over 256 TiB was refused");
            rssBytes = rssBytes > MaxBytes ? -1 : rssBytes;
            heapBytes = heapBytes > MaxBytes ? -1 : heapBytes;
        }
        // /proc sampling writes the rows; the client's own figures fill them in.
        if (rssBytes >= 0)
            p->info.rssBytes = rssBytes;
        if (heapBytes >= 0)
            p->info.heapBytes = heapBytes;
    }
}

void MetricsStore::recordHeapOfPid(qint64 pid, qint64 heapBytes)
{
    quint64 found = 0;
    {
        QMutexLocker lock(&m_mutex);
        for (auto& [key, p] : m_processes) {
            if (p->info.pid == pid
                && (p->info.state == ProcessInfo::State::Live || p->info.state == ProcessInfo::State::ProcOnly))
                found = key;
        }
    }
    if (found)
        recordMemory(found, -1, heapBytes);
}

void MetricsStore::setMetric(quint64 key, const QString& name, bool gauge, double value)
{
    QMutexLocker lock(&m_mutex);
    if (Process* p = findLocked(key)) {
        QHash<QString, double>& values = gauge ? p->info.gauges : p->info.counters;
        const int max = gauge ? MaxGaugesPerProcess : MaxCountersPerProcess;
        if (!std::isfinite(value)) {
            ++p->info.refusedValues;
            ++m_refusals.invalidValues;
            p->info.lastProblem
                = tr("%1 '%2' is not a finite number; refused").arg(gauge ? tr("gauge") : tr("counter"), name);
        } else if (values.size() < max || values.contains(name)) {
            values.insert(name, value);
        } else {
            ++p->info.refusedValues;
            ++(gauge ? m_refusals.gaugeLimit : m_refusals.counterLimit);
            p->info.lastProblem = tr("more than %1 %2 names; '%3' and later ones are refused")
                                      .arg(max)
                                      .arg(gauge ? tr("gauge") : tr("counter"), name);
        }
    }
}

void MetricsStore::addRefusedValue(quint64 key, const QString& problem)
{
    QMutexLocker lock(&m_mutex);
    ++m_refusals.invalidValues;
    if (Process* p = findLocked(key)) {
        ++p->info.refusedValues;
        p->info.lastProblem = problem;
    }
}

void MetricsStore::addRefusedForProcessLimit(quint64 messages, bool newConnection)
{
    QMutexLocker lock(&m_mutex);
    m_refusals.processLimit += messages;
    m_refusals.processLimitConnections += newConnection ? 1 : 0;
}

MetricsStore::Refusals MetricsStore::refusals() const
{
    QMutexLocker lock(&m_mutex);
    return m_refusals;
}

void MetricsStore::restoreRefusals(const Refusals& saved)
{
    QMutexLocker lock(&m_mutex);
    m_refusals.processLimit += saved.processLimit;
    m_refusals.processLimitConnections += saved.processLimitConnections;
    m_refusals.counterLimit += saved.counterLimit;
    m_refusals.gaugeLimit += saved.gaugeLimit;
    m_refusals.invalidValues += saved.invalidValues;
}

void MetricsStore::setDrops(quint64 key, quint64 events, quint64 bytes, quint64 operations)
{
    QMutexLocker lock(&m_mutex);
    if (Process* p = findLocked(key)) {
        p->info.droppedEvents = events;
        p->info.droppedBytes = bytes;
        p->info.lostOperations = operations;
    }
}

void MetricsStore::addMalformed(quint64 key, quint64 count, const QString& problem)
{
    QMutexLocker lock(&m_mutex);
    if (Process* p = findLocked(key)) {
        p->info.malformed += count;
        p->info.lastProblem = problem;
    }
}

void MetricsStore::sampleProcesses()
{
    QList<quint64> changed;
    QMutexLocker lock(&m_mutex);
    for (auto& [key, p] : m_processes) {
        const auto state = p->info.state;
        if (state != ProcessInfo::State::Live && state != ProcessInfo::State::ProcOnly)
            continue;
        const ProcessSample s = p->sampler->sample();
        // Attached before /proc could name it: named by its first sample that can (its comm).
        if (p->info.name.isEmpty() && !s.name.isEmpty()) {
            p->info.name = s.name;
            changed.append(key);
        }
        if (s.status == ProcessSample::Status::NoMemoryMap)
            continue; // starting up: nothing to record yet, and nothing has ended
        if (!s.isValid()) {
            if (state == ProcessInfo::State::ProcOnly) {
                p->info.state = ProcessInfo::State::Exited;
                p->info.reason = s.error;
                p->info.cpuPercent.reset();
                changed.append(key);
            }
            continue; // a live connection says itself when it ends
        }
        p->info.lastSeenMs = s.timestampMs;
        p->info.rssBytes = s.rssBytes;
        p->info.cpuPercent = s.cpuPercent;
        p->memory.push_back(
            MemoryRecord { s.timestampMs, p->info.pid, {}, s.rssBytes, p->info.heapBytes, s.cpuPercent });
        if (p->memory.size() > std::size_t(MaxMemoryRecordsPerProcess))
            p->memory.pop_front();
    }
    lock.unlock();
    for (quint64 key : changed)
        Q_EMIT processChanged(key);
}

void MetricsStore::start(std::chrono::milliseconds interval)
{
    sampleProcesses();
    m_sampling.start(interval);
}

void MetricsStore::stop()
{
    m_sampling.stop();
    m_samplingThread.waitForDone();
}

ProcessInfo MetricsStore::infoLocked(const Process& p) const
{
    ProcessInfo info = p.info;
    if (auto total = p.monitor->aggregateStats(QString()); total) {
        info.operations = total->count;
        info.operationsPerSecond = double(p.monitor->aggregateStats(QString(), StatsWindow::last(10))->count) / 10.0;
    }
    // A capture's count (restoreProcess()) is the recorded one; replaying its overflow row does not recount it.
    info.droppedOperations = std::max(p.info.droppedOperations, p.monitor->droppedOperations());
    return info;
}

QList<ProcessInfo> MetricsStore::processes() const
{
    QMutexLocker lock(&m_mutex);
    QList<ProcessInfo> out;
    for (const auto& [key, p] : m_processes)
        out.append(infoLocked(*p));
    return out;
}

std::optional<ProcessInfo> MetricsStore::process(quint64 key) const
{
    QMutexLocker lock(&m_mutex);
    if (const Process* p = findLocked(key))
        return infoLocked(*p);
    return std::nullopt;
}

QString MetricsStore::processName(quint64 key) const
{
    QMutexLocker lock(&m_mutex);
    const Process* p = findLocked(key);
    return p ? p->info.name : QString();
}

std::shared_ptr<PerformanceMonitor> MetricsStore::sharedMonitor(quint64 key) const
{
    QMutexLocker lock(&m_mutex);
    const Process* p = findLocked(key);
    return p ? p->monitor : nullptr;
}

QList<ProcessStatistics> MetricsStore::statistics(StatsWindow window) const
{
    QMutexLocker lock(&m_mutex);
    QList<ProcessStatistics> out;
    for (const auto& [key, p] : m_processes) {
        if (p->info.instrumented)
            out.append(csvexport::statisticsOf(*p->monitor, p->info.pid, p->info.name, window));
    }
    return out;
}

QList<OperationSeries> MetricsStore::series() const
{
    QMutexLocker lock(&m_mutex);
    QList<OperationSeries> out;
    for (const auto& [key, p] : m_processes) {
        if (p->info.instrumented)
            out.append(csvexport::seriesOf(*p->monitor, p->info.pid, p->info.name));
    }
    return out;
}

QList<MemoryRecord> MetricsStore::memoryRecords(quint64 only) const
{
    QMutexLocker lock(&m_mutex);
    QList<MemoryRecord> out;
    for (const auto& [key, p] : m_processes) {
        if (only && key != only)
            continue;
        for (MemoryRecord r : p->memory) {
            r.process = p->info.name;
            out.append(std::move(r));
        }
    }
    std::stable_sort(out.begin(), out.end(),
        [](const MemoryRecord& a, const MemoryRecord& b) { return a.timestampMs < b.timestampMs; });
    return out;
}

void MetricsStore::setSlowThreshold(std::chrono::nanoseconds slow, std::chrono::nanoseconds verySlow)
{
    QMutexLocker lock(&m_mutex);
    m_thresholds = Thresholds { quint64(slow.count()), quint64(verySlow.count()) };
    m_slowThresholds.setDefault(m_thresholds.slowNs);
    for (auto& [key, p] : m_processes) {
        p->monitor->setSlowThreshold(slow);
        p->monitor->setVerySlowThreshold(verySlow);
    }
}

void MetricsStore::setSlowRules(const QList<SlowRule>& rules)
{
    QMutexLocker lock(&m_mutex);
    const QList<SlowRule> old = m_slowThresholds.rules();
    m_slowThresholds.setRules(rules);
    for (auto& [key, p] : m_processes) {
        for (const SlowRule& rule : old)
            p->monitor->removeThresholds(rule.pattern);
        // A rule sets the slow limit; very slow stays the default one, or the rule's when higher.
        for (const SlowRule& rule : rules)
            p->monitor->setThresholds(rule.pattern, std::chrono::nanoseconds(rule.slowNs),
                std::chrono::nanoseconds(std::max(rule.slowNs, m_thresholds.verySlowNs)));
    }
}

void MetricsStore::addMemoryRecord(quint64 key, const MemoryRecord& record)
{
    QMutexLocker lock(&m_mutex);
    if (Process* p = findLocked(key)) {
        p->memory.push_back(record);
        if (p->memory.size() > std::size_t(MaxMemoryRecordsPerProcess))
            p->memory.pop_front();
        p->info.rssBytes = record.rssBytes;
        p->info.heapBytes = record.heapBytes;
    }
}

void MetricsStore::restoreProcess(quint64 key, const ProcessInfo& saved)
{
    QMutexLocker lock(&m_mutex);
    if (Process* p = findLocked(key)) {
        p->info.state = saved.state == ProcessInfo::State::Live || saved.state == ProcessInfo::State::ProcOnly
            ? ProcessInfo::State::Exited // nothing runs in a capture
            : saved.state;
        p->info.reason = saved.reason.isEmpty() ? tr("recorded in a capture") : saved.reason;
        p->info.instrumented = saved.instrumented;
        p->info.firstSeenMs = saved.firstSeenMs;
        p->info.lastSeenMs = saved.lastSeenMs;
        p->info.counters = saved.counters;
        p->info.gauges = saved.gauges;
        p->info.droppedEvents = saved.droppedEvents;
        p->info.droppedBytes = saved.droppedBytes;
        p->info.lostOperations = saved.lostOperations;
        p->info.malformed = saved.malformed;
        p->info.refusedValues = saved.refusedValues;
        p->info.droppedOperations = saved.droppedOperations;
        p->info.cpuPercent.reset();
    }
}

Thresholds MetricsStore::thresholds() const
{
    QMutexLocker lock(&m_mutex);
    return m_thresholds;
}

void MetricsStore::setBudgets(const QList<Budget>& budgets)
{
    QMutexLocker lock(&m_mutex);
    m_budgets = budgets;
    for (auto& [key, p] : m_processes)
        p->monitor->setBudgets(budgets);
}

QList<Budget> MetricsStore::budgets() const
{
    QMutexLocker lock(&m_mutex);
    return m_budgets;
}

void MetricsStore::checkBudgets()
{
    QList<std::shared_ptr<PerformanceMonitor>> monitors;
    {
        QMutexLocker lock(&m_mutex);
        for (auto& [key, p] : m_processes)
            monitors.append(p->monitor);
    }
    for (const auto& m : std::as_const(monitors))
        m->checkBudgets(); // emits outside the store's lock
}

QList<std::pair<quint64, BudgetViolation>> MetricsStore::budgetViolations() const
{
    QMutexLocker lock(&m_mutex);
    QList<std::pair<quint64, BudgetViolation>> out;
    for (const auto& [key, p] : m_processes) {
        for (const BudgetViolation& v : p->monitor->budgetViolations())
            out.append({ key, v });
    }
    std::stable_sort(
        out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second.severity > b.second.severity; });
    return out;
}

} // namespace perfdash
