// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QList>
#include <QMutex>
#include <QString>

#include <optional>

namespace perfdash {

struct MemorySnapshot
{
    QString label;
    qint64 timestampMs = 0;
    qint64 rssBytes = -1; ///< resident set size; -1 when /proc could not be read
    qint64 heapBytes = -1; ///< bytes malloc has handed out (mallinfo2); -1 when the allocator does not say
};

struct MemoryDelta
{
    QString from;
    QString to;
    qint64 elapsedMs = 0;
    qint64 rssBytes = 0;
    qint64 heapBytes = 0;
};

/**
 * The calling process's own memory: RSS from /proc/self/statm and the heap in use from mallinfo2(),
 * with labelled snapshots and their differences (the monitor API's MemoryMonitor). Thread-safe. At most
 * MaxSnapshots labels are kept; taking one more forgets the oldest.
 */
class MemoryMonitor
{
public:
    static constexpr int MaxSnapshots = 1000;

    static MemorySnapshot current(const QString& label = {});

    MemorySnapshot takeSnapshot(const QString& label);
    std::optional<MemorySnapshot> snapshot(const QString& label) const;
    /// What changed from @p from to @p to; nullopt when either label is unknown.
    std::optional<MemoryDelta> compare(const QString& from, const QString& to) const;
    QList<MemorySnapshot> snapshots() const;
    void clear();

private:
    mutable QMutex m_mutex;
    QList<MemorySnapshot> m_snapshots;
};

} // namespace perfdash
