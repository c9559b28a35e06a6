// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"
#include "perfeventsource.h"

#include <QObject>
#include <QString>

#include <atomic>
#include <memory>
#include <mutex>
#include <thread>

namespace perfdash {

class RecordProcessor;

/**
 * Samples one process: its events are opened by start() (so that a refusal is known at once,
 * with the sentence that says what fixes it), then a thread of the profiler waits on the ring
 * buffers and unwinds, symbolizes and aggregates each sample as it is read. The views ask for
 * snapshots (a time range, a thread) from any thread. A process that exits keeps its profile.
 */
class ProcessProfiler : public QObject
{
    Q_OBJECT
public:
    struct Options {
        int frequencyHz = 499;
        std::uint32_t stackBytes = 8192;
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
    bool isRunning() const { return m_thread.joinable() && !m_exited.load(); }
    bool hasExited() const { return m_exited.load(); }
    /// The rate the kernel was asked for (the chosen one, capped by perf_event_max_sample_rate).
    int frequencyHz() const { return m_frequencyHz; }

    ProfileSnapshotPtr snapshot(const ProfileQuery& query = {}) const;
    ProfileStats stats() const;
    std::uint64_t samples() const { return m_samples.load(); }

Q_SIGNALS:
    void problem(const QString& message);
    /// The process is gone; its last samples were read.
    void exited();

private:
    void run();

    qint64 m_pid;
    Options m_options;
    QString m_name;
    int m_frequencyHz = 0;
    std::unique_ptr<PerfEventSource> m_source;
    std::unique_ptr<RecordProcessor> m_processor; ///< guarded by m_mutex
    mutable std::mutex m_mutex;
    std::thread m_thread;
    std::atomic<bool> m_stop { false };
    std::atomic<bool> m_exited { false };
    std::atomic<std::uint64_t> m_samples { 0 };
};

} // namespace perfdash
