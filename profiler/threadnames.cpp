// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/threadnames.h"

#include "core/procfs.h"

namespace perfdash {

ThreadNames::ThreadNames(qint64 pid, std::chrono::milliseconds maxAge)
    : m_pid(pid)
    , m_maxAge(maxAge)
{
}

QString ThreadNames::name(qint64 tid, const QString& fallback)
{
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(m_mutex);
    Entry& entry = m_names[tid];
    if (entry.name.isEmpty() || now - entry.read >= m_maxAge) {
        ++m_reads;
        const QString read = ProcFs().taskComm(m_pid, tid).value_or(QString());
        if (!read.isEmpty())
            entry.name = read;
        entry.read = now; // a thread gone is not read again before maxAge either
    }
    return entry.name.isEmpty() ? fallback : entry.name;
}

int ThreadNames::reads() const
{
    std::lock_guard lock(m_mutex);
    return m_reads;
}

} // namespace perfdash
