// SPDX-License-Identifier: GPL-3.0-or-later
#include "toolkit/circuitbreaker.h"

namespace perfdash {

CircuitBreaker::CircuitBreaker(const CircuitBreakerConfig& config, Scheduler* scheduler, QObject* parent)
    : QObject(parent)
    , m_config(config)
    , m_scheduler(scheduler ? scheduler : Scheduler::forCurrentThread())
{
    m_config.failureThreshold = std::max(1, m_config.failureThreshold);
    m_config.halfOpenMaxCalls = std::max(1, m_config.halfOpenMaxCalls);
    m_config.halfOpenSuccesses = std::max(1, m_config.halfOpenSuccesses);
}

CircuitBreaker::~CircuitBreaker()
{
    if (m_cooldown)
        m_scheduler->cancel(*m_cooldown);
}

bool CircuitBreaker::tryAcquire()
{
    switch (m_state) {
    case State::Closed:
        return true;
    case State::Open:
        break;
    case State::HalfOpen:
        if (m_trialsInFlight < m_config.halfOpenMaxCalls) {
            ++m_trialsInFlight;
            return true;
        }
        break;
    }
    ++m_metrics.rejected;
    return false;
}

void CircuitBreaker::recordSuccess()
{
    ++m_metrics.successes;
    if (m_state == State::HalfOpen) {
        m_trialsInFlight = std::max(0, m_trialsInFlight - 1);
        if (++m_trialSuccesses >= m_config.halfOpenSuccesses)
            transition(State::Closed);
    }
}

void CircuitBreaker::recordFailure()
{
    ++m_metrics.failures;
    const qint64 now = m_scheduler->nowMs();
    if (m_state == State::HalfOpen) {
        m_trialsInFlight = std::max(0, m_trialsInFlight - 1);
        transition(State::Open);
        return;
    }
    if (m_state != State::Closed)
        return;
    m_failureTimes.push_back(now);
    pruneFailures(now);
    if (int(m_failureTimes.size()) >= m_config.failureThreshold)
        transition(State::Open);
}

void CircuitBreaker::pruneFailures(qint64 now)
{
    while (!m_failureTimes.empty() && m_failureTimes.front() <= now - m_config.failureWindowMs)
        m_failureTimes.pop_front();
}

void CircuitBreaker::transition(State to)
{
    const State from = m_state;
    if (from == to)
        return;
    m_state = to;
    ++m_metrics.stateChanges;
    if (m_cooldown) {
        m_scheduler->cancel(*m_cooldown);
        m_cooldown.reset();
    }
    m_trialsInFlight = 0;
    m_trialSuccesses = 0;
    if (to == State::Open) {
        m_cooldown = m_scheduler->schedule(m_config.cooldownMs, [this] {
            m_cooldown.reset();
            transition(State::HalfOpen);
        });
    } else if (to == State::Closed) {
        m_failureTimes.clear();
    }
    Q_EMIT stateChanged(from, to);
}

CircuitBreaker::Metrics CircuitBreaker::metrics() const
{
    Metrics m = m_metrics;
    m.state = m_state;
    const qint64 now = m_scheduler->nowMs();
    m.recentFailures = int(std::count_if(
        m_failureTimes.begin(), m_failureTimes.end(), [&](qint64 t) { return t > now - m_config.failureWindowMs; }));
    return m;
}

void CircuitBreaker::reset()
{
    transition(State::Closed);
    m_failureTimes.clear();
}

} // namespace perfdash
