// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"

#include <QMutex>
#include <QObject>
#include <QString>

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

/// What a heap profile counts, by call site.
enum class HeapView {
    Live, ///< bytes allocated and not freed yet (estimated from the sampled blocks)
    AllocationRate, ///< bytes allocated per second over the last HeapProfiler::RateSeconds
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
    QString problem; ///< why the numbers are missing or wrong; empty when fine
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
 * most MaxStacks per program (past it, new ones count under "[other stacks]").
 */
class HeapProfiler : public QObject
{
    Q_OBJECT
public:
    static constexpr int RateSeconds = 10;
    static constexpr std::size_t MaxStacks = 1 << 16;

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
    /// @p pid's heap by call site; null when it is not tracked.
    ProfileSnapshotPtr snapshot(qint64 pid, HeapView view) const;
    /// Every tracked program's snapshot of @p view (the --export-heap file's content).
    std::vector<ProfileSnapshotPtr> snapshots(HeapView view) const;
    /// Live bytes by call site now become the base of HeapView::Growth.
    void setMark(qint64 pid);
    /// The live bytes of @p pid's largest allocation sites, once a second for the last
    /// HistorySeconds (the sites that were among the TopSites largest at some point, at most
    /// MaxSites), largest now first.
    std::vector<HeapSiteSeries> siteHistory(qint64 pid) const;

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
    ProfileSnapshotPtr build(const Tracked& t, HeapView view) const;
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
    QThread* m_thread;
    QTimer* m_timer; ///< lives in m_thread
};

} // namespace perfdash
