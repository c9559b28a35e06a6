// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/performancemonitor.h"
#include "toolkit/scheduler.h"

#include <QFuture>
#include <QObject>
#include <QPromise>

#include <deque>
#include <functional>
#include <memory>
#include <optional>

namespace perfdash {

struct ThrottleConfig
{
    int maxConcurrent = 4; ///< operations in flight at once
    int maxPerSecond = 100; ///< starts within any sliding second
    int maxBurstSize = 0; ///< this many starts within a second trigger a cool-down; 0: never
    qint64 cooldownPeriodMs = 1000; ///< no start during a cool-down
};

struct ThrottleMetrics
{
    int active = 0;
    int queued = 0;
    int startsLastSecond = 0;
    bool coolingDown = false;
    quint64 started = 0;
    quint64 completed = 0;
    quint64 throttled = 0; ///< operations that had to wait
    std::optional<OperationStats> duration; ///< "throttle.operation" in the monitor
};

/**
 * Limits how many operations run at once, how many start per second, and how large a burst may
 * be before a cool-down (the monitor API's ThrottleManager). Operations that cannot start wait in
 * arrival order and start as capacity frees; throttled(queueLength) says when one had to wait.
 * An operation may return a QFuture (it is in flight until the future finishes) or a value (it
 * runs inline when it starts). Used from the thread the throttler lives in.
 */
class Throttler : public QObject
{
    Q_OBJECT
public:
    explicit Throttler(const ThrottleConfig& config, Scheduler* scheduler = nullptr,
        PerformanceMonitor* monitor = nullptr, QObject* parent = nullptr);
    ~Throttler() override;

    template <typename F> auto execute(F&& operation);

    ThrottleMetrics metrics() const;
    ThrottleConfig config() const { return m_config; }
    PerformanceMonitor* monitor() const noexcept { return m_monitor; }

Q_SIGNALS:
    void throttled(int queueLength);

private:
    using Job = std::function<void()>; // starts the operation; it calls finished() when done

    void enqueue(Job job);
    void pump();
    bool canStart(qint64 now);
    void started();
    void finished(qint64 startNs, bool ok);

    /// Passes @p done's outcome on to @p promise; false when it failed.
    template <typename T> static bool settle(QPromise<T>& promise, QFuture<T>& done);

    ThrottleConfig m_config;
    Scheduler* m_scheduler;
    PerformanceMonitor* m_monitor;
    std::deque<Job> m_queue;
    std::deque<qint64> m_starts; // start times within the last second
    std::deque<qint64> m_burst; // the same, since the last cool-down ended
    int m_active = 0;
    bool m_cooling = false;
    bool m_pumping = false;
    std::optional<Scheduler::TaskId> m_wakeUp;
    std::optional<Scheduler::TaskId> m_cooldown;
    quint64 m_started = 0;
    quint64 m_completed = 0;
    quint64 m_throttled = 0;
};

namespace detail {
template <typename T> struct FutureValue
{
    using type = T;
};
template <typename T> struct FutureValue<QFuture<T>>
{
    using type = T;
};
} // namespace detail

template <typename T> bool Throttler::settle(QPromise<T>& promise, QFuture<T>& done)
{
    bool ok = true;
    try {
        done.waitForFinished();
        if constexpr (!std::is_void_v<T>)
            promise.addResult(done.result());
    } catch (...) {
        ok = false;
        promise.setException(std::current_exception());
    }
    promise.finish();
    return ok;
}

template <typename F> auto Throttler::execute(F&& operation)
{
    using Result = std::invoke_result_t<std::decay_t<F>>;
    using T = typename detail::FutureValue<Result>::type;
    auto promise = std::make_shared<QPromise<T>>();
    promise->start();
    QFuture<T> future = promise->future();
    enqueue([this, promise, op = std::function<Result()>(std::forward<F>(operation))]() mutable {
        const qint64 start = m_monitor->clock()->monotonicNs();
        started();
        if constexpr (detail::IsQFuture<Result>::value) {
            QFuture<T> inner;
            try {
                inner = op();
            } catch (...) {
                promise->setException(std::current_exception());
                promise->finish();
                finished(start, false);
                return;
            }
            inner.then(this, [this, promise, start](QFuture<T> done) { finished(start, settle(*promise, done)); });
        } else {
            bool ok = true;
            try {
                if constexpr (std::is_void_v<T>)
                    op();
                else
                    promise->addResult(op());
            } catch (...) {
                ok = false;
                promise->setException(std::current_exception());
            }
            promise->finish();
            finished(start, ok);
        }
    });
    return future;
}

} // namespace perfdash
