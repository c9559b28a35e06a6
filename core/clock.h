// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QtGlobal>

#include <atomic>

namespace perfdash {

/**
 * Where the monitor gets its time. Durations come from a monotonic clock; the per-second
 * history is keyed by wall-clock milliseconds so that exported timestamps are real dates.
 * Tests and simulations use ManualClock to run an hour in milliseconds.
 */
class Clock
{
public:
    virtual ~Clock() = default;
    /// Monotonic nanoseconds, for measuring durations.
    virtual qint64 monotonicNs() const noexcept = 0;
    /// Milliseconds since the Unix epoch, for timestamps.
    virtual qint64 wallMs() const noexcept = 0;

    /// The real clocks (CLOCK_MONOTONIC and CLOCK_REALTIME). Lives for the whole program.
    static Clock* system() noexcept;
};

/// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock
{
public:
    explicit ManualClock(qint64 wallMs = 1'700'000'000'000) noexcept
        : m_ns(0)
        , m_wallMs(wallMs)
    {
    }
    qint64 monotonicNs() const noexcept override { return m_ns.load(std::memory_order_relaxed); }
    qint64 wallMs() const noexcept override { return m_wallMs.load(std::memory_order_relaxed); }
    /// Advances both clocks by @p ns nanoseconds.
    void advanceNs(qint64 ns) noexcept
    {
        const qint64 before = m_ns.fetch_add(ns, std::memory_order_relaxed);
        // The wall clock moves by whole milliseconds crossed, so many small steps add up.
        m_wallMs.fetch_add((before + ns) / 1'000'000 - before / 1'000'000, std::memory_order_relaxed);
    }
    void advanceMs(qint64 ms) noexcept { advanceNs(ms * 1'000'000); }
    /// Sets the wall clock alone (replaying a capture moves it to each recorded second).
    void setWallMs(qint64 ms) noexcept { m_wallMs.store(ms, std::memory_order_relaxed); }

private:
    std::atomic<qint64> m_ns;
    std::atomic<qint64> m_wallMs;
};

} // namespace perfdash
