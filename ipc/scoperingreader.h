// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "ipc/protocol.h"
#include "ipc/scopetimeline.h"

#include <QObject>
#include <QString>
#include <QThread>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

class QTimer;

namespace perfdash {

/// A sample to attribute: a thread and an instant on CLOCK_MONOTONIC (perf's use_clockid).
struct AttributionQuery
{
    quint64 tid = 0;
    qint64 timeNs = 0;
};

/// The operations active on a thread at an instant, outermost first, each with its name; or, when
/// gap is not None, why they are not known (then stack is empty). An empty stack with no gap is
/// an instant outside any operation.
struct Attribution
{
    AttributionGap gap = AttributionGap::None;
    struct Frame
    {
        OperationInstance instance;
        QString name;
    };
    std::vector<Frame> stack;
    /// The thread's operations are known up to this instant (an open instance of the stack ran at
    /// least until then); -1 with a gap.
    qint64 knownUntilNs = -1;
};

/// One thread's operation instances, named.
struct ThreadInstances
{
    quint64 tid = 0;
    std::vector<Attribution::Frame> instances; ///< in order of their start (creation)
};

/**
 * Reads the scope rings of every profiled instrumented process (docs/PROTOCOL.md, "Scope rings")
 * and answers, for samples of those processes, which operations were active on their thread at
 * their instant. No widgets; thread-safe (one mutex): it polls on a thread of its own once
 * started, and attribute() may be called from any thread.
 *
 * How it is fed: IngestServer::setProfiled(pid, true) asks the process's client to record (PROFILE);
 * the client answers RINGS, which IngestServer::scopeRingsOffered() carries here (connect it to
 * offer()). The segment is opened as /proc/PID/fd/N (the permission perf_event_open needs for the
 * same process: same user, ptrace read access) and mapped read-only; the reader never writes it.
 *
 * Guarantees:
 * - Times are CLOCK_MONOTONIC nanoseconds: the client's counter readings are converted with the
 *   clock it publishes (re-anchored every 500 ms; its rate measured between anchors).
 * - Nothing is guessed: an instant whose operations are not known is answered with the reason
 *   (AttributionGap). Overrun, Clock and Mismatch instants are counted in stats(); OpenBeforeTracing
 *   and Pending answers may become known later (ask again), the others are final.
 * - Bounded: per thread, the transitions of the last retention window (default 30 s) and at most
 *   maxTransitions (default 65,536) of them, the oldest evicted first (counted); per process, the
 *   segment mapped (about 67 MB of address space, only what the client wrote in memory).
 */
class ScopeRingReader : public QObject
{
    Q_OBJECT
public:
    struct Stats
    {
        bool mapped = false;
        QString error; ///< why the rings are not read (refused, unavailable, a bad segment)
        quint64 records = 0; ///< records read
        quint64 overrunRecords = 0; ///< records overwritten before they were read
        quint64 overruns = 0; ///< times records were found overwritten
        quint64 clockTroubles = 0; ///< records whose time could not be placed, or out of order
        quint64 mismatches = 0; ///< records that contradicted the nesting
        quint64 evicted = 0; ///< transitions dropped for the retention bounds
        quint64 ringless = 0; ///< the client's: a thread found no free ring
        quint64 untracedScopes = 0; ///< the client's: operations untraced for want of a ring
        quint64 lateInstances = 0; ///< the client's: operations that began before tracing and ended since
        quint64 namesDropped = 0; ///< the client's: names that did not fit its segment
        /// the client's: records left out because a signal handler's scope interrupted its thread's
        /// own write (instants inside such a handler show the operations it interrupted, not its own)
        quint64 reentered = 0;
        int threads = 0;
        qint64 sessionStartNs = 0; ///< CLOCK_MONOTONIC when the client began to record
    };

    explicit ScopeRingReader(QObject* parent = nullptr);
    ~ScopeRingReader() override;

    /// Polls every @p intervalMs on a thread of the reader's until stop() (or destruction).
    void start(int intervalMs = 10);
    void stop();

    /// Retention (see the class comment); applies from the next poll.
    void setRetention(qint64 windowNs, std::size_t maxTransitions);

    /// What a client answered to PROFILE: Ready maps its segment (a new session replaces what was
    /// read of the last), Stopped keeps what was read (for samples already taken), Unavailable
    /// records its reason. False with stats(pid).error set when the segment cannot be used.
    bool offer(qint64 pid, const protocol::Rings& rings);
    /// Forgets @p pid (unmaps its segment).
    void removeProcess(qint64 pid);
    bool hasProcess(qint64 pid) const;

    /// Reads every ring now.
    void poll();

    /// For each sample of process @p pid, the operations active on its thread at its instant (or
    /// why not known). Polls first when a sample is later than what was read.
    std::vector<Attribution> attribute(qint64 pid, const std::vector<AttributionQuery>& samples);
    /// The instances of every thread of @p pid still open at, or ended after, @p sinceNs.
    std::vector<ThreadInstances> instances(qint64 pid, qint64 sinceNs = 0) const;
    /// An operation id's name in @p pid (empty while the client has not published it).
    QString operationName(qint64 pid, quint32 op) const;
    Stats stats(qint64 pid) const;

private:
    struct Process;
    void pollLocked(Process& p);
    Attribution::Frame named(const Process& p, const OperationInstance& i) const;

    mutable std::mutex m_mutex;
    std::map<qint64, std::unique_ptr<Process>> m_processes;
    qint64 m_retentionNs;
    std::size_t m_maxTransitions;
    QThread m_thread;
    QTimer* m_timer = nullptr;
};

} // namespace perfdash
