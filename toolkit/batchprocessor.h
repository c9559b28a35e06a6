// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/performancemonitor.h"
#include "toolkit/scheduler.h"

#include <QFuture>
#include <QMutex>
#include <QObject>
#include <QPromise>
#include <QThread>

#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

namespace perfdash {

struct BatchConfig
{
    int maxSize = 100; ///< a batch runs as soon as this many items wait
    qint64 maxDelayMs = 50; ///< ...or this long after the first of them arrived
    int retryAttempts = 0; ///< retries after a failed first try
    qint64 retryDelayMs = 100; ///< the k-th retry waits k * retryDelayMs
};

struct BatchMetrics
{
    int currentBatchSize = 0; ///< items waiting for a batch
    bool processing = false;
    quint64 batches = 0; ///< batches finished, successfully or not
    quint64 items = 0; ///< items in those batches
    quint64 retries = 0;
    quint64 failedBatches = 0;
    quint64 failedItems = 0;
    std::optional<OperationStats> batchDuration; ///< "batch.process" in the monitor
};

/**
 * The non-template half of BatchProcessor: scheduling, counters and signals.
 * Items may be added from any thread; batches run on the thread this object lives in, one at a
 * time, so the processor never runs concurrently with itself.
 */
class BatchProcessorBase : public QObject
{
    Q_OBJECT
public:
    ~BatchProcessorBase() override;
    BatchConfig config() const { return m_config; }
    BatchMetrics metrics() const;
    /// Items waiting for a batch; cheap (metrics() also computes statistics).
    qsizetype waiting() const;
    PerformanceMonitor* monitor() const noexcept { return m_monitor; }
    /// Runs a batch now with whatever waits (at most maxSize items).
    void flush();

Q_SIGNALS:
    /// After each batch: items resolved (with a result or an error) so far, and items added so far.
    void progress(quint64 resolvedItems, quint64 addedItems);
    void batchFailed(const QString& error, int items);

protected:
    BatchProcessorBase(const BatchConfig& config, Scheduler* scheduler, PerformanceMonitor* monitor, QObject* parent);

    /// Called by add() with the lock held released: asks the owning thread to look at the queue.
    void itemAdded(qsizetype waiting);
    qint64 now() const { return m_scheduler->nowMs(); }
    mutable QMutex m_mutex; // guards the derived class's queue and the counters

    virtual qsizetype waitingLocked() const = 0;
    virtual qint64 oldestAddedAtLocked() const = 0;
    /// Moves up to maxSize items into a batch; returns the batch's size.
    virtual qsizetype takeBatchLocked() = 0;
    /// Runs the taken batch once; throws on failure.
    virtual void runBatch() = 0;
    virtual void resolveBatch() = 0;
    virtual void failBatch(std::exception_ptr error) = 0;

private:
    void schedule();
    bool readyForBatch() const;
    void armDelay();
    void process();
    /// Runs the batch once; false when a retry was scheduled instead of finishing it.
    bool attempt();

    BatchConfig m_config;
    Scheduler* m_scheduler;
    PerformanceMonitor* m_monitor;
    static constexpr qint64 MaxLoopNs = 4'000'000; // how long process() keeps its thread at once
    std::optional<Scheduler::TaskId> m_delayTask;
    std::optional<Scheduler::TaskId> m_retryTask;
    std::atomic<bool> m_processing { false };
    int m_attempt = 0;
    qsizetype m_batchSize = 0;
    qint64 m_batchStartNs = 0;
    quint64 m_added = 0;
    quint64 m_resolved = 0;
    quint64 m_batches = 0;
    quint64 m_items = 0;
    quint64 m_retries = 0;
    quint64 m_failedBatches = 0;
    quint64 m_failedItems = 0;

    template <typename T, typename R> friend class BatchProcessor;
};

/**
 * Collects items and hands them to a processor in batches (the monitor API's BatchProcessor, with the
 * results delivered): a batch runs when maxSize items wait or maxDelayMs after the first one
 * arrived, whichever comes first. The processor gets the items in arrival order and returns one
 * result per item, in the same order; each add() gets its item's result through its QFuture.
 * A batch that throws (or returns the wrong number of results) is retried retryAttempts times,
 * the k-th retry after k * retryDelayMs; when retries are exhausted every item of the batch fails
 * with the error. Each item is resolved exactly once; destroying the processor cancels the items
 * still waiting.
 */
template <typename T, typename R> class BatchProcessor final : public BatchProcessorBase
{
public:
    using Processor = std::function<QList<R>(const QList<T>&)>;

    BatchProcessor(Processor processor, const BatchConfig& config, Scheduler* scheduler = nullptr,
        PerformanceMonitor* monitor = nullptr, QObject* parent = nullptr)
        : BatchProcessorBase(config, scheduler, monitor, parent)
        , m_processor(std::move(processor))
    {
    }

    /// Thread-safe.
    QFuture<R> add(T item)
    {
        QMutexLocker lock(&m_mutex);
        m_waiting.push_back(Pending { std::move(item), QPromise<R>(), now() });
        Pending& p = m_waiting.back();
        p.promise.start();
        QFuture<R> future = p.promise.future();
        ++m_added;
        const qsizetype waiting = qsizetype(m_waiting.size());
        lock.unlock();
        itemAdded(waiting);
        return future;
    }

private:
    struct Pending
    {
        T item;
        QPromise<R> promise;
        qint64 addedAtMs;
    };

    qsizetype waitingLocked() const override { return qsizetype(m_waiting.size()); }
    qint64 oldestAddedAtLocked() const override { return m_waiting.empty() ? 0 : m_waiting.front().addedAtMs; }
    qsizetype takeBatchLocked() override
    {
        m_batch.clear();
        m_items.clear();
        while (!m_waiting.empty() && qsizetype(m_batch.size()) < m_config.maxSize) {
            m_items.append(std::move(m_waiting.front().item)); // the batch keeps only the promise
            m_batch.push_back(std::move(m_waiting.front()));
            m_waiting.pop_front();
        }
        return qsizetype(m_batch.size());
    }
    void runBatch() override
    {
        m_results = m_processor(m_items);
        if (m_results.size() != m_items.size()) {
            throw std::length_error("the batch processor returned " + std::to_string(m_results.size()) + " results for "
                + std::to_string(m_items.size()) + " items");
        }
    }
    void resolveBatch() override
    {
        for (std::size_t i = 0; i < m_batch.size(); ++i) {
            m_batch[i].promise.addResult(std::move(m_results[qsizetype(i)]));
            m_batch[i].promise.finish();
        }
        m_batch.clear();
        m_results.clear();
    }
    void failBatch(std::exception_ptr error) override
    {
        for (Pending& p : m_batch) {
            p.promise.setException(error);
            p.promise.finish();
        }
        m_batch.clear();
    }

    Processor m_processor;
    std::deque<Pending> m_waiting;
    std::vector<Pending> m_batch; // owned by the processing thread once taken
    QList<T> m_items;
    QList<R> m_results;
};

} // namespace perfdash
