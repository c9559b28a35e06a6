// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QList>
#include <QString>
#include <QStringList>

#include <optional>

namespace perfdash {

/// The fields of /proc/PID/stat (or /proc/PID/task/TID/stat) that perfdash uses; the numbers are
/// those of proc(5).
struct ProcStat
{
    QString comm; ///< 2, without its parentheses; may hold spaces, "(" and ") "
    char state = '?'; ///< 3: R, S, D, Z (zombie), X (dead)...
    quint64 utimeTicks = 0; ///< 14, user CPU time in clock ticks
    quint64 stimeTicks = 0; ///< 15, system CPU time in clock ticks
    int threads = 0; ///< 20
    quint64 startTicks = 0; ///< 22, clock ticks after boot
    qint64 virtualBytes = 0; ///< 23 (vsize)
    qint64 rssPages = 0; ///< 24

    /// A zombie or dead: it has exited and only waits for its parent.
    bool exited() const noexcept { return state == 'Z' || state == 'X'; }
};

/// /proc/PID/statm, in pages.
struct ProcStatm
{
    qint64 sizePages = 0;
    qint64 residentPages = 0;
};

/// One line of /proc/PID/maps.
struct ProcMapping
{
    quint64 start = 0;
    quint64 end = 0;
    QByteArray permissions; ///< "r-xp"
    quint64 offset = 0; ///< into the file
    QByteArray device; ///< "fd:01"
    quint64 inode = 0; ///< 0 for anonymous memory
    QByteArray path; ///< may hold spaces; "[heap]", "[stack]", empty for anonymous memory
};

/**
 * The one reader of /proc on the dashboard's side: each file is read once, whole, with open() and
 * read() (a /proc file's content is made as it is read), and parsed here. @p root is "/proc" but for tests, which
 * point it at a fake tree. Every function says why it failed through @p error (may be null): a
 * missing file is a process or thread that is gone (or never was). Cheap to copy; thread-safe.
 */
class ProcFs
{
public:
    explicit ProcFs(QString root = QStringLiteral("/proc"));

    const QString& root() const noexcept { return m_root; }

    /// The processes, in increasing order (the numeric entries of the root).
    std::optional<QList<qint64>> pids(QString* error = nullptr) const;
    /// The threads of @p pid, in increasing order (the entries of /proc/PID/task).
    std::optional<QList<qint64>> tasks(qint64 pid, QString* error = nullptr) const;
    /// /proc/PID exists: the process has not been reaped yet.
    bool exists(qint64 pid) const;
    /// The owner of /proc/PID: the process's effective user (root when it is not dumpable).
    std::optional<uint> ownerUid(qint64 pid, QString* error = nullptr) const;

    std::optional<ProcStat> stat(qint64 pid, QString* error = nullptr) const;
    /// The same, and the errno of a failed read in @p systemError (0 when the file was read but
    /// not understood): ENOENT or ESRCH for a process gone, EACCES or EPERM for one not ours.
    std::optional<ProcStat> stat(qint64 pid, int* systemError, QString* error) const;
    std::optional<ProcStat> taskStat(qint64 pid, qint64 tid, QString* error = nullptr) const;
    /// /proc/PID/comm without its newline: at most 15 bytes, possibly empty.
    std::optional<QString> comm(qint64 pid, QString* error = nullptr) const;
    std::optional<QString> taskComm(qint64 pid, qint64 tid, QString* error = nullptr) const;
    /// The arguments of /proc/PID/cmdline, the empty ones left out; empty for a kernel thread.
    /// Cut at 1 MiB.
    std::optional<QStringList> commandLine(qint64 pid, QString* error = nullptr) const;
    /// The lines of /proc/PID/maps that parse, in the file's order.
    std::optional<QList<ProcMapping>> maps(qint64 pid, QString* error = nullptr) const;

    /// /proc/self/statm: the calling process's memory.
    std::optional<ProcStatm> selfStatm(QString* error = nullptr) const;
    /// Where /proc/self/exe leads: the calling program's file, links resolved.
    std::optional<QString> selfExecutable(QString* error = nullptr) const;
    /// The boot time, seconds since the epoch (the btime line of /proc/stat).
    std::optional<qint64> bootTimeSeconds(QString* error = nullptr) const;
    /// An integer sysctl, named as sysctl(8) names it: "kernel.perf_event_paranoid" is
    /// /proc/sys/kernel/perf_event_paranoid.
    std::optional<int> sysctl(const QString& name, QString* error = nullptr) const;

private:
    QString pidPath(qint64 pid) const;
    QString taskPath(qint64 pid, qint64 tid) const;

    QString m_root;
};

} // namespace perfdash
