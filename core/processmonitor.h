// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "csvexport.h"
#include "processsampler.h"

#include <QHash>
#include <QObject>
#include <QTimer>

#include <chrono>
#include <deque>

namespace perfdash {

/**
 * Samples attached processes from /proc on a timer and keeps their memory and CPU history,
 * bounded to MaxRecordsPerProcess samples each (the oldest go first, counted in droppedRecords()).
 * A process that exits keeps its history and its last state for inspection and export.
 */
class ProcessMonitor : public QObject
{
    Q_OBJECT
public:
    static constexpr int MaxRecordsPerProcess = 24 * 3600;

    explicit ProcessMonitor(QObject* parent = nullptr);
    ~ProcessMonitor() override;

    /// Starts sampling @p pid; @p label names it in exports (default: its comm).
    void attach(qint64 pid, const QString& label = {});
    void detach(qint64 pid);
    QList<qint64> pids() const;
    /// The newest sample of @p pid (status Error with a reason when it is not attached).
    ProcessSample latest(qint64 pid) const;
    QString label(qint64 pid) const;
    /// Every sample kept, oldest first, for the memory CSV.
    QList<MemoryRecord> memoryRecords() const;
    quint64 droppedRecords() const noexcept { return m_dropped; }

    void setInterval(std::chrono::milliseconds interval);
    void start();
    void stop();
    /// Samples every attached process once, now.
    void sampleNow();

Q_SIGNALS:
    void sampled(const perfdash::ProcessSample& sample);
    /// @p pid stopped being sampleable (exited, or access lost), with a sentence saying why.
    void processLost(qint64 pid, const QString& reason);

private:
    struct Attached
    {
        ProcessSampler sampler;
        QString label;
        ProcessSample latest;
        std::deque<MemoryRecord> records;
        bool lost = false;
    };

    QTimer m_timer;
    QList<qint64> m_order;
    QHash<qint64, Attached*> m_attached;
    quint64 m_dropped = 0;
};

} // namespace perfdash
