// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/throttler.h"

namespace perfdash {

Throttler::Throttler(const ThrottleConfig& config, Scheduler* scheduler, PerformanceMonitor* monitor, QObject* parent)
    : QObject(parent)
    , m_config(config)
    , m_scheduler(scheduler ? scheduler : Scheduler::forCurrentThread())
    , m_monitor(monitor ? monitor : new PerformanceMonitor(this))
{
    m_config.maxConcurrent = std::max(1, m_config.maxConcurrent);
    m_config.maxPerSecond = std::max(1, m_config.maxPerSecond);
}

Throttler::~Throttler()
{
    if (m_wakeUp)
        m_scheduler->cancel(*m_wakeUp);
    if (m_cooldown)
        m_scheduler->cancel(*m_cooldown);
}

void Throttler::enqueue(Job job)
{
    m_queue.push_back(std::move(job));
    pump();
    if (!m_queue.empty()) {
        ++m_throttled;
        Q_EMIT throttled(int(m_queue.size()));
    }
}

bool Throttler::canStart(qint64 now)
{
    while (!m_starts.empty() && m_starts.front() <= now - 1000)
        m_starts.pop_front();
    return !m_cooling && m_active < m_config.maxConcurrent && int(m_starts.size()) < m_config.maxPerSecond;
}

void Throttler::pump()
{
    if (m_pumping)
        return; // a job that finishes inline calls back in here; the outer loop goes on
    m_pumping = true;
    while (!m_queue.empty() && canStart(m_scheduler->nowMs())) {
        Job job = std::move(m_queue.front());
        m_queue.pop_front();
        job();
    }
    m_pumping = false;
    // Limited by the rate alone: wake up when the oldest start leaves the sliding second.
    if (!m_queue.empty() && !m_cooling && !m_wakeUp && m_active < m_config.maxConcurrent && !m_starts.empty()) {
        m_wakeUp = m_scheduler->schedule(m_starts.front() + 1000 - m_scheduler->nowMs(), [this] {
            m_wakeUp.reset();
            pump();
        });
    }
}

void Throttler::started()
{
    const qint64 now = m_scheduler->nowMs();
    m_starts.push_back(now);
    m_burst.push_back(now);
    while (m_burst.front() <= now - 1000)
        m_burst.pop_front();
    ++m_active;
    ++m_started;
    if (m_config.maxBurstSize > 0 && int(m_burst.size()) >= m_config.maxBurstSize && !m_cooling) {
        m_cooling = true;
        m_cooldown = m_scheduler->schedule(m_config.cooldownPeriodMs, [this] {
            m_cooldown.reset();
            m_cooling = false;
            // The burst is over: the starts that made it do not count towards another one.
            m_burst.clear();
            pump();
        });
    }
}

void Throttler::finished(qint64 startNs, bool ok)
{
    --m_active;
    ++m_completed;
    m_monitor->finishOperation(QStringLiteral("throttle.operation"), startNs, ok);
    pump();
}

ThrottleMetrics Throttler::metrics() const
{
    ThrottleMetrics m;
    m.active = m_active;
    m.queued = int(m_queue.size());
    const qint64 now = m_scheduler->nowMs();
    m.startsLastSecond = int(std::count_if(m_starts.begin(), m_starts.end(), [&](qint64 t) { return t > now - 1000; }));
    m.coolingDown = m_cooling;
    m.started = m_started;
    m.completed = m_completed;
    m.throttled = m_throttled;
    m.duration = m_monitor->stats(QStringLiteral("throttle.operation"));
    return m;
}

} // namespace perfdash
