// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/processlist.h"

#include <QDir>
#include <QFile>

#include <sys/stat.h>
#include <unistd.h>

namespace perfdash {

ProcessList::ProcessList(QString procRoot)
    : m_procRoot(std::move(procRoot))
{
}

QList<ProcessSample> ProcessList::read(qint64 excludePid)
{
    QList<ProcessSample> out;
    std::map<qint64, ProcessSampler> seen;
    const uid_t me = ::getuid();
    const QStringList entries = QDir(m_procRoot).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& entry : entries) {
        bool isPid = false;
        const qint64 pid = entry.toLongLong(&isPid);
        if (!isPid || pid == excludePid)
            continue;
        struct stat st
        {
        };
        if (::stat(QFile::encodeName(m_procRoot + u'/' + entry).constData(), &st) != 0 || (me != 0 && st.st_uid != me))
            continue;
        // The sampler of the previous read, when there was one: the CPU over the time between.
        // One that failed (the pid exited, or was reused) is dropped: the next read starts afresh.
        auto known = m_samplers.find(pid);
        ProcessSampler sampler = known != m_samplers.end() ? std::move(known->second) : ProcessSampler(pid, m_procRoot);
        ProcessSample s = sampler.sample();
        if (!s.isValid())
            continue;
        seen.emplace(pid, std::move(sampler));
        if (!s.commandLine.isEmpty()) // kernel threads have no command line
            out.append(std::move(s));
    }
    m_samplers = std::move(seen); // gone processes are forgotten
    return out;
}

} // namespace perfdash
