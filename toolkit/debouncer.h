// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/performancemonitor.h"
#include "toolkit/scheduler.h"

#include <QFuture>
#include <QPromise>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <variant>
#include <vector>

namespace perfdash {

struct DebounceConfig
{
    qint64 waitMs = 100;
    std::optional<qint64> maxWaitMs; ///< longest a call may wait for an invocation (lodash's maxWait)
    bool leading = false;
    bool trailing = true;
};

struct DebounceMetrics
{
    quint64 calls = 0;
    quint64 invocations = 0;
    int pending = 0; ///< callers waiting for an invocation
    bool waiting = false; ///< a timer runs
    std::optional<OperationStats> invocationDuration; ///< "debounce.invoke" in the monitor
};

/**
 * Lodash's debounce on a Scheduler, with results: call() returns a QFuture that resolves with the
 * result of the invocation that covered the call. An invocation runs the operation of the latest
 * call and covers every call since the previous invocation. With leading and trailing both on,
 * the operation runs twice only if it was called more than once within the wait. A call that no
 * invocation will cover (trailing off, inside the wait) resolves at once with the previous
 * invocation's result, as lodash returns it. cancel() cancels the waiting futures; flush() runs
 * the pending trailing invocation now. Used from one thread.
 */
template <typename R> class Debouncer
{
public:
    using Operation = std::function<R()>;

    explicit Debouncer(
        const DebounceConfig& config, Scheduler* scheduler = nullptr, PerformanceMonitor* monitor = nullptr)
        : m_config(config)
        , m_scheduler(scheduler ? scheduler : Scheduler::forCurrentThread())
        , m_ownMonitor(monitor ? nullptr : std::make_unique<PerformanceMonitor>())
        , m_monitor(monitor ? monitor : m_ownMonitor.get())
    {
        m_config.waitMs = std::max<qint64>(0, m_config.waitMs);
        if (m_config.maxWaitMs)
            m_config.maxWaitMs = std::max(*m_config.maxWaitMs, m_config.waitMs);
    }
    ~Debouncer() { cancel(); }
    Q_DISABLE_COPY_MOVE(Debouncer)

    QFuture<R> call(Operation operation)
    {
        const qint64 time = m_scheduler->nowMs();
        const bool invoking = shouldInvoke(time);
        m_lastOperation = std::move(operation);
        m_lastCallTime = time;
        ++m_calls;
        auto promise = std::make_shared<QPromise<R>>();
        promise->start();
        QFuture<R> future = promise->future();
        m_waiters.push_back(promise);

        if (invoking) {
            if (!m_timer) {
                leadingEdge(time);
                return future;
            }
            if (m_config.maxWaitMs) {
                restartTimer(m_config.waitMs);
                invoke(time);
                return future;
            }
        }
        if (!m_timer)
            restartTimer(m_config.waitMs);
        if (!m_config.trailing)
            settleUncovered(); // nothing will invoke for this call
        return future;
    }

    void cancel()
    {
        if (m_timer)
            m_scheduler->cancel(*m_timer);
        m_timer.reset();
        m_lastInvokeTime = 0;
        m_lastCallTime.reset();
        m_lastOperation = nullptr;
        for (auto& p : std::exchange(m_waiters, {})) {
            p->future().cancel();
            p->finish();
        }
    }

    /// Runs the pending trailing invocation now, if there is one.
    void flush()
    {
        if (!m_timer)
            return;
        m_scheduler->cancel(*m_timer);
        trailingEdge(m_scheduler->nowMs());
    }

    int pending() const { return int(m_waiters.size()); }
    bool isWaiting() const { return m_timer.has_value(); }
    DebounceMetrics metrics() const
    {
        return { m_calls, m_invocations, pending(), isWaiting(), m_monitor->stats(QStringLiteral("debounce.invoke")) };
    }

private:
    using Stored = std::conditional_t<std::is_void_v<R>, std::monostate, R>;

    bool shouldInvoke(qint64 time) const
    {
        if (!m_lastCallTime)
            return true;
        const qint64 sinceCall = time - *m_lastCallTime;
        const qint64 sinceInvoke = time - m_lastInvokeTime;
        return sinceCall >= m_config.waitMs || sinceCall < 0
            || (m_config.maxWaitMs && sinceInvoke >= *m_config.maxWaitMs);
    }

    qint64 remainingWait(qint64 time) const
    {
        const qint64 waiting = m_config.waitMs - (time - *m_lastCallTime);
        return m_config.maxWaitMs ? std::min(waiting, *m_config.maxWaitMs - (time - m_lastInvokeTime)) : waiting;
    }

    void restartTimer(qint64 delay)
    {
        if (m_timer)
            m_scheduler->cancel(*m_timer);
        m_timer = m_scheduler->schedule(delay, [this] { timerExpired(); });
    }

    void leadingEdge(qint64 time)
    {
        m_lastInvokeTime = time;
        restartTimer(m_config.waitMs);
        if (m_config.leading)
            invoke(time);
        else if (!m_config.trailing)
            settleUncovered();
    }

    void timerExpired()
    {
        m_timer.reset();
        const qint64 time = m_scheduler->nowMs();
        if (shouldInvoke(time))
            trailingEdge(time);
        else
            m_timer = m_scheduler->schedule(remainingWait(time), [this] { timerExpired(); });
    }

    void trailingEdge(qint64 time)
    {
        m_timer.reset();
        if (m_config.trailing && m_lastOperation)
            invoke(time);
        else
            settleUncovered();
        m_lastOperation = nullptr;
    }

    void invoke(qint64 time)
    {
        Operation operation = std::exchange(m_lastOperation, nullptr);
        m_lastInvokeTime = time;
        ++m_invocations;
        const qint64 start = m_monitor->clock()->monotonicNs();
        try {
            if constexpr (std::is_void_v<R>) {
                operation();
                m_outcome = Stored {};
            } else {
                m_outcome = operation();
            }
            m_error = nullptr;
        } catch (...) {
            m_error = std::current_exception();
            m_outcome.reset();
        }
        m_monitor->finishOperation(QStringLiteral("debounce.invoke"), start, !m_error);
        settle(std::exchange(m_waiters, {}));
    }

    /// Calls that no invocation will cover get the previous outcome (or are cancelled if none).
    void settleUncovered() { settle(std::exchange(m_waiters, {})); }

    void settle(std::vector<std::shared_ptr<QPromise<R>>> waiters)
    {
        for (auto& p : waiters) {
            if (m_error) {
                p->setException(m_error);
            } else if (m_outcome) {
                if constexpr (!std::is_void_v<R>)
                    p->addResult(*m_outcome);
            } else {
                p->future().cancel();
            }
            p->finish();
        }
    }

    DebounceConfig m_config;
    Scheduler* m_scheduler;
    std::unique_ptr<PerformanceMonitor> m_ownMonitor;
    PerformanceMonitor* m_monitor;
    std::optional<Scheduler::TaskId> m_timer;
    std::optional<qint64> m_lastCallTime;
    qint64 m_lastInvokeTime = 0;
    Operation m_lastOperation;
    std::vector<std::shared_ptr<QPromise<R>>> m_waiters;
    std::optional<Stored> m_outcome;
    std::exception_ptr m_error;
    quint64 m_calls = 0;
    quint64 m_invocations = 0;
};

} // namespace perfdash
