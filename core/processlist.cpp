// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/processlist.h"

#include "core/procfs.h"

#include <unistd.h>

namespace perfdash {

ProcessList::ProcessList(QString procRoot)
    : m_proc(std::move(procRoot))
{
}

QList<ProcessSample> ProcessList::read(qint64 excludePid)
{
    QList<ProcessSample> out;
    std::map<qint64, ProcessSampler> seen;
    const uint me = ::getuid();
    for (const qint64 pid : m_proc.pids().value_or(QList<qint64>())) {
        if (pid == excludePid)
            continue;
        const std::optional<uint> owner = m_proc.ownerUid(pid);
        if (!owner || (me != 0 && *owner != me))
            continue;
        // The sampler of the previous read, when there was one: the CPU over the time between.
        // One that failed (the pid exited, or was reused) is dropped: the next read starts afresh.
        auto known = m_samplers.find(pid);
        ProcessSampler sampler
            = known != m_samplers.end() ? std::move(known->second) : ProcessSampler(pid, m_proc.root());
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
