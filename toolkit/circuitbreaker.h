// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "toolkit/scheduler.h"

#include <QObject>

#include <deque>
#include <functional>
#include <optional>
#include <stdexcept>

namespace perfdash {

struct CircuitBreakerConfig
{
    int failureThreshold = 5; ///< failures within failureWindowMs that open the circuit
    qint64 failureWindowMs = 60'000;
    qint64 cooldownMs = 30'000; ///< how long it stays open before trial calls
    int halfOpenMaxCalls = 1; ///< trial calls allowed at once while half-open
    int halfOpenSuccesses = 1; ///< successful trials that close it again
};

/// Thrown by CircuitBreaker::call() when the circuit refuses a call and there is no fallback.
class CircuitOpenError : public std::runtime_error
{
public:
    CircuitOpenError()
        : std::runtime_error("circuit breaker is open")
    {
    }
};

/**
 * Closed: calls pass, and failureThreshold failures within failureWindowMs open it. Open: calls
 * are refused (the fallback runs, or CircuitOpenError is thrown) until cooldownMs has passed, then
 * it is half-open. Half-open: at most halfOpenMaxCalls trial calls at once; halfOpenSuccesses
 * successes close it, one failure opens it again. call() runs synchronous callables; for
 * asynchronous work use tryAcquire() and report with recordSuccess()/recordFailure().
 * Used from one thread.
 */
class CircuitBreaker : public QObject
{
    Q_OBJECT
public:
    enum class State { Closed, Open, HalfOpen };
    Q_ENUM(State)

    struct Metrics
    {
        State state = State::Closed;
        int recentFailures = 0; ///< within the failure window
        quint64 successes = 0;
        quint64 failures = 0;
        quint64 rejected = 0;
        quint64 fallbacks = 0;
        quint64 stateChanges = 0;
    };

    explicit CircuitBreaker(
        const CircuitBreakerConfig& config, Scheduler* scheduler = nullptr, QObject* parent = nullptr);
    ~CircuitBreaker() override;

    /// Runs @p operation if the circuit lets it, recording its outcome; otherwise throws CircuitOpenError.
    template <typename F> decltype(auto) call(F&& operation);
    /// Runs @p operation if the circuit lets it, else @p fallback (also when @p operation throws).
    template <typename F, typename Fallback> auto call(F&& operation, Fallback&& fallback);

    /// Asks for a call; true means go ahead and report the outcome.
    bool tryAcquire();
    void recordSuccess();
    void recordFailure();

    State state() const { return m_state; }
    Metrics metrics() const;
    void reset();

Q_SIGNALS:
    void stateChanged(perfdash::CircuitBreaker::State from, perfdash::CircuitBreaker::State to);

private:
    void transition(State to);
    void pruneFailures(qint64 now);

    CircuitBreakerConfig m_config;
    Scheduler* m_scheduler;
    State m_state = State::Closed;
    std::deque<qint64> m_failureTimes;
    int m_trialsInFlight = 0;
    int m_trialSuccesses = 0;
    std::optional<Scheduler::TaskId> m_cooldown;
    Metrics m_metrics;
};

template <typename F> decltype(auto) CircuitBreaker::call(F&& operation)
{
    if (!tryAcquire())
        throw CircuitOpenError();
    try {
        if constexpr (std::is_void_v<std::invoke_result_t<F>>) {
            std::invoke(std::forward<F>(operation));
            recordSuccess();
        } else {
            auto result = std::invoke(std::forward<F>(operation));
            recordSuccess();
            return result;
        }
    } catch (const CircuitOpenError&) {
        throw;
    } catch (...) {
        recordFailure();
        throw;
    }
}

template <typename F, typename Fallback> auto CircuitBreaker::call(F&& operation, Fallback&& fallback)
{
    if (!tryAcquire()) {
        ++m_metrics.fallbacks;
        return std::invoke(std::forward<Fallback>(fallback));
    }
    try {
        auto result = std::invoke(std::forward<F>(operation));
        recordSuccess();
        return result;
    } catch (...) {
        recordFailure();
        ++m_metrics.fallbacks;
        return std::invoke(std::forward<Fallback>(fallback));
    }
}

} // namespace perfdash
