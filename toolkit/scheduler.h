// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QHash>
#include <QObject>
#include <QtGlobal>

#include <functional>
#include <map>

class QTimer;

namespace perfdash {

/**
 * Time for the async helpers: what time it is, and "call this in N ms". QtScheduler runs on Qt's
 * event loop with QTimer; ManualScheduler runs callbacks only when a test advances it, so the
 * helpers' timing semantics (debounce edges, batch delays, cool-downs) are tested exactly.
 * A scheduler is used from the thread it lives in.
 */
class Scheduler
{
public:
    using TaskId = quint64;
    virtual ~Scheduler() = default;
    /// Monotonic milliseconds.
    virtual qint64 nowMs() const = 0;
    /// Calls @p task once, @p delayMs from now (0: on the next turn of the loop).
    virtual TaskId schedule(qint64 delayMs, std::function<void()> task) = 0;
    /// Forgets a task that has not run; unknown or finished ids are ignored.
    virtual void cancel(TaskId id) = 0;

    /// A QtScheduler shared by everything on the calling thread.
    static Scheduler* forCurrentThread();
};

/// Single-shot QTimers on the event loop of the thread this object lives in.
class QtScheduler final : public QObject, public Scheduler
{
    Q_OBJECT
public:
    explicit QtScheduler(QObject* parent = nullptr);
    ~QtScheduler() override;
    qint64 nowMs() const override;
    TaskId schedule(qint64 delayMs, std::function<void()> task) override;
    void cancel(TaskId id) override;

private:
    QHash<TaskId, QTimer*> m_timers;
    TaskId m_next = 1;
};

/// Virtual time: advance() runs the tasks that fall due, in time order, as time passes them.
class ManualScheduler final : public Scheduler
{
public:
    explicit ManualScheduler(qint64 startMs = 0)
        : m_now(startMs)
    {
    }
    qint64 nowMs() const override { return m_now; }
    TaskId schedule(qint64 delayMs, std::function<void()> task) override;
    void cancel(TaskId id) override;
    /// Moves time forward by @p ms, running each due task at its own time.
    void advance(qint64 ms);
    /// Runs what is due now (tasks scheduled with delay 0).
    void runDue() { advance(0); }
    int pendingTasks() const { return int(m_tasks.size()); }

private:
    qint64 m_now;
    TaskId m_next = 1;
    std::map<std::pair<qint64, TaskId>, std::function<void()>> m_tasks;
};

} // namespace perfdash
