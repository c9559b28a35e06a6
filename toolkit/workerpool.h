// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/performancemonitor.h"

#include <QFuture>
#include <QMutex>
#include <QObject>
#include <QPromise>
#include <QRunnable>
#include <QSet>
#include <QThreadPool>

#include <atomic>
#include <exception>
#include <memory>
#include <type_traits>

namespace perfdash {

/**
 * Typed tasks on a QThreadPool of its own (the monitor API's WorkerPool). submit() returns a QFuture;
 * a task that throws fails its future with the exception, never the pool. Queued tasks can be
 * cancelled, one by one (QFuture::cancel()) or all at once (cancelQueued()). Each task's duration
 * and outcome is recorded in monitor() as "worker.<type>". Thread-safe.
 */
class WorkerPool : public QObject
{
    Q_OBJECT
public:
    struct Metrics
    {
        int poolSize = 0;
        int queueLength = 0;
        int activeWorkers = 0;
        quint64 submitted = 0;
        quint64 completed = 0; ///< finished, successfully or not
        quint64 failed = 0;
        quint64 cancelled = 0;
        QList<OperationStats> perType; ///< "worker.<type>", session-wide
    };

    /// @p monitor receives the per-type statistics; by default the pool has its own.
    explicit WorkerPool(
        int poolSize = QThread::idealThreadCount(), PerformanceMonitor* monitor = nullptr, QObject* parent = nullptr);
    /// Cancels what is queued and waits for what runs.
    ~WorkerPool() override;

    template <typename F> QFuture<std::invoke_result_t<std::decay_t<F>>> submit(const QString& type, F&& task);

    void setPoolSize(int size);
    int poolSize() const;
    /// Cancels every task that has not started; returns how many.
    int cancelQueued();
    /// Waits until no task is queued or running; false on timeout.
    bool waitForDone(int msecs = -1);
    Metrics metrics() const;
    PerformanceMonitor* monitor() const noexcept { return m_monitor; }

Q_SIGNALS:
    /// A task threw; @p error is its what() when it was a std::exception.
    void taskFailed(const QString& type, const QString& error);

private:
    class Task : public QRunnable
    {
    public:
        Task(WorkerPool* pool, QString type)
            : m_pool(pool)
            , m_type(std::move(type))
        {
            setAutoDelete(true);
        }
        void run() final;
        virtual void cancel() = 0;

    protected:
        virtual bool isCancelled() const = 0;
        virtual void execute() = 0; // runs the callable; throws what it throws
        virtual void fail(std::exception_ptr error) = 0;
        virtual void finish() = 0;

    private:
        WorkerPool* m_pool;
        QString m_type;
    };

    template <typename R> class TypedTask final : public Task
    {
    public:
        TypedTask(WorkerPool* pool, QString type, std::function<R()> fn)
            : Task(pool, std::move(type))
            , m_fn(std::move(fn))
        {
            m_promise.start();
        }
        QFuture<R> future() { return m_promise.future(); }
        void cancel() override
        {
            m_promise.future().cancel();
            m_promise.finish();
        }

    protected:
        bool isCancelled() const override { return m_promise.isCanceled(); }
        void execute() override
        {
            if constexpr (std::is_void_v<R>)
                m_fn();
            else
                m_promise.addResult(m_fn());
        }
        void fail(std::exception_ptr error) override { m_promise.setException(error); }
        void finish() override { m_promise.finish(); }

    private:
        std::function<R()> m_fn;
        QPromise<R> m_promise;
    };

    void enqueue(Task* task);
    void taskStarted(Task* task);
    void taskEnded(const QString& type, qint64 startNs, bool ok, bool cancelled, const QString& error);

    QThreadPool m_pool;
    PerformanceMonitor* m_monitor;
    mutable QMutex m_mutex;
    QSet<Task*> m_queued;
    int m_active = 0;
    quint64 m_submitted = 0;
    quint64 m_completed = 0;
    quint64 m_failed = 0;
    quint64 m_cancelled = 0;
};

template <typename F> QFuture<std::invoke_result_t<std::decay_t<F>>> WorkerPool::submit(const QString& type, F&& task)
{
    using R = std::invoke_result_t<std::decay_t<F>>;
    auto* t = new TypedTask<R>(this, type, std::function<R()>(std::forward<F>(task)));
    QFuture<R> future = t->future();
    enqueue(t);
    return future;
}

} // namespace perfdash
