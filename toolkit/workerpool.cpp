// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/workerpool.h"

#include <stdexcept>

namespace perfdash {

WorkerPool::WorkerPool(int poolSize, PerformanceMonitor* monitor, QObject* parent)
    : QObject(parent)
    , m_monitor(monitor ? monitor : new PerformanceMonitor(this))
{
    m_pool.setMaxThreadCount(std::max(1, poolSize));
}

WorkerPool::~WorkerPool()
{
    cancelQueued();
    m_pool.waitForDone();
}

void WorkerPool::enqueue(Task* task)
{
    {
        QMutexLocker lock(&m_mutex);
        m_queued.insert(task);
        ++m_submitted;
    }
    m_pool.start(task);
}

void WorkerPool::Task::run()
{
    m_pool->taskStarted(this);
    // The pool's accounting is done before the future finishes, so whoever waits on the future
    // sees metrics() and the monitor already counting this task.
    if (isCancelled()) { // cancelled through its future while queued
        m_pool->taskEnded(m_type, 0, false, true, {});
        finish();
        return;
    }
    const qint64 start = m_pool->m_monitor->clock()->monotonicNs();
    bool ok = true;
    QString error;
    try {
        execute();
    } catch (const std::exception& e) {
        ok = false;
        error = QString::fromUtf8(e.what());
        fail(std::current_exception());
    } catch (...) {
        ok = false;
        error = QStringLiteral("unknown exception");
        fail(std::current_exception());
    }
    m_pool->taskEnded(m_type, start, ok, false, error);
    finish();
}

void WorkerPool::taskStarted(Task* task)
{
    QMutexLocker lock(&m_mutex);
    m_queued.remove(task);
    ++m_active;
}

void WorkerPool::taskEnded(const QString& type, qint64 startNs, bool ok, bool cancelled, const QString& error)
{
    {
        QMutexLocker lock(&m_mutex);
        --m_active;
        if (cancelled) {
            ++m_cancelled;
            return;
        }
        ++m_completed;
        m_failed += ok ? 0 : 1;
    }
    m_monitor->finishOperation(QStringLiteral("worker.") + type, startNs, ok);
    if (!ok)
        Q_EMIT taskFailed(type, error);
}

void WorkerPool::setPoolSize(int size)
{
    m_pool.setMaxThreadCount(std::max(1, size));
}

int WorkerPool::poolSize() const
{
    return m_pool.maxThreadCount();
}

int WorkerPool::cancelQueued()
{
    QMutexLocker lock(&m_mutex);
    int count = 0;
    for (auto it = m_queued.begin(); it != m_queued.end();) {
        Task* task = *it;
        // tryTake fails for a task a worker has just picked up; that one runs and reports itself.
        if (m_pool.tryTake(task)) {
            task->cancel();
            delete task;
            it = m_queued.erase(it);
            ++count;
        } else {
            ++it;
        }
    }
    m_cancelled += quint64(count);
    return count;
}

bool WorkerPool::waitForDone(int msecs)
{
    return m_pool.waitForDone(msecs);
}

WorkerPool::Metrics WorkerPool::metrics() const
{
    Metrics m;
    {
        QMutexLocker lock(&m_mutex);
        m.poolSize = m_pool.maxThreadCount();
        m.queueLength = int(m_queued.size());
        m.activeWorkers = m_active;
        m.submitted = m_submitted;
        m.completed = m_completed;
        m.failed = m_failed;
        m.cancelled = m_cancelled;
    }
    m.perType = m_monitor->allStats(StatsWindow::session(), QStringLiteral("worker."));
    return m;
}

} // namespace perfdash
