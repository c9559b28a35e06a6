// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "profiler/calltree.h"
#include "profiler/operationattribution.h"
#include "profiler/perfeventsource.h"
#include "profiler/pprofexport.h"
#include "profiler/threadnames.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

namespace perfdash {

class RecordProcessor;
class SlowThresholds;
class RecordQueue;

/**
 * Samples one process: its events are opened by start() (so that a refusal is known at once,
 * with the sentence that says what fixes it), then three threads of the profiler share the work,
 * as `perf record` and `perf report` would: a reader that only copies the ring buffers' records
 * into a deep queue (RecordQueue) and goes back to them, a processor that unwinds each sample and
 * counts it by address stack (RecordProcessor), and a symbolizer that names each new address once
 * (Symbolizer). Nothing the processor or the symbolizer does (a module loaded for the first time)
 * makes the kernel drop samples. The views ask for snapshots (a time range, a thread) from any
 * thread. A process that exits keeps its profile. Beside the samples, the process's user and
 * kernel CPU time is read from /proc, so that a view says how much of the CPU was in the kernel.
 */
class ProcessProfiler : public QObject
{
    Q_OBJECT
public:
    struct Options
    {
        int frequencyHz = 499;
        std::uint32_t stackBytes = 8192;
        /// Where the operations of the process are known (its scope rings); null: not attributed.
        OperationTimeline* timeline = nullptr;
        const SlowThresholds* slowThresholds = nullptr; ///< null: nothing is slow
        bool offCpu = true; ///< also record context switches (off-CPU time and stacks)
    };
    explicit ProcessProfiler(qint64 pid, QObject* parent = nullptr);
    ProcessProfiler(qint64 pid, const Options& options, PerfSystem system, QObject* parent = nullptr);
    ~ProcessProfiler() override;

    /// Opens the events and starts reading; false with a sentence for the user (also emitted as problem()).
    bool start(QString* error);
    /// Stops sampling; what was read stays.
    void stop();

    qint64 pid() const { return m_pid; }
    QString processName() const { return m_name; }
    bool isRunning() const { return m_reader.joinable() && !m_exited.load(); }
    bool hasExited() const { return m_exited.load(); }
    /// The rate the kernel was asked for (the chosen one, capped by perf_event_max_sample_rate).
    int frequencyHz() const { return m_frequencyHz; }

    /// CPU samples, or with @p offCpu the time switched out (microseconds), for @p query (the
    /// whole process, or the instances of one operation).
    ProfileSnapshotPtr snapshot(const ProfileQuery& query = {}, bool offCpu = false) const;
    /// The session's profile split by the operations its samples ran in (one snapshot per distinct
    /// stack of operations, operationFrames set): `--export-profile-by-operation`, `--export-off-cpu`.
    std::vector<ProfileSnapshotPtr> operationSnapshots(bool offCpu) const;
    /// Each operation's CPU (and off-CPU) time and wall time while profiled.
    std::vector<OperationCpu> operations() const;
    /// The session's profile for the pprof export (pprofexport.h); empty when never started.
    PprofProcess pprofPart() const;
    ProfileStats stats() const;
    /// Waits until every address met so far is named (the end of a run, before an export).
    bool waitNamed(int timeoutMs) const;
    std::uint64_t samples() const { return m_samples.load(); }

Q_SIGNALS:
    void problem(const QString& message);
    /// The process is gone; its last samples were read.
    void exited();

private:
    void read();
    void processRecords();
    /// utime and stime of the process now (clock ticks); false when it is gone.
    bool readCpuTimes();
    double kernelShare(int lastSeconds) const;
    void fillStats(ProfileStats* stats, int lastSeconds) const;
    /// The threads' names as /proc has them now (cached), for views and exports, off the sampling path.
    void nameThreads(std::vector<ProfileThread>* threads) const;

    qint64 m_pid;
    Options m_options;
    QString m_name;
    int m_frequencyHz = 0;
    std::unique_ptr<PerfEventSource> m_source; ///< the reader's
    std::unique_ptr<RecordQueue> m_queue;
    std::unique_ptr<RecordProcessor> m_processor; ///< guarded by m_mutex
    mutable std::mutex m_mutex;
    std::thread m_reader;
    std::thread m_processing;
    struct CpuTimes
    {
        std::uint64_t timeNs; ///< CLOCK_MONOTONIC
        std::uint64_t user, kernel; ///< clock ticks
    };
    mutable std::mutex m_cpuMutex;
    std::deque<CpuTimes> m_cpuTimes; ///< every 500 ms, the last minute (and the first, for the session)
    std::optional<CpuTimes> m_firstCpuTimes;
    std::atomic<bool> m_stop { false };
    std::atomic<bool> m_exitSeen { false }; ///< the reader saw the process go
    std::atomic<bool> m_exited { false }; ///< and its last samples are processed and named
    std::atomic<std::uint64_t> m_samples { 0 };
    mutable ThreadNames m_threadNames;
};

} // namespace perfdash
