// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/optimizationmanager.h"

namespace perfdash {

namespace {
QList<QVariant> runAll(const QList<OptimizationManager::Operation>& operations)
{
    QList<QVariant> results;
    results.reserve(operations.size());
    for (const auto& op : operations)
        results.append(op());
    return results;
}
} // namespace

OptimizationManager::OptimizationManager(const OptimizationConfig& config, Scheduler* scheduler, QObject* parent)
    : QObject(parent)
    , m_config(config)
    , m_monitor(new PerformanceMonitor(this))
    , m_cache(config.cacheTtlMs, config.cacheMaxSize, m_monitor->clock())
    , m_workers(new WorkerPool(config.workerPoolSize, m_monitor, this))
    , m_batcher(new BatchProcessor<Operation, QVariant>(runAll, config.batching, scheduler, m_monitor, this))
    , m_throttler(new Throttler(config.throttling, scheduler, m_monitor, this))
    , m_debouncer(config.debouncing, scheduler, m_monitor)
{
}

OptimizationManager::~OptimizationManager()
{
    m_workers->cancelQueued();
    m_workers->waitForDone();
}

QFuture<QVariant> OptimizationManager::optimize(Operation operation, const OptimizationOptions& options)
{
    enum class Route { Cache, Worker, Batch, Throttle, Debounce, Direct };
    Route route = Route::Direct;
    if (!options.cacheKey.isEmpty() && m_config.cachingEnabled)
        route = Route::Cache;
    else if (options.useWorker && m_config.workersEnabled)
        route = Route::Worker;
    else if (options.batch && m_config.batchingEnabled)
        route = Route::Batch;
    else if (options.throttle && m_config.throttlingEnabled)
        route = Route::Throttle;
    else if (options.debounce && m_config.debouncingEnabled)
        route = Route::Debounce;
    static const QStringList routeNames { QStringLiteral("cache"), QStringLiteral("worker"), QStringLiteral("batch"),
        QStringLiteral("throttle"), QStringLiteral("debounce"), QStringLiteral("direct") };

    const auto run = [&]() -> QFuture<QVariant> {
        switch (route) {
        case Route::Cache:
            return m_cache.getOrCompute(options.cacheKey, operation);
        case Route::Worker:
            return m_workers->submit(options.type, operation);
        case Route::Batch:
            return m_batcher->add(operation);
        case Route::Throttle:
            return m_throttler->execute(operation);
        case Route::Debounce:
            return m_debouncer.call(operation);
        case Route::Direct:
            break;
        }
        QPromise<QVariant> direct;
        direct.start();
        try {
            direct.addResult(operation());
        } catch (...) {
            direct.setException(std::current_exception());
        }
        direct.finish();
        return direct.future();
    };
    return m_monitor->trackOperation(
        QStringLiteral("optimized.operation"), run, { { QStringLiteral("route"), routeNames.at(int(route)) } });
}

OptimizationMetrics OptimizationManager::metrics() const
{
    return { m_cache.metrics(), m_workers->metrics(), m_batcher->metrics(), m_throttler->metrics(),
        m_debouncer.metrics(), m_monitor->stats(QStringLiteral("optimized.operation")) };
}

} // namespace perfdash
