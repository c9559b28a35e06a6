// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/memorymonitor.h"

#include "core/procfs.h"

#include <QDateTime>

#include <malloc.h>
#include <unistd.h>

namespace perfdash {

namespace {
qint64 residentBytes()
{
    const std::optional<ProcStatm> statm = ProcFs().selfStatm();
    return statm ? statm->residentPages * sysconf(_SC_PAGESIZE) : -1;
}
} // namespace

MemorySnapshot MemoryMonitor::current(const QString& label)
{
    MemorySnapshot s;
    s.label = label;
    s.timestampMs = QDateTime::currentMSecsSinceEpoch();
    s.rssBytes = residentBytes();
    const struct mallinfo2 info = mallinfo2();
    // An allocator that is not glibc's (a sanitizer's, jemalloc) reports nothing: unknown, not zero.
    s.heapBytes = info.arena || info.hblkhd || info.uordblks ? qint64(info.uordblks + info.hblkhd) : -1;
    return s;
}

MemorySnapshot MemoryMonitor::takeSnapshot(const QString& label)
{
    MemorySnapshot s = current(label);
    QMutexLocker lock(&m_mutex);
    m_snapshots.removeIf([&](const MemorySnapshot& old) { return old.label == label; });
    if (m_snapshots.size() >= MaxSnapshots)
        m_snapshots.removeFirst();
    m_snapshots.append(s);
    return s;
}

std::optional<MemorySnapshot> MemoryMonitor::snapshot(const QString& label) const
{
    QMutexLocker lock(&m_mutex);
    for (const MemorySnapshot& s : m_snapshots) {
        if (s.label == label)
            return s;
    }
    return std::nullopt;
}

std::optional<MemoryDelta> MemoryMonitor::compare(const QString& from, const QString& to) const
{
    const auto a = snapshot(from);
    const auto b = snapshot(to);
    if (!a || !b)
        return std::nullopt;
    return MemoryDelta { from, to, b->timestampMs - a->timestampMs, b->rssBytes - a->rssBytes,
        b->heapBytes - a->heapBytes };
}

QList<MemorySnapshot> MemoryMonitor::snapshots() const
{
    QMutexLocker lock(&m_mutex);
    return m_snapshots;
}

void MemoryMonitor::clear()
{
    QMutexLocker lock(&m_mutex);
    m_snapshots.clear();
}

} // namespace perfdash
