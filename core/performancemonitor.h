// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/clock.h"
#include "core/operationhistory.h"
#include "core/operationstats.h"

#include <QFuture>
#include <QMutex>
#include <QObject>
#include <QPointer>
#include <QVariantMap>

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <type_traits>

namespace perfdash {

class MonitorScope;

/// One finished operation, as kept in the raw-sample ring and passed to listeners.
struct OperationSample
{
    enum class Severity { Normal, Slow, VerySlow };
    QString operation;
    qint64 timestampMs = 0; ///< wall clock when it finished
    quint64 durationNs = 0;
    bool ok = true;
    Severity severity = Severity::Normal;
    quintptr threadId = 0;
    QVariantMap metadata;
    qint64 startNs = 0; ///< wall clock in nanoseconds when the sender knew it precisely; 0 otherwise
};

/// Slow and very slow limits in nanoseconds; 0 switches a limit off.
struct Thresholds
{
    quint64 slowNs = 0;
    quint64 verySlowNs = 0;
    bool operator==(const Thresholds&) const = default;
};

/// A performance budget: the @c percentile (0..100, e.g. 95 or 99.9) of every operation matching
/// @c pattern over @c window must stay at or under @c limitNs.
struct Budget
{
    QString pattern;
    double percentile = 95.0;
    quint64 limitNs = 0;
    StatsWindow window = StatsWindow::last(60);
    bool operator==(const Budget&) const = default;
};

struct BudgetViolation
{
    QString operation;
    Budget budget;
    quint64 actualNs = 0;
    double severity = 0.0; ///< actual / budget; over 1 means broken
};

/// Measures one duration on the monitor's clock. elapsed() reads it, stop() freezes it.
class OperationTimer
{
public:
    explicit OperationTimer(const Clock* clock) noexcept
        : m_clock(clock)
        , m_startNs(clock->monotonicNs())
    {
    }
    std::chrono::nanoseconds elapsed() const noexcept
    {
        return std::chrono::nanoseconds((m_stopNs >= 0 ? m_stopNs : m_clock->monotonicNs()) - m_startNs);
    }
    /// Stops the timer (the first call wins) and returns the duration.
    std::chrono::nanoseconds stop() noexcept
    {
        if (m_stopNs < 0)
            m_stopNs = m_clock->monotonicNs();
        return elapsed();
    }
    bool isRunning() const noexcept { return m_stopNs < 0; }

private:
    const Clock* m_clock;
    qint64 m_startNs;
    qint64 m_stopNs = -1;
};

namespace detail {
template <typename T> struct IsQFuture : std::false_type
{
};
template <typename T> struct IsQFuture<QFuture<T>> : std::true_type
{
};
} // namespace detail

/**
 * Records named operations (duration and success) and answers statistics over sliding windows,
 * with slow-operation thresholds, performance budgets and a bounded ring of raw samples.
 *
 * Thread-safe: any thread may record. Statistics are exact in count and within 1% in value
 * (LatencyHistogram); memory per operation is bounded (OperationHistory), and so is the number
 * of operations (maxOperations(); names beyond it are counted in droppedOperations()).
 * Signals are emitted on the thread that recorded, after the monitor's lock is released.
 */
class PerformanceMonitor : public QObject
{
    Q_OBJECT
public:
    static constexpr int DefaultMaxOperations = 10'000;
    static constexpr int DefaultMaxSamplesPerOperation = 1'000;

    explicit PerformanceMonitor(QObject* parent = nullptr);
    /// @p clock must outlive the monitor; tests pass a ManualClock.
    explicit PerformanceMonitor(Clock* clock, QObject* parent = nullptr);
    ~PerformanceMonitor() override;

    /// The application-wide monitor that PERFDASH_TRACK records into.
    static PerformanceMonitor* instance();

    Clock* clock() const noexcept { return m_clock; }

    /**
     * Runs @p f, records its duration under @p name and returns its result. An exception marks the
     * operation failed and propagates. When @p f returns a QFuture, the operation ends when the
     * future finishes (failed if it holds an exception) and the returned future carries the same
     * result; a cancelled future is not recorded, being neither success nor failure.
     */
    template <typename F> decltype(auto) trackOperation(const QString& name, F&& f, const QVariantMap& metadata = {});

    OperationTimer startTimer() const noexcept { return OperationTimer(m_clock); }
    void record(
        const QString& name, std::chrono::nanoseconds duration, bool ok = true, const QVariantMap& metadata = {});
    /// Records the end of an operation that started at @p startNs on clock()->monotonicNs().
    void finishOperation(const QString& name, qint64 startNs, bool ok, const QVariantMap& metadata = {});
    /// Adds a whole distribution at once (@p errors of its operations failed), as clients send it.
    void recordHistogram(const QString& name, const LatencyHistogram& delta, quint64 errors);
    void recordHistogram(const QString& name, const SparseHistogram& delta, quint64 errors);
    /// Keeps a raw sample whose operation was already counted (through recordHistogram()): applies
    /// the thresholds to it, emits slowOperation() when it is slow, and keeps it in the ring (the
    /// sender did the sampling).
    void addSample(OperationSample sample);

    std::optional<OperationStats> stats(const QString& name, StatsWindow window = StatsWindow::session()) const;
    /// Statistics of every operation whose name starts with @p prefix (all when empty), by name.
    QList<OperationStats> allStats(StatsWindow window = StatsWindow::session(), const QString& prefix = {}) const;
    /// All operations under @p prefix merged into one distribution; nullopt when there are none.
    std::optional<OperationStats> aggregateStats(
        const QString& prefix, StatsWindow window = StatsWindow::session()) const;
    QStringList operations(const QString& prefix = {}) const;
    /// Fills @p out with @p name's distribution over @p window; returns its error count (0 when unknown).
    quint64 histogram(const QString& name, StatsWindow window, LatencyHistogram& out) const;
    /// Every finished second of @p name after @p afterSecond still held (see OperationHistory), and
    /// the unfinished one when @p includeCurrent; returns the newest finished second, or @p afterSecond.
    /// @p finishedCount, when given, gets the operations of every finished second of the session as
    /// of the same instant (a capture writer tells from it what the store no longer holds).
    qint64 forEachSecondAfter(const QString& name, qint64 afterSecond,
        const std::function<void(qint64 second, const SparseHistogram& histogram, quint64 errors)>& visit,
        bool includeCurrent = false, quint64* finishedCount = nullptr) const;
    std::vector<SeriesPoint> series(const QString& name, qint64 fromMs, qint64 toMs, bool includeCurrent = false) const;
    /// Bytes held for @p name's statistics and samples (0 when unknown).
    std::size_t memoryBytes(const QString& name) const;

    /// A view whose operation names are prefixed with "@p prefix." and whose statistics stay under it.
    MonitorScope scope(const QString& prefix);

    void setSlowThreshold(std::chrono::nanoseconds slow);
    void setVerySlowThreshold(std::chrono::nanoseconds verySlow);
    Thresholds defaultThresholds() const;
    /// Thresholds for the operations matching @p pattern ('*' and '?' globs). An exact name wins
    /// over patterns, and a longer pattern over a shorter one.
    void setThresholds(const QString& pattern, std::chrono::nanoseconds slow, std::chrono::nanoseconds verySlow);
    void removeThresholds(const QString& pattern);
    Thresholds thresholdsFor(const QString& name) const;

    /// Adds or replaces the budget for (@p pattern, @p percentile).
    void setBudget(const QString& pattern, double percentile, std::chrono::nanoseconds limit,
        StatsWindow window = StatsWindow::last(60));
    void removeBudget(const QString& pattern, double percentile);
    /// Replaces every budget at once.
    void setBudgets(const QList<Budget>& budgets);
    QList<Budget> budgets() const;
    /// The budgets broken right now, worst first.
    QList<BudgetViolation> budgetViolations() const;
    /// Evaluates every budget and emits budgetViolationChanged() for each that started or stopped
    /// being broken. Recording does this once a second by itself; a view may call it on a timer.
    void checkBudgets();

    /// Share of ordinary operations kept as raw samples (0..1); slow ones are always kept.
    void setSamplingRate(double rate);
    double samplingRate() const;
    void setMaxSamplesPerOperation(int max);
    int maxSamplesPerOperation() const;
    void setMaxOperations(int max);
    int maxOperations() const;
    /// Operations whose name came past maxOperations(): dropped, or with an overflow operation
    /// set, recorded under that one name (so that they are still counted and seen).
    quint64 droppedOperations() const;
    /// The name new operation names fold into once maxOperations() are known; empty: they are
    /// dropped. Names with ids inside ("GET /users/1234") are a common mistake this keeps bounded.
    void setOverflowOperation(const QString& name);

    QList<OperationSample> samples(const QString& name) const;
    /// Every kept raw sample, by operation name and then oldest first.
    QList<OperationSample> exportSamples() const;
    /// Forgets all operations, samples and violations; thresholds and budgets stay.
    void clear();

Q_SIGNALS:
    void slowOperation(const perfdash::OperationSample& sample);
    /// Every recorded operation. Costs nothing while nothing is connected.
    void operationRecorded(const perfdash::OperationSample& sample);
    void budgetViolationChanged(const perfdash::BudgetViolation& violation, bool broken);

protected:
    void connectNotify(const QMetaMethod& signal) override;
    void disconnectNotify(const QMetaMethod& signal) override;

private:
    struct Entry;
    struct Transition
    {
        BudgetViolation violation;
        bool broken;
    };

    template <typename T>
    QFuture<T> trackFuture(const QString& name, qint64 startNs, QFuture<T> future, const QVariantMap& metadata);

    Entry* entryLocked(const QString& name);
    OperationSample::Severity severityLocked(const QString& name, quint64 ns) const;
    /// Whether a sample of this severity goes into the ring: slow ones always, others as sampled.
    bool keepLocked(OperationSample::Severity severity);
    void pushSampleLocked(Entry* entry, const OperationSample& sample);
    Thresholds thresholdsLocked(const QString& name) const;
    QList<BudgetViolation> violationsLocked(qint64 nowMs) const;
    QList<Transition> updateViolationsLocked(qint64 nowMs);
    void emitTransitions(const QList<Transition>& transitions);

    Clock* m_clock;
    mutable QMutex m_mutex;
    mutable std::map<QString, Entry> m_entries; // reading statistics advances time
    Thresholds m_defaultThresholds;
    std::map<QString, Thresholds> m_thresholds;
    quint64 m_thresholdsGeneration = 0;
    QList<Budget> m_budgets;
    QHash<QString, BudgetViolation> m_activeViolations;
    qint64 m_lastBudgetSecond = 0;
    double m_samplingRate = 1.0;
    int m_maxSamples = DefaultMaxSamplesPerOperation;
    int m_maxOperations = DefaultMaxOperations;
    quint64 m_droppedOperations = 0;
    QString m_overflowOperation;
    std::minstd_rand m_random;
    std::atomic<bool> m_listened { false };
};

/// A prefix view of a PerformanceMonitor (the monitor API's monitor.scope("api")). Cheap to copy.
class MonitorScope
{
public:
    MonitorScope(PerformanceMonitor* monitor, QString prefix);

    QString prefix() const { return m_prefix; }
    PerformanceMonitor* monitor() const { return m_monitor; }
    QString qualified(const QString& name) const;

    template <typename F> decltype(auto) trackOperation(const QString& name, F&& f, const QVariantMap& metadata = {})
    {
        return m_monitor->trackOperation(qualified(name), std::forward<F>(f), metadata);
    }
    void record(
        const QString& name, std::chrono::nanoseconds duration, bool ok = true, const QVariantMap& metadata = {}) const;
    OperationTimer startTimer() const noexcept { return m_monitor->startTimer(); }

    std::optional<OperationStats> stats(const QString& name, StatsWindow window = StatsWindow::session()) const;
    /// Every operation of the scope merged; nullopt while it has none.
    std::optional<OperationStats> totals(StatsWindow window = StatsWindow::session()) const;
    /// Per-operation statistics of the scope, with names relative to it.
    QList<OperationStats> allStats(StatsWindow window = StatsWindow::session()) const;
    /// Names relative to the scope ("users.list" in scope "api").
    QStringList operations() const;
    MonitorScope scope(const QString& prefix) const;

private:
    QPointer<PerformanceMonitor> m_monitor;
    QString m_prefix;
};

/**
 * RAII tracking of the enclosing block: records on destruction, as a failure when fail() was
 * called or when an exception is unwinding through it. The monitor API's @TrackPerformance in C++.
 */
class ScopedOperation
{
public:
    ScopedOperation(PerformanceMonitor* monitor, QAnyStringView name, QVariantMap metadata = {});
    ~ScopedOperation();
    Q_DISABLE_COPY_MOVE(ScopedOperation)

    void fail() noexcept { m_ok = false; }
    void setMetadata(const QString& key, const QVariant& value) { m_metadata.insert(key, value); }
    std::chrono::nanoseconds elapsed() const noexcept { return m_timer.elapsed(); }

private:
    PerformanceMonitor* m_monitor;
    QString m_name;
    QVariantMap m_metadata;
    OperationTimer m_timer;
    int m_exceptions;
    bool m_ok = true;
};

template <typename F>
decltype(auto) PerformanceMonitor::trackOperation(const QString& name, F&& f, const QVariantMap& metadata)
{
    using R = std::invoke_result_t<F>;
    if constexpr (detail::IsQFuture<R>::value) {
        const qint64 start = m_clock->monotonicNs();
        R future;
        try {
            future = std::invoke(std::forward<F>(f));
        } catch (...) {
            finishOperation(name, start, false, metadata);
            throw;
        }
        return trackFuture(name, start, std::move(future), metadata);
    } else {
        ScopedOperation operation(this, name, metadata);
        return std::invoke(std::forward<F>(f));
    }
}

template <typename T>
QFuture<T> PerformanceMonitor::trackFuture(
    const QString& name, qint64 startNs, QFuture<T> future, const QVariantMap& metadata)
{
    QPointer<PerformanceMonitor> self(this);
    return future.then(QtFuture::Launch::Sync, [self, name, startNs, metadata](QFuture<T> done) {
        try {
            done.waitForFinished(); // rethrows what the computation threw
        } catch (...) {
            if (self)
                self->finishOperation(name, startNs, false, metadata);
            throw;
        }
        if (self)
            self->finishOperation(name, startNs, true, metadata);
        if constexpr (!std::is_void_v<T>)
            return done.result();
    });
}

} // namespace perfdash

#define PERFDASH_CONCAT_INNER(a, b) a##b
#define PERFDASH_CONCAT(a, b) PERFDASH_CONCAT_INNER(a, b)
/// Tracks the rest of the enclosing block as operation @p name in PerformanceMonitor::instance().
#define PERFDASH_TRACK(name)                                                                                           \
    ::perfdash::ScopedOperation PERFDASH_CONCAT(perfdashTracked_, __LINE__)(                                           \
        ::perfdash::PerformanceMonitor::instance(), name)
/// Same, in a given monitor.
#define PERFDASH_TRACK_IN(monitor, name)                                                                               \
    ::perfdash::ScopedOperation PERFDASH_CONCAT(perfdashTracked_, __LINE__)(monitor, name)

Q_DECLARE_METATYPE(perfdash::OperationSample)
Q_DECLARE_METATYPE(perfdash::BudgetViolation)
