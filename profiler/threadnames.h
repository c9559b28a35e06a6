// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QString>

#include <chrono>
#include <map>
#include <mutex>

namespace perfdash {

/**
 * The names of a process's threads, from /proc/PID/task/TID/comm, read when a view asks for them
 * (never on the sampling path) and kept: a thread is read again only once its name is older than
 * @c maxAge (a thread may rename itself), and an exited thread keeps the last name read.
 * Thread-safe: snapshots are built on workers.
 */
class ThreadNames
{
public:
    explicit ThreadNames(qint64 pid, std::chrono::milliseconds maxAge = std::chrono::seconds(2));

    /// The thread's name; @p fallback when it was never readable.
    QString name(qint64 tid, const QString& fallback = {});
    /// Files read so far (the cache's hits read none).
    int reads() const;

private:
    struct Entry
    {
        QString name;
        std::chrono::steady_clock::time_point read;
    };
    qint64 m_pid;
    std::chrono::milliseconds m_maxAge;
    mutable std::mutex m_mutex;
    std::map<qint64, Entry> m_names;
    int m_reads = 0;
};

} // namespace perfdash
