// SPDX-License-Identifier: GPL-3.0-or-later
#include "processmonitor.h"

#include <algorithm>

namespace perfdash {

ProcessMonitor::ProcessMonitor(QObject* parent)
    : QObject(parent)
{
    qRegisterMetaType<perfdash::ProcessSample>();
    m_timer.setInterval(std::chrono::seconds(1));
    connect(&m_timer, &QTimer::timeout, this, &ProcessMonitor::sampleNow);
}

ProcessMonitor::~ProcessMonitor()
{
    qDeleteAll(m_attached);
}

void ProcessMonitor::attach(qint64 pid, const QString& label)
{
    if (m_attached.contains(pid))
        return;
    auto* a = new Attached { ProcessSampler(pid), label, {}, {}, false };
    a->latest.pid = pid;
    a->latest.error = tr("not sampled yet");
    m_attached.insert(pid, a);
    m_order.append(pid);
}

void ProcessMonitor::detach(qint64 pid)
{
    delete m_attached.take(pid);
    m_order.removeAll(pid);
}

QList<qint64> ProcessMonitor::pids() const
{
    return m_order;
}

ProcessSample ProcessMonitor::latest(qint64 pid) const
{
    if (const Attached* a = m_attached.value(pid))
        return a->latest;
    ProcessSample s;
    s.pid = pid;
    s.error = tr("process %1 is not attached").arg(pid);
    return s;
}

QString ProcessMonitor::label(qint64 pid) const
{
    const Attached* a = m_attached.value(pid);
    if (!a)
        return {};
    return a->label.isEmpty() ? a->latest.name : a->label;
}

QList<MemoryRecord> ProcessMonitor::memoryRecords() const
{
    QList<MemoryRecord> out;
    for (qint64 pid : m_order) {
        const Attached* a = m_attached.value(pid);
        for (MemoryRecord r : a->records) {
            r.process = label(pid);
            out.append(std::move(r));
        }
    }
    std::stable_sort(out.begin(), out.end(),
        [](const MemoryRecord& x, const MemoryRecord& y) { return x.timestampMs < y.timestampMs; });
    return out;
}

void ProcessMonitor::setInterval(std::chrono::milliseconds interval)
{
    m_timer.setInterval(interval);
}

void ProcessMonitor::start()
{
    sampleNow();
    m_timer.start();
}

void ProcessMonitor::stop()
{
    m_timer.stop();
}

void ProcessMonitor::sampleNow()
{
    for (qint64 pid : std::as_const(m_order)) {
        Attached* a = m_attached.value(pid);
        if (a->lost)
            continue;
        ProcessSample s = a->sampler.sample();
        if (s.isValid()) {
            a->latest = s;
            a->records.push_back(MemoryRecord { s.timestampMs, pid, {}, s.rssBytes, -1, s.cpuPercent });
            if (a->records.size() > std::size_t(MaxRecordsPerProcess)) {
                a->records.pop_front();
                ++m_dropped;
            }
        } else {
            // Keep the last good figures for inspection; only the state and reason change.
            a->latest.status = s.status;
            a->latest.error = s.error;
            a->latest.cpuPercent.reset();
            a->lost = true;
            Q_EMIT processLost(pid, s.error);
        }
        Q_EMIT sampled(a->latest);
    }
}

} // namespace perfdash
