// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/scheduler.h"

#include "core/clock.h"

#include <QThreadStorage>
#include <QTimer>

namespace perfdash {

Scheduler* Scheduler::forCurrentThread()
{
    static QThreadStorage<QtScheduler*> schedulers;
    if (!schedulers.hasLocalData())
        schedulers.setLocalData(new QtScheduler);
    return schedulers.localData();
}

QtScheduler::QtScheduler(QObject* parent)
    : QObject(parent)
{
}

QtScheduler::~QtScheduler() = default; // the timers are children

qint64 QtScheduler::nowMs() const
{
    return Clock::system()->monotonicNs() / 1'000'000;
}

Scheduler::TaskId QtScheduler::schedule(qint64 delayMs, std::function<void()> task)
{
    const TaskId id = m_next++;
    auto* timer = new QTimer(this);
    timer->setSingleShot(true);
    timer->setTimerType(Qt::PreciseTimer);
    connect(timer, &QTimer::timeout, this, [this, id, task = std::move(task)] {
        if (QTimer* t = m_timers.take(id))
            t->deleteLater();
        task();
    });
    m_timers.insert(id, timer);
    timer->start(int(std::clamp<qint64>(delayMs, 0, std::numeric_limits<int>::max())));
    return id;
}

void QtScheduler::cancel(TaskId id)
{
    if (QTimer* t = m_timers.take(id)) {
        t->stop();
        t->deleteLater();
    }
}

Scheduler::TaskId ManualScheduler::schedule(qint64 delayMs, std::function<void()> task)
{
    const TaskId id = m_next++;
    m_tasks.emplace(std::make_pair(m_now + std::max<qint64>(0, delayMs), id), std::move(task));
    return id;
}

void ManualScheduler::cancel(TaskId id)
{
    for (auto it = m_tasks.begin(); it != m_tasks.end(); ++it) {
        if (it->first.second == id) {
            m_tasks.erase(it);
            return;
        }
    }
}

void ManualScheduler::advance(qint64 ms)
{
    const qint64 target = m_now + ms;
    // Tasks may schedule more tasks; take them one at a time, earliest first.
    while (!m_tasks.empty() && m_tasks.begin()->first.first <= target) {
        auto node = m_tasks.extract(m_tasks.begin());
        m_now = std::max(m_now, node.key().first);
        node.mapped()();
    }
    m_now = target;
}

} // namespace perfdash
