// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/processsampler.h"

#include <QList>

#include <map>

namespace perfdash {

/**
 * This user's processes from /proc, read again and again: each keeps its ProcessSampler between
 * two reads, so that from the second read on every process has its CPU use over the interval
 * between them (utime + stime from /proc/PID/stat). Kernel threads (no command line) are left out,
 * and so is @p excludePid (the dashboard itself). Not thread-safe: one read at a time.
 */
class ProcessList
{
public:
    explicit ProcessList(QString procRoot = QStringLiteral("/proc"));

    QList<ProcessSample> read(qint64 excludePid);

private:
    ProcFs m_proc;
    std::map<qint64, ProcessSampler> m_samplers;
};

} // namespace perfdash
