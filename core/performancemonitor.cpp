// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/performancemonitor.h"

#include "core/globpattern.h"

#include <QMetaMethod>
#include <QThread>

#include <algorithm>
#include <deque>

namespace perfdash {

struct PerformanceMonitor::Entry
{
    OperationHistory history;
    std::deque<OperationSample> samples;
    quint64 slowCount = 0;
    bool fromSenderBuckets = false; // some of its counts came from a sender's buckets
    Thresholds thresholds;
    quint64 thresholdsGeneration = ~quint64(0);
};

namespace {
bool underPrefix(const QString& name, const QString& prefix)
{
    return prefix.isEmpty() || name.startsWith(prefix);
}

QString violationKey(const QString& operation, const Budget& budget)
{
    return operation + QChar(0x1f) + budget.pattern + QChar(0x1f) + QString::number(budget.percentile);
}
} // namespace

PerformanceMonitor::PerformanceMonitor(QObject* parent)
    : PerformanceMonitor(Clock::system(), parent)
{
}

PerformanceMonitor::PerformanceMonitor(Clock* clock, QObject* parent)
    : QObject(parent)
    , m_clock(clock)
    , m_random(std::random_device {}())
{
    Q_ASSERT(clock);
    qRegisterMetaType<perfdash::OperationSample>();
    qRegisterMetaType<perfdash::BudgetViolation>();
    qRegisterMetaType<perfdash::OperationStats>();
}

PerformanceMonitor::~PerformanceMonitor() = default;

Q_GLOBAL_STATIC(PerformanceMonitor, globalMonitor)

PerformanceMonitor* PerformanceMonitor::instance()
{
    return globalMonitor();
}

void PerformanceMonitor::finishOperation(const QString& name, qint64 startNs, bool ok, const QVariantMap& metadata)
{
    record(name, std::chrono::nanoseconds(m_clock->monotonicNs() - startNs), ok, metadata);
}

void PerformanceMonitor::record(
    const QString& name, std::chrono::nanoseconds duration, bool ok, const QVariantMap& metadata)
{
    const quint64 ns = quint64(std::max<std::chrono::nanoseconds::rep>(0, duration.count()));
    QMutexLocker lock(&m_mutex);
    const qint64 now = m_clock->wallMs();
    Entry* entry = entryLocked(name);
    if (!entry)
        return;
    entry->history.record(now, ns, ok);

    const auto severity = severityLocked(name, ns);
    const bool slow = severity != OperationSample::Severity::Normal;
    entry->slowCount += slow ? 1 : 0;
    const bool keep = keepLocked(severity);
    const bool listened = m_listened.load(std::memory_order_relaxed);
    std::optional<OperationSample> sample;
    if (keep || listened) {
        sample.emplace(OperationSample { name, now, ns, ok, severity, quintptr(QThread::currentThreadId()), metadata });
        if (keep)
            pushSampleLocked(entry, *sample);
    }

    QList<Transition> transitions;
    if (!m_budgets.isEmpty() && now / 1000 > m_lastBudgetSecond) {
        m_lastBudgetSecond = now / 1000;
        transitions = updateViolationsLocked(now);
    }
    lock.unlock();

    if (slow)
        Q_EMIT slowOperation(*sample);
    if (listened)
        Q_EMIT operationRecorded(*sample);
    emitTransitions(transitions);
}

void PerformanceMonitor::recordHistogram(const QString& name, const LatencyHistogram& delta, quint64 errors)
{
    QMutexLocker lock(&m_mutex);
    if (Entry* entry = entryLocked(name))
        entry->history.recordHistogram(m_clock->wallMs(), delta, errors);
}

void PerformanceMonitor::recordHistogram(const QString& name, const SparseHistogram& delta, quint64 errors)
{
    QMutexLocker lock(&m_mutex);
    if (Entry* entry = entryLocked(name)) {
        entry->history.recordHistogram(m_clock->wallMs(), delta, errors);
        entry->fromSenderBuckets = entry->fromSenderBuckets || delta.fromSenderBuckets;
    }
}

void PerformanceMonitor::addSample(OperationSample sample)
{
    QMutexLocker lock(&m_mutex);
    Entry* entry = entryLocked(sample.operation);
    if (!entry)
        return;
    sample.severity = severityLocked(sample.operation, sample.durationNs);
    const bool slow = sample.severity != OperationSample::Severity::Normal;
    entry->slowCount += slow ? 1 : 0;
    pushSampleLocked(entry, sample); // the sender already chose which operations to send raw
    lock.unlock();
    if (slow)
        Q_EMIT slowOperation(sample);
}

OperationSample::Severity PerformanceMonitor::severityLocked(const QString& name, quint64 ns) const
{
    const Thresholds limits = thresholdsLocked(name);
    if (limits.verySlowNs && ns >= limits.verySlowNs)
        return OperationSample::Severity::VerySlow;
    if (limits.slowNs && ns >= limits.slowNs)
        return OperationSample::Severity::Slow;
    return OperationSample::Severity::Normal;
}

bool PerformanceMonitor::keepLocked(OperationSample::Severity severity)
{
    return severity != OperationSample::Severity::Normal || m_samplingRate >= 1.0
        || (m_samplingRate > 0.0 && std::uniform_real_distribution<double>(0.0, 1.0)(m_random) < m_samplingRate);
}

void PerformanceMonitor::pushSampleLocked(Entry* entry, const OperationSample& sample)
{
    if (m_maxSamples <= 0)
        return;
    entry->samples.push_back(sample);
    while (entry->samples.size() > std::size_t(m_maxSamples))
        entry->samples.pop_front();
}

PerformanceMonitor::Entry* PerformanceMonitor::entryLocked(const QString& name)
{
    auto it = m_entries.find(name);
    if (it != m_entries.end())
        return &it->second;
    if (m_entries.size() >= std::size_t(m_maxOperations)) {
        ++m_droppedOperations;
        if (m_overflowOperation.isEmpty())
            return nullptr;
        return &m_entries.try_emplace(m_overflowOperation).first->second; // the one row past the limit
    }
    return &m_entries.try_emplace(name).first->second;
}

std::optional<OperationStats> PerformanceMonitor::stats(const QString& name, StatsWindow window) const
{
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(name);
    if (it == m_entries.end())
        return std::nullopt;
    OperationStats s = it->second.history.stats(m_clock->wallMs(), window, name);
    s.slowCount = it->second.slowCount;
    s.fromSenderBuckets = it->second.fromSenderBuckets;
    return s;
}

QList<OperationStats> PerformanceMonitor::allStats(StatsWindow window, const QString& prefix) const
{
    QMutexLocker lock(&m_mutex);
    const qint64 now = m_clock->wallMs();
    QList<OperationStats> out;
    for (auto it = m_entries.lower_bound(prefix); it != m_entries.end() && underPrefix(it->first, prefix); ++it) {
        OperationStats s = it->second.history.stats(now, window, it->first);
        s.slowCount = it->second.slowCount;
        s.fromSenderBuckets = it->second.fromSenderBuckets;
        out.append(std::move(s));
    }
    return out;
}

std::optional<OperationStats> PerformanceMonitor::aggregateStats(const QString& prefix, StatsWindow window) const
{
    QMutexLocker lock(&m_mutex);
    const qint64 now = m_clock->wallMs();
    auto merged = std::make_unique<LatencyHistogram>();
    auto part = std::make_unique<LatencyHistogram>();
    quint64 errors = 0, slow = 0;
    bool any = false;
    bool fromSenderBuckets = false;
    for (auto it = m_entries.lower_bound(prefix); it != m_entries.end() && underPrefix(it->first, prefix); ++it) {
        errors += it->second.history.windowHistogram(now, window, *part);
        merged->add(*part);
        slow += it->second.slowCount;
        fromSenderBuckets = fromSenderBuckets || it->second.fromSenderBuckets;
        any = true;
    }
    if (!any)
        return std::nullopt;
    OperationStats s = OperationStats::fromHistogram(prefix, *merged, errors);
    s.slowCount = slow;
    s.fromSenderBuckets = fromSenderBuckets;
    return s;
}

quint64 PerformanceMonitor::histogram(const QString& name, StatsWindow window, LatencyHistogram& out) const
{
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(name);
    if (it == m_entries.end()) {
        out.reset();
        return 0;
    }
    return it->second.history.windowHistogram(m_clock->wallMs(), window, out);
}

qint64 PerformanceMonitor::forEachSecondAfter(const QString& name, qint64 afterSecond,
    const std::function<void(qint64, const SparseHistogram&, quint64)>& visit, bool includeCurrent,
    quint64* finishedCount) const
{
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(name);
    if (it == m_entries.end())
        return afterSecond;
    it->second.history.advanceTo(m_clock->wallMs());
    if (finishedCount)
        *finishedCount = it->second.history.finishedCount();
    qint64 newest = afterSecond;
    const qint64 current = it->second.history.currentSecond();
    it->second.history.forEachSecondAfter(
        afterSecond,
        [&](qint64 second, const SparseHistogram& h, quint64 errors) {
            visit(second, h, errors);
            if (second != current)
                newest = second;
        },
        includeCurrent);
    return newest;
}

QStringList PerformanceMonitor::operations(const QString& prefix) const
{
    QMutexLocker lock(&m_mutex);
    QStringList out;
    for (auto it = m_entries.lower_bound(prefix); it != m_entries.end() && underPrefix(it->first, prefix); ++it)
        out.append(it->first);
    return out;
}

std::vector<SeriesPoint> PerformanceMonitor::series(
    const QString& name, qint64 fromMs, qint64 toMs, bool includeCurrent) const
{
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(name);
    if (it == m_entries.end())
        return {};
    it->second.history.advanceTo(m_clock->wallMs());
    return it->second.history.series(fromMs, toMs, includeCurrent);
}

std::size_t PerformanceMonitor::memoryBytes(const QString& name) const
{
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(name);
    if (it == m_entries.end())
        return 0;
    std::size_t bytes = sizeof(Entry) + it->second.history.memoryBytes();
    for (const OperationSample& s : it->second.samples)
        bytes
            += sizeof(OperationSample) + std::size_t(s.operation.capacity()) * 2 + std::size_t(s.metadata.size()) * 64;
    return bytes;
}

MonitorScope PerformanceMonitor::scope(const QString& prefix)
{
    return MonitorScope(this, prefix);
}

void PerformanceMonitor::setSlowThreshold(std::chrono::nanoseconds slow)
{
    QMutexLocker lock(&m_mutex);
    m_defaultThresholds.slowNs = quint64(std::max<qint64>(0, slow.count()));
    ++m_thresholdsGeneration;
}

void PerformanceMonitor::setVerySlowThreshold(std::chrono::nanoseconds verySlow)
{
    QMutexLocker lock(&m_mutex);
    m_defaultThresholds.verySlowNs = quint64(std::max<qint64>(0, verySlow.count()));
    ++m_thresholdsGeneration;
}

Thresholds PerformanceMonitor::defaultThresholds() const
{
    QMutexLocker lock(&m_mutex);
    return m_defaultThresholds;
}

void PerformanceMonitor::setThresholds(
    const QString& pattern, std::chrono::nanoseconds slow, std::chrono::nanoseconds verySlow)
{
    QMutexLocker lock(&m_mutex);
    m_thresholds[pattern]
        = Thresholds { quint64(std::max<qint64>(0, slow.count())), quint64(std::max<qint64>(0, verySlow.count())) };
    ++m_thresholdsGeneration;
}

void PerformanceMonitor::removeThresholds(const QString& pattern)
{
    QMutexLocker lock(&m_mutex);
    m_thresholds.erase(pattern);
    ++m_thresholdsGeneration;
}

Thresholds PerformanceMonitor::thresholdsFor(const QString& name) const
{
    QMutexLocker lock(&m_mutex);
    return thresholdsLocked(name);
}

Thresholds PerformanceMonitor::thresholdsLocked(const QString& name) const
{
    auto entry = m_entries.find(name);
    if (entry != m_entries.end() && entry->second.thresholdsGeneration == m_thresholdsGeneration)
        return entry->second.thresholds;

    Thresholds result = m_defaultThresholds;
    if (auto exact = m_thresholds.find(name); exact != m_thresholds.end()) {
        result = exact->second;
    } else {
        qsizetype best = -1;
        for (const auto& [pattern, limits] : m_thresholds) {
            if (pattern.size() > best && !isLiteralPattern(pattern) && globMatch(pattern, name)) {
                best = pattern.size();
                result = limits;
            }
        }
    }
    if (entry != m_entries.end()) {
        entry->second.thresholds = result;
        entry->second.thresholdsGeneration = m_thresholdsGeneration;
    }
    return result;
}

void PerformanceMonitor::setBudget(
    const QString& pattern, double percentile, std::chrono::nanoseconds limit, StatsWindow window)
{
    const Budget budget { pattern, std::clamp(percentile, 0.0, 100.0), quint64(std::max<qint64>(0, limit.count())),
        window };
    QMutexLocker lock(&m_mutex);
    auto same = std::find_if(m_budgets.begin(), m_budgets.end(),
        [&](const Budget& b) { return b.pattern == pattern && b.percentile == budget.percentile; });
    if (same != m_budgets.end())
        *same = budget;
    else
        m_budgets.append(budget);
}

void PerformanceMonitor::removeBudget(const QString& pattern, double percentile)
{
    QMutexLocker lock(&m_mutex);
    m_budgets.removeIf([&](const Budget& b) { return b.pattern == pattern && b.percentile == percentile; });
}

void PerformanceMonitor::setBudgets(const QList<Budget>& budgets)
{
    QMutexLocker lock(&m_mutex);
    m_budgets = budgets;
}

QList<Budget> PerformanceMonitor::budgets() const
{
    QMutexLocker lock(&m_mutex);
    return m_budgets;
}

QList<BudgetViolation> PerformanceMonitor::budgetViolations() const
{
    QMutexLocker lock(&m_mutex);
    return violationsLocked(m_clock->wallMs());
}

QList<BudgetViolation> PerformanceMonitor::violationsLocked(qint64 nowMs) const
{
    QList<BudgetViolation> out;
    auto scratch = std::make_unique<LatencyHistogram>();
    for (const Budget& budget : m_budgets) {
        for (auto& [name, entry] : m_entries) {
            if (!globMatch(budget.pattern, name))
                continue;
            entry.history.windowHistogram(nowMs, budget.window, *scratch);
            if (scratch->isEmpty())
                continue;
            const quint64 actual = scratch->valueAtQuantile(budget.percentile / 100.0);
            if (actual > budget.limitNs) {
                const double severity = budget.limitNs ? double(actual) / double(budget.limitNs) : qInf();
                out.append(BudgetViolation { name, budget, actual, severity });
            }
        }
    }
    std::stable_sort(out.begin(), out.end(),
        [](const BudgetViolation& a, const BudgetViolation& b) { return a.severity > b.severity; });
    return out;
}

QList<PerformanceMonitor::Transition> PerformanceMonitor::updateViolationsLocked(qint64 nowMs)
{
    QHash<QString, BudgetViolation> now;
    for (const BudgetViolation& v : violationsLocked(nowMs))
        now.insert(violationKey(v.operation, v.budget), v);
    QList<Transition> transitions;
    for (auto it = m_activeViolations.cbegin(); it != m_activeViolations.cend(); ++it) {
        if (!now.contains(it.key())) {
            BudgetViolation ended = it.value();
            // The figures at the end: what the window holds now, within the budget.
            if (auto entry = m_entries.find(ended.operation); entry != m_entries.end()) {
                auto h = std::make_unique<LatencyHistogram>();
                entry->second.history.windowHistogram(nowMs, ended.budget.window, *h);
                ended.actualNs = h->valueAtQuantile(ended.budget.percentile / 100.0);
                ended.severity = ended.budget.limitNs ? double(ended.actualNs) / double(ended.budget.limitNs) : 0.0;
            }
            transitions.append({ ended, false });
        }
    }
    for (auto it = now.cbegin(); it != now.cend(); ++it) {
        if (!m_activeViolations.contains(it.key()))
            transitions.append({ it.value(), true });
    }
    m_activeViolations = std::move(now);
    return transitions;
}

void PerformanceMonitor::emitTransitions(const QList<Transition>& transitions)
{
    for (const Transition& t : transitions)
        Q_EMIT budgetViolationChanged(t.violation, t.broken);
}

void PerformanceMonitor::checkBudgets()
{
    QMutexLocker lock(&m_mutex);
    const qint64 now = m_clock->wallMs();
    m_lastBudgetSecond = now / 1000;
    const QList<Transition> transitions = updateViolationsLocked(now);
    lock.unlock();
    emitTransitions(transitions);
}

void PerformanceMonitor::setSamplingRate(double rate)
{
    QMutexLocker lock(&m_mutex);
    m_samplingRate = std::clamp(rate, 0.0, 1.0);
}

double PerformanceMonitor::samplingRate() const
{
    QMutexLocker lock(&m_mutex);
    return m_samplingRate;
}

void PerformanceMonitor::setMaxSamplesPerOperation(int max)
{
    QMutexLocker lock(&m_mutex);
    m_maxSamples = std::max(0, max);
    for (auto& [name, entry] : m_entries) {
        while (entry.samples.size() > std::size_t(m_maxSamples))
            entry.samples.pop_front();
    }
}

int PerformanceMonitor::maxSamplesPerOperation() const
{
    QMutexLocker lock(&m_mutex);
    return m_maxSamples;
}

void PerformanceMonitor::setMaxOperations(int max)
{
    QMutexLocker lock(&m_mutex);
    m_maxOperations = std::max(1, max);
}

int PerformanceMonitor::maxOperations() const
{
    QMutexLocker lock(&m_mutex);
    return m_maxOperations;
}

void PerformanceMonitor::setOverflowOperation(const QString& name)
{
    QMutexLocker lock(&m_mutex);
    m_overflowOperation = name;
}

quint64 PerformanceMonitor::droppedOperations() const
{
    QMutexLocker lock(&m_mutex);
    return m_droppedOperations;
}

QList<OperationSample> PerformanceMonitor::samples(const QString& name) const
{
    QMutexLocker lock(&m_mutex);
    auto it = m_entries.find(name);
    if (it == m_entries.end())
        return {};
    return QList<OperationSample>(it->second.samples.begin(), it->second.samples.end());
}

QList<OperationSample> PerformanceMonitor::exportSamples() const
{
    QMutexLocker lock(&m_mutex);
    QList<OperationSample> out;
    for (const auto& [name, entry] : m_entries)
        out.append(QList<OperationSample>(entry.samples.begin(), entry.samples.end()));
    return out;
}

void PerformanceMonitor::clear()
{
    QMutexLocker lock(&m_mutex);
    QList<Transition> transitions;
    for (const BudgetViolation& v : std::as_const(m_activeViolations))
        transitions.append({ v, false });
    m_activeViolations.clear();
    m_entries.clear();
    m_droppedOperations = 0;
    lock.unlock();
    emitTransitions(transitions);
}

void PerformanceMonitor::connectNotify(const QMetaMethod& signal)
{
    if (signal == QMetaMethod::fromSignal(&PerformanceMonitor::operationRecorded))
        m_listened.store(true, std::memory_order_relaxed);
}

void PerformanceMonitor::disconnectNotify(const QMetaMethod& signal)
{
    // An invalid method means "all signals"; asking Qt is exact either way.
    if (!signal.isValid() || signal == QMetaMethod::fromSignal(&PerformanceMonitor::operationRecorded))
        m_listened.store(isSignalConnected(QMetaMethod::fromSignal(&PerformanceMonitor::operationRecorded)),
            std::memory_order_relaxed);
}

MonitorScope::MonitorScope(PerformanceMonitor* monitor, QString prefix)
    : m_monitor(monitor)
    , m_prefix(std::move(prefix))
{
    Q_ASSERT(monitor);
}

QString MonitorScope::qualified(const QString& name) const
{
    return m_prefix.isEmpty() ? name : m_prefix + u'.' + name;
}

void MonitorScope::record(
    const QString& name, std::chrono::nanoseconds duration, bool ok, const QVariantMap& metadata) const
{
    m_monitor->record(qualified(name), duration, ok, metadata);
}

std::optional<OperationStats> MonitorScope::stats(const QString& name, StatsWindow window) const
{
    return m_monitor->stats(qualified(name), window);
}

std::optional<OperationStats> MonitorScope::totals(StatsWindow window) const
{
    return m_monitor->aggregateStats(qualified({}), window);
}

QList<OperationStats> MonitorScope::allStats(StatsWindow window) const
{
    const QString prefix = qualified({});
    QList<OperationStats> all = m_monitor->allStats(window, prefix);
    for (OperationStats& s : all)
        s.operation = s.operation.mid(prefix.size());
    return all;
}

QStringList MonitorScope::operations() const
{
    const QString prefix = qualified({});
    QStringList names = m_monitor->operations(prefix);
    for (QString& n : names)
        n = n.mid(prefix.size());
    return names;
}

MonitorScope MonitorScope::scope(const QString& prefix) const
{
    return MonitorScope(m_monitor, qualified(prefix));
}

ScopedOperation::ScopedOperation(PerformanceMonitor* monitor, QAnyStringView name, QVariantMap metadata)
    : m_monitor(monitor)
    , m_name(name.toString())
    , m_metadata(std::move(metadata))
    , m_timer(monitor->startTimer())
    , m_exceptions(std::uncaught_exceptions())
{
}

ScopedOperation::~ScopedOperation()
{
    const bool unwinding = std::uncaught_exceptions() > m_exceptions;
    m_monitor->record(m_name, m_timer.stop(), m_ok && !unwinding, m_metadata);
}

} // namespace perfdash
