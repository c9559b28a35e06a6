// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"

#include <QMutex>
#include <QObject>
#include <QString>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

class QProcessEnvironment;
class QThread;
class QTimer;

namespace perfdash {

namespace heap {
struct HeapCounters;
}

/**
 * Bytes allocated, by whole second of CLOCK_MONOTONIC, for the allocation rate: a ring of the
 * second being counted and the Seconds before it (one more slot than the window, so that the
 * second being counted never overwrites the oldest second of the window).
 */
struct HeapRateWindow
{
    static constexpr int Seconds = 10;
    std::array<double, Seconds + 1> bytes {};
    std::array<std::uint64_t, Seconds + 1> second {}; ///< the second each slot of bytes counts

    /// Counts @p amount allocated at @p timeNs (a time older than the ring holds is dropped).
    void add(std::uint64_t timeNs, double amount);
    /**
     * Bytes per second over the whole seconds of the last Seconds that tracking covered: the
     * second of @p nowNs (not over yet) and the one tracking started in, at @p startedNs, are
     * partial and left out; the sum is divided by the number of seconds it covers (fewer than
     * Seconds while the program is young). 0 before a whole second was covered.
     */
    double rate(std::uint64_t startedNs, std::uint64_t nowNs) const;
};

/// What a heap profile counts, by call site.
enum class HeapView {
    Live, ///< bytes allocated and not freed yet (estimated from the sampled blocks)
    AllocationRate, ///< bytes allocated per second over the last HeapProfiler::RateSeconds (whole seconds)
    Growth, ///< live bytes now less live bytes at the mark, where they grew
};

/// One tracked program's totals (exact: counted by the preload on every call).
struct HeapTotals
{
    qint64 pid = 0;
    QString name;
    bool reporting = false; ///< the preload claimed the channel
    std::uint64_t liveBytes = 0; ///< usable bytes in use
    std::uint64_t liveBlocks = 0;
    std::uint64_t allocatedBytes = 0; ///< cumulative
    std::uint64_t allocations = 0;
    std::uint64_t samples = 0;
    std::uint64_t lost = 0; ///< sampled blocks not reported, or frees lost: the call sites may be off
    QString allocator; ///< the library malloc forwards to
    QString problem; ///< why the numbers are missing, wrong or partial; empty when fine
    bool ended = false; ///< the program is gone: these are its last numbers
};

/// One allocation site's live bytes over time (the memory chart's lines of a tracked heap).
struct HeapSiteSeries
{
    QString site; ///< the innermost function of the program's own on the allocating stacks
    std::vector<std::pair<qint64, double>> points; ///< wall-clock ms, estimated live bytes
};

/**
 * Live heap profiles of the programs perfdash launches with the heap preload (libperfdash_heap.so,
 * docs/HEAP.md). prepare() gives a program's environment a channel (heap/heapchannel.h) and the
 * preload; started() names its pid. On a thread of its own, every 100 ms, the profiler drains each
 * channel: exact totals from its counters, and the sampled blocks with their call stacks, named
 * once per distinct address (SymbolResolver) while the program is alive. Views are ProfileSnapshots
 * whose counts are bytes (bytes per second for the allocation rate), so the CPU profile's views and
 * exports show them.
 *
 * Bounded: the blocks tracked are the sampled ones (the preload bounds them), distinct stacks at
 * most MaxStacks per program (past it, new ones count under "[other stacks]"). A program that ended
 * is drained one last time and then released (its channel unmapped and unlinked, its symbol
 * resolver, stacks and blocks freed) but for its final live heap by call site, its totals and its
 * sites' history; it is never polled again. At most MaxEnded ended programs are kept: past it the
 * oldest goes, counted (endedDropped()) and said once.
 *
 * A program that execs another without the preload in its environment (a wrapper: env, a shell
 * that replaces LD_PRELOAD), or that starts child processes (whose heap is not tracked), is
 * reported through problem() and in its totals' problem.
 */
class HeapProfiler : public QObject
{
    Q_OBJECT
public:
    static constexpr int RateSeconds = HeapRateWindow::Seconds;
    static constexpr std::size_t MaxStacks = 1 << 16;
    static constexpr std::size_t MaxEnded = 16;

    /// @p directory holds the channel files (the socket's directory: private to the user).
    explicit HeapProfiler(QString directory, QObject* parent = nullptr);
    ~HeapProfiler() override;

    /// The preload next to the executables (build/bin or the install's bin).
    static QString preloadLibrary();

    /**
     * Prepares the environment of @p program, about to be launched: a channel, the preload in
     * LD_PRELOAD; *@p ticket names it for started(). False when the heap cannot be tracked (a
     * static or set-user-ID program, no preload built), why in @p error, the environment unchanged.
     */
    bool prepare(const QString& program, QProcessEnvironment* environment, int* ticket, QString* error);
    /// The program of @p ticket runs as @p pid.
    void started(int ticket, qint64 pid, const QString& name);
    /// The program of @p ticket never started.
    void abandon(int ticket);

    /// Drains every channel now (the thread does it every 100 ms); for the end of a run and tests.
    void poll();
    /// The programs tracked, by pid, as of the last poll (never waits for one).
    std::vector<HeapTotals> totals() const;
    /// @p pid's heap by call site; null when it is not tracked. Of a program that ended: its last
    /// live heap (Growth: since the mark, if one was set), and nothing allocated per second.
    ProfileSnapshotPtr snapshot(qint64 pid, HeapView view) const;
    /// Every tracked program's snapshot of @p view (the --export-heap file's content).
    std::vector<ProfileSnapshotPtr> snapshots(HeapView view) const;
    /// Live bytes by call site now become the base of HeapView::Growth.
    void setMark(qint64 pid);
    /// The live bytes of @p pid's largest allocation sites, once a second for the last
    /// HistorySeconds (the sites that were among the TopSites largest at some point, at most
    /// MaxSites), largest now first.
    std::vector<HeapSiteSeries> siteHistory(qint64 pid) const;

    /// Ended programs no longer kept (past MaxEnded, the oldest first).
    std::size_t endedDropped() const;

    static constexpr int TopSites = 5;
    static constexpr std::size_t MaxSites = 16;
    static constexpr std::size_t HistorySeconds = 900;

Q_SIGNALS:
    /// A tracked program's exact heap in use changed (from the thread's poll).
    void heapChanged(qint64 pid, qint64 liveBytes);
    /// Something a user must know: the preload did not load, the program has its own allocator.
    void problem(qint64 pid, const QString& message);

private:
    struct Tracked;
    /// Drains @p t; whether it recorded a new point of its sites' history.
    bool pollLocked(
        Tracked& t, std::vector<std::pair<qint64, qint64>>* changed, std::vector<std::pair<qint64, QString>>* problems);
    /// Says, once each, an exec whose program does not report and the child processes @p t started.
    void checkExecAndChildren(Tracked& t, bool gone, std::vector<std::pair<qint64, QString>>* problems);
    ProfileSnapshotPtr build(const Tracked& t, HeapView view) const;
    /// The latest program tracked as @p pid; null when none.
    Tracked* newest(qint64 pid) const;
    /// @p t ended and is drained: keeps what its views need, releases the rest.
    void release(Tracked& t);
    /// Drops the oldest ended programs past MaxEnded; what to say, once, in @p problems.
    void dropEnded(std::vector<std::pair<qint64, QString>>* problems);
    std::vector<HeapTotals> totalsLocked() const;
    std::vector<HeapSiteSeries> siteHistoryLocked(qint64 pid) const;

    QString m_directory;
    mutable QMutex m_mutex;
    /// What the window reads (totals(), siteHistory()), published at the end of each poll under a
    /// lock of its own: naming a new library's addresses may hold m_mutex for a while.
    mutable QMutex m_publishedMutex;
    std::vector<HeapTotals> m_publishedTotals;
    std::map<qint64, std::vector<HeapSiteSeries>> m_publishedHistory;
    std::map<int, std::unique_ptr<Tracked>> m_tracked; ///< by ticket
    int m_nextTicket = 1;
    std::uint64_t m_endedCount = 0; ///< programs released so far: their order of ending
    std::size_t m_endedDropped = 0;
    QThread* m_thread;
    QTimer* m_timer; ///< lives in m_thread
};

} // namespace perfdash
