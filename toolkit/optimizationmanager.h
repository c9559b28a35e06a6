// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "toolkit/batchprocessor.h"
#include "toolkit/debouncer.h"
#include "toolkit/throttler.h"
#include "toolkit/ttlcache.h"
#include "toolkit/workerpool.h"

#include <QObject>
#include <QVariant>

#include <memory>

namespace perfdash {

struct OptimizationConfig
{
    bool cachingEnabled = true;
    qint64 cacheTtlMs = 60'000;
    int cacheMaxSize = 1000;
    bool workersEnabled = true;
    int workerPoolSize = QThread::idealThreadCount();
    bool batchingEnabled = true;
    BatchConfig batching;
    bool throttlingEnabled = true;
    ThrottleConfig throttling;
    bool debouncingEnabled = true;
    DebounceConfig debouncing;
};

/// Which route an operation takes; the first one that is asked for and enabled wins, in this order.
struct OptimizationOptions
{
    QString cacheKey; ///< non-empty: serve from the cache, computing on a miss
    bool useWorker = false; ///< run on the worker pool
    bool batch = false; ///< run in the next batch
    bool throttle = false; ///< run through the throttler
    bool debounce = false; ///< run through the debouncer (only the last of a burst runs)
    QString type = QStringLiteral("task"); ///< the worker pool's task type
};

struct OptimizationMetrics
{
    CacheMetrics cache;
    WorkerPool::Metrics workers;
    BatchMetrics batching;
    ThrottleMetrics throttling;
    DebounceMetrics debouncing;
    std::optional<OperationStats> performance; ///< "optimized.operation": every route, end to end
};

/**
 * The monitor API's facade: routes an operation through the cache, the worker pool, the batcher, the
 * throttler or the debouncer by its options, and reports all their metrics in one structure. All
 * of them record into one PerformanceMonitor (monitor()). Operations are type-erased to QVariant.
 * A batch runs its operations in order; one that throws fails the whole batch (and is retried as
 * BatchConfig says). Used from the thread it lives in; worker tasks run on the pool.
 */
class OptimizationManager : public QObject
{
    Q_OBJECT
public:
    using Operation = std::function<QVariant()>;

    explicit OptimizationManager(
        const OptimizationConfig& config = {}, Scheduler* scheduler = nullptr, QObject* parent = nullptr);
    ~OptimizationManager() override;

    QFuture<QVariant> optimize(Operation operation, const OptimizationOptions& options = {});
    OptimizationMetrics metrics() const;
    PerformanceMonitor* monitor() const noexcept { return m_monitor; }

private:
    OptimizationConfig m_config;
    PerformanceMonitor* m_monitor;
    TtlCache<QString, QVariant> m_cache;
    WorkerPool* m_workers;
    BatchProcessor<Operation, QVariant>* m_batcher;
    Throttler* m_throttler;
    Debouncer<QVariant> m_debouncer;
};

} // namespace perfdash
