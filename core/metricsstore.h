// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/csvexport.h"
#include "core/performancemonitor.h"
#include "core/processsampler.h"
#include "core/slowthresholds.h"

#include <QHash>
#include <QMutex>
#include <QObject>
#include <QThreadPool>
#include <QTimer>

#include <deque>
#include <memory>
#include <optional>

namespace perfdash {

/// One process as the dashboard knows it, copied out for views and exports.
struct ProcessInfo
{
    enum class State {
        Live, ///< an instrumented process connected now
        Exited, ///< it was here and is gone; its data stays
        ProcOnly, ///< attached by pid: memory and CPU from /proc, no operations
        Error, ///< its connection was closed for a protocol error (see reason)
    };

    quint64 key = 0; ///< unique within the store (pids can be reused)
    qint64 pid = 0;
    QString name;
    QStringList commandLine;
    State state = State::ProcOnly;
    QString reason; ///< why it is in state Exited or Error, for the user
    bool instrumented = false;
    qint64 firstSeenMs = 0;
    qint64 lastSeenMs = 0;
    quint64 operations = 0; ///< operations recorded, session-wide
    double operationsPerSecond = 0.0; ///< over the last 10 seconds
    quint64 droppedEvents = 0; ///< raw events the client could not keep (its own count)
    quint64 droppedBytes = 0; ///< data the client gave up while disconnected
    quint64 lostOperations = 0; ///< recorded operations in that data: never counted here (the client's count)
    quint64 droppedOperations = 0; ///< operation names over the store's limit
    quint64 malformed = 0; ///< lines or frames skipped as malformed
    quint64 refusedValues = 0; ///< counters or gauges over the limit, values out of range (see lastProblem)
    QString lastProblem;
    qint64 rssBytes = -1;
    qint64 heapBytes = -1;
    std::optional<double> cpuPercent;
    QHash<QString, double> counters;
    QHash<QString, double> gauges;

    /// Everything lost on the way, of every kind: what the window shows as drops.
    quint64 drops() const noexcept
    {
        return lostOperations + droppedEvents + droppedOperations + malformed + refusedValues;
    }
};

/**
 * Every process the dashboard has seen (connected, attached by pid, exited) with a
 * PerformanceMonitor each for its operations, a bounded memory and CPU history, counters and
 * gauges. Ingest feeds it; views and exports read copies. A process that disconnects keeps its
 * data, marked exited. Live and attached processes are sampled from /proc once a second (start()).
 * Thread-safe for reading; the feeding calls and the sampling run on the store's thread.
 */
class MetricsStore : public QObject
{
    Q_OBJECT
public:
    static constexpr int MaxMemoryRecordsPerProcess = 24 * 3600;
    static constexpr int MaxProcesses = 1000;
    static constexpr int MaxCountersPerProcess = 10'000;
    static constexpr int MaxGaugesPerProcess = 10'000;
    /// Operation names per process; further names are folded into OverflowOperation.
    static constexpr int MaxOperationsPerProcess = 5'000;
    static QString overflowOperationName();

    /// What the store refused, session-wide: every refusal is counted somewhere the user sees.
    struct Refusals
    {
        quint64 processLimit = 0; ///< messages of connections that found the store full of live processes
        quint64 processLimitConnections = 0; ///< those connections
        quint64 counterLimit = 0;
        quint64 gaugeLimit = 0;
        quint64 invalidValues = 0;
    };

    explicit MetricsStore(QObject* parent = nullptr);
    /// @p clock drives every process's statistics (a capture being replayed uses a ManualClock).
    explicit MetricsStore(Clock* clock, QObject* parent = nullptr);
    ~MetricsStore() override;

    /// An instrumented process said hello. An attached (/proc only) entry with the same pid becomes it.
    quint64 openProcess(qint64 pid, const QString& name, const QStringList& commandLine);
    /// Whether openProcess(@p pid, ...) would find a place now: under MaxProcesses, an exited process
    /// to forget, or an attached entry of that pid. The ingest server asks before it welcomes a client,
    /// so that one the store would refuse is told so (REJECT) instead of sending into nothing.
    bool hasRoomFor(qint64 pid) const;
    /// Its connection ended: cleanly when @p error is empty, else for that reason (state Error).
    void closeProcess(quint64 key, const QString& error = {});
    /// Attaches a pid for /proc sampling; returns the existing entry if that pid is already known
    /// and live, 0 when the pid cannot be sampled (@p error says why).
    quint64 attachPid(qint64 pid, QString* error = nullptr);

    void recordHistogram(quint64 key, const QString& operation, const SparseHistogram& histogram, quint64 errors);
    void recordOperation(
        quint64 key, const QString& operation, quint64 durationNs, bool ok, const QVariantMap& metadata);
    /// A raw event whose operation was already counted by recordHistogram().
    void recordEvent(quint64 key, OperationSample sample);
    void recordMemory(quint64 key, qint64 rssBytes, qint64 heapBytes);
    /// The heap in use of the live (or attached) process @p pid, counted outside it (the heap preload).
    void recordHeapOfPid(qint64 pid, qint64 heapBytes);
    void setMetric(quint64 key, const QString& name, bool gauge, double value);
    void setDrops(quint64 key, quint64 events, quint64 bytes, quint64 operations = 0);
    void addMalformed(quint64 key, quint64 count, const QString& problem);
    /// A value the store will not keep (out of range, over a limit): counted for @p key, said in its lastProblem.
    void addRefusedValue(quint64 key, const QString& problem);
    /// Messages of a connection that got no process entry (openProcess() returned 0).
    void addRefusedForProcessLimit(quint64 messages, bool newConnection);
    Refusals refusals() const;
    /// What a capture says the store refused (added to what this store counted itself).
    void restoreRefusals(const Refusals& saved);

    /// Samples every live or attached process from /proc now (start() does it every second).
    void sampleProcesses();
    void start(std::chrono::milliseconds interval = std::chrono::seconds(1));
    void stop();

    QList<ProcessInfo> processes() const;
    std::optional<ProcessInfo> process(quint64 key) const;
    /// Cheap, unlike process(): no statistics are computed.
    QString processName(quint64 key) const;
    /// The monitor holding @p key's operations (null when the store holds no such process), kept
    /// alive for as long as the caller holds it, eviction or not. There is no raw-pointer accessor:
    /// an exited process may be evicted at any time by a process that connects on another thread.
    std::shared_ptr<PerformanceMonitor> sharedMonitor(quint64 key) const;
    QList<ProcessStatistics> statistics(StatsWindow window = StatsWindow::session()) const;
    QList<OperationSeries> series() const;
    /// Adds a memory sample as recorded elsewhere (a capture file).
    void addMemoryRecord(quint64 key, const MemoryRecord& record);
    /// Restores what a capture says of a process: its state, reason and times.
    void restoreProcess(quint64 key, const ProcessInfo& saved);
    Clock* clock() const noexcept { return m_clock; }
    /// Memory and CPU samples of every process (@p key 0) or of one, oldest first.
    QList<MemoryRecord> memoryRecords(quint64 key = 0) const;

    void setSlowThreshold(std::chrono::nanoseconds slow, std::chrono::nanoseconds verySlow);
    Thresholds thresholds() const;
    /// Slow thresholds by operation pattern (`--slow`), over the default one above: alerts,
    /// slow_count and the profiler's slow instances all follow them (a new process gets them too).
    void setSlowRules(const QList<SlowRule>& rules);
    /// Every operation's slow threshold, for other threads (the profiler's).
    const SlowThresholds& slowThresholds() const { return m_slowThresholds; }
    /// The budgets every process's operations are held to (a new process gets them too).
    void setBudgets(const QList<Budget>& budgets);
    QList<Budget> budgets() const;
    /// Evaluates every process's budgets now; changes come as budgetViolationChanged().
    void checkBudgets();
    /// The budgets broken right now, in every process, worst first.
    QList<std::pair<quint64, BudgetViolation>> budgetViolations() const;

Q_SIGNALS:
    void processAdded(quint64 key);
    void processChanged(quint64 key);
    void slowOperation(quint64 key, const perfdash::OperationSample& sample);
    void budgetViolationChanged(quint64 key, const perfdash::BudgetViolation& violation, bool broken);

private:
    struct Process;
    Process* findLocked(quint64 key) const;
    Process* createLocked(qint64 pid);
    ProcessInfo infoLocked(const Process& p) const;

    mutable QMutex m_mutex;
    Refusals m_refusals;
    std::map<quint64, std::unique_ptr<Process>> m_processes;
    quint64 m_nextKey = 1;
    Clock* m_clock;
    Thresholds m_thresholds;
    SlowThresholds m_slowThresholds;
    QList<Budget> m_budgets;
    QTimer m_sampling;
    QThreadPool m_samplingThread; // one thread: /proc is read off the thread that owns the store
};

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::ProcessInfo)
