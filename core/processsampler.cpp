// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/processsampler.h"

#include "core/clock.h"

#include <QDateTime>
#include <QFile>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace perfdash {

namespace {
struct ReadResult
{
    QByteArray data;
    int error = 0; // errno, 0 on success
};

ReadResult readProcFile(const QString& path)
{
    ReadResult r;
    const int fd = ::open(QFile::encodeName(path).constData(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        r.error = errno;
        return r;
    }
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            r.data.append(buffer, n);
            if (r.data.size() > 1 << 20) // a command line longer than this is cut, not slurped
                break;
        } else if (n == 0) {
            break;
        } else if (errno != EINTR) {
            r.error = errno;
            break;
        }
    }
    ::close(fd);
    return r;
}

qint64 bootTimeMs(const QString& procRoot)
{
    const ReadResult stat = readProcFile(procRoot + QStringLiteral("/stat"));
    for (const QByteArray& line : stat.data.split('\n')) {
        if (line.startsWith("btime "))
            return line.mid(6).trimmed().toLongLong() * 1000;
    }
    return 0;
}
} // namespace

ProcessSampler::ProcessSampler(qint64 pid, QString procRoot)
    : m_pid(pid)
    , m_procRoot(std::move(procRoot))
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

    const QString dir = m_procRoot + u'/' + QString::number(m_pid);
    const qint64 monotonic = Clock::system()->monotonicNs();
    const ReadResult stat = readProcFile(dir + QStringLiteral("/stat"));
    if (stat.error == ENOENT || stat.error == ESRCH) {
        return m_seen ? failure(Status::Exited, QStringLiteral("process %1 has exited").arg(m_pid))
                      : failure(Status::NoSuchProcess, QStringLiteral("no process with pid %1").arg(m_pid));
    }
    if (stat.error == EACCES || stat.error == EPERM)
        return failure(Status::AccessDenied, QStringLiteral("not allowed to read /proc/%1").arg(m_pid));
    if (stat.error != 0) {
        return failure(Status::Error,
            QStringLiteral("cannot read /proc/%1/stat: %2")
                .arg(m_pid)
                .arg(QString::fromLocal8Bit(strerror(stat.error))));
    }

    // Format: pid (comm) state ppid ... ; comm may hold spaces and parentheses, so split at the last ')'.
    const QByteArray& text = stat.data;
    const qsizetype open = text.indexOf('(');
    const qsizetype close = text.lastIndexOf(')');
    if (open < 0 || close < open)
        return failure(Status::Error, QStringLiteral("unexpected format of /proc/%1/stat").arg(m_pid));
    const QList<QByteArray> fields = text.mid(close + 2).trimmed().split(' ');
    // fields[0] is field 3 (state); field N of proc(5) is fields[N - 3].
    constexpr int State = 0, Utime = 11, Stime = 12, Threads = 17, StartTime = 19, Vsize = 20, Rss = 21;
    if (fields.size() <= Rss)
        return failure(Status::Error, QStringLiteral("unexpected format of /proc/%1/stat").arg(m_pid));

    const quint64 startTicks = fields[StartTime].toULongLong();
    if (fields[State] == "Z" || fields[State] == "X")
        return failure(Status::Exited, QStringLiteral("process %1 has exited (zombie)").arg(m_pid));
    if (m_seen && startTicks != m_startTicks)
        return failure(
            Status::Exited, QStringLiteral("process %1 has exited; its pid now belongs to another").arg(m_pid));

    // No resident page at all: the kernel is between vfork() and exec() for it, or it is a kernel
    // thread. Not a zero to chart; the next sample will tell.
    if (fields[Rss].toLongLong() == 0)
        return failure(
            Status::NoMemoryMap, QStringLiteral("process %1 has no memory mapped (starting up?)").arg(m_pid));

    static const long ticksPerSecond = sysconf(_SC_CLK_TCK);
    static const long pageSize = sysconf(_SC_PAGESIZE);
    ProcessSample s;
    s.pid = m_pid;
    s.status = Status::Ok;
    s.timestampMs = QDateTime::currentMSecsSinceEpoch();
    s.name = QString::fromUtf8(text.mid(open + 1, close - open - 1));
    s.threads = fields[Threads].toInt();
    s.virtualBytes = fields[Vsize].toLongLong();
    s.rssBytes = fields[Rss].toLongLong() * pageSize;
    s.startTimeMs = bootTimeMs(m_procRoot) + qint64(startTicks * 1000 / quint64(ticksPerSecond));

    const ReadResult cmdline = readProcFile(dir + QStringLiteral("/cmdline"));
    for (const QByteArray& arg : cmdline.data.split('\0')) {
        if (!arg.isEmpty())
            s.commandLine.append(QString::fromLocal8Bit(arg));
    }

    const quint64 cpuTicks = fields[Utime].toULongLong() + fields[Stime].toULongLong();
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
