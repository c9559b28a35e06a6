// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/processsampler.h"

#include "core/clock.h"

#include <QDateTime>

#include <cerrno>
#include <unistd.h>

namespace perfdash {

namespace {
/// @p comm, or the program's file name where the kernel cut comm to its 15 characters and
/// argv[0]'s last component starts with it ("perfdash_heap_t" is perfdash_heap_target).
QString fullName(const QString& comm, const QStringList& commandLine)
{
    constexpr qsizetype CommLength = 15; // TASK_COMM_LEN less its NUL
    if (comm.size() != CommLength || commandLine.isEmpty())
        return comm;
    const QString program = commandLine.first().section(QLatin1Char('/'), -1);
    return program.size() > comm.size() && program.startsWith(comm) ? program : comm;
}
} // namespace

ProcessSampler::ProcessSampler(qint64 pid, QString procRoot)
    : m_pid(pid)
    , m_proc(std::move(procRoot))
{
}

ProcessSample ProcessSampler::failure(ProcessSample::Status status, QString error) const
{
    ProcessSample s;
    s.pid = m_pid;
    s.status = status;
    s.error = std::move(error);
    s.timestampMs = QDateTime::currentMSecsSinceEpoch();
    return s;
}

ProcessSample ProcessSampler::sample()
{
    using Status = ProcessSample::Status;
    if (m_pid <= 0)
        return failure(Status::NoSuchProcess, QStringLiteral("%1 is not a process id").arg(m_pid));

    const qint64 monotonic = Clock::system()->monotonicNs();
    int systemError = 0;
    QString why;
    const std::optional<ProcStat> stat = m_proc.stat(m_pid, &systemError, &why);
    if (systemError == ENOENT || systemError == ESRCH) {
        return m_seen ? failure(Status::Exited, QStringLiteral("process %1 has exited").arg(m_pid))
                      : failure(Status::NoSuchProcess, QStringLiteral("no process with pid %1").arg(m_pid));
    }
    if (systemError == EACCES || systemError == EPERM)
        return failure(Status::AccessDenied, QStringLiteral("not allowed to read /proc/%1").arg(m_pid));
    if (!stat) // another error, or a stat this parser does not understand
        return failure(Status::Error, why);

    const quint64 startTicks = stat->startTicks;
    if (stat->exited())
        return failure(Status::Exited, QStringLiteral("process %1 has exited (zombie)").arg(m_pid));
    if (m_seen && startTicks != m_startTicks)
        return failure(
            Status::Exited, QStringLiteral("process %1 has exited; its pid now belongs to another").arg(m_pid));

    // No resident page at all: the kernel is between vfork() and exec() for it, or it is a kernel
    // thread. Not a zero to chart; the next sample will tell.
    // Its name is known already: a program just launched is named from its first sample.
    if (stat->rssPages == 0) {
        ProcessSample starting
            = failure(Status::NoMemoryMap, QStringLiteral("process %1 has no memory mapped (starting up?)").arg(m_pid));
        starting.name = fullName(stat->comm, m_proc.commandLine(m_pid).value_or(QStringList()));
        return starting;
    }

    static const long ticksPerSecond = sysconf(_SC_CLK_TCK);
    static const long pageSize = sysconf(_SC_PAGESIZE);
    ProcessSample s;
    s.pid = m_pid;
    s.status = Status::Ok;
    s.timestampMs = QDateTime::currentMSecsSinceEpoch();
    s.commandLine = m_proc.commandLine(m_pid).value_or(QStringList());
    s.name = fullName(stat->comm, s.commandLine);
    s.threads = stat->threads;
    s.virtualBytes = stat->virtualBytes;
    s.rssBytes = stat->rssPages * pageSize;
    // The boot time does not change: read once, when it could be read.
    if (!m_bootSeconds)
        m_bootSeconds = m_proc.bootTimeSeconds();
    s.startTimeMs = m_bootSeconds.value_or(0) * 1000 + qint64(startTicks * 1000 / quint64(ticksPerSecond));

    const quint64 cpuTicks = stat->utimeTicks + stat->stimeTicks;
    if (m_seen && monotonic > m_lastMonotonicNs) {
        const double busySeconds = double(cpuTicks - m_lastCpuTicks) / double(ticksPerSecond);
        s.cpuPercent = 100.0 * busySeconds / (double(monotonic - m_lastMonotonicNs) / 1e9);
    }
    m_seen = true;
    m_startTicks = startTicks;
    m_lastCpuTicks = cpuTicks;
    m_lastMonotonicNs = monotonic;
    return s;
}

} // namespace perfdash
