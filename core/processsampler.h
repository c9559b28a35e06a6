// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/procfs.h"

#include <QMetaType>
#include <QString>
#include <QStringList>

#include <optional>

namespace perfdash {

/// What /proc said about a process at one moment.
struct ProcessSample
{
    enum class Status {
        Ok,
        NoSuchProcess, ///< there was never such a process
        Exited, ///< it was sampled before and is gone (or a zombie, or its pid was reused)
        AccessDenied,
        NoMemoryMap, ///< alive but without memory right now: between vfork() and exec(), or a kernel thread
        Error, ///< /proc answered something this parser does not understand
    };

    qint64 pid = 0;
    Status status = Status::Error;
    QString error; ///< a sentence for the user when status != Ok
    qint64 timestampMs = 0;
    QString name; ///< the kernel's comm (at most 15 characters)
    QStringList commandLine;
    qint64 startTimeMs = 0; ///< wall clock
    qint64 rssBytes = 0;
    qint64 virtualBytes = 0;
    int threads = 0;
    /// CPU use since the previous sample, 100 = one core busy; nullopt on the first sample.
    std::optional<double> cpuPercent;

    bool isValid() const noexcept { return status == Status::Ok; }
};

/**
 * Samples one process from /proc: RSS, virtual size, CPU over the interval since the previous
 * sample, threads, name, command line and start time. A pid that never existed, is unreadable,
 * exits, turns zombie or is reused by another process gives a status and an error sentence,
 * never zeros posing as data. @p procRoot lets tests point it at a fake /proc.
 */
class ProcessSampler
{
public:
    explicit ProcessSampler(qint64 pid, QString procRoot = QStringLiteral("/proc"));

    qint64 pid() const noexcept { return m_pid; }
    ProcessSample sample();

private:
    ProcessSample failure(ProcessSample::Status status, QString error) const;

    qint64 m_pid;
    ProcFs m_proc;
    std::optional<qint64> m_bootSeconds;
    bool m_seen = false;
    quint64 m_startTicks = 0;
    quint64 m_lastCpuTicks = 0;
    qint64 m_lastMonotonicNs = 0;
};

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::ProcessSample)
