// SPDX-License-Identifier: MIT
// Time: the CPU's tick counter where it can be trusted, CLOCK_MONOTONIC everywhere else.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace perfdash::clock {

__extension__ typedef unsigned __int128 u128;

std::uint64_t monotonicNs() noexcept;
std::uint64_t wallNs() noexcept;

/// Whether this architecture has a user-readable tick counter at all (x86: TSC, aarch64: CNTVCT_EL0).
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
inline constexpr bool HaveCounter = true;
#else
inline constexpr bool HaveCounter = false;
#endif

/// The raw tick counter; only meaningful when HaveCounter.
inline std::uint64_t ticks() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#elif defined(__aarch64__)
    std::uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    return monotonicNs();
#endif
}

/// Which clock a reading came from: what Scope and perfdash_scope keep next to their start.
enum Which : int { Monotonic = 0, Counter = 1 };

/// What the hot path reads: constant-initialised, so no guard variable on any access.
struct State
{
    std::atomic<int> ready { 0 }; // the counter is calibrated and trusted
    std::atomic<std::uint64_t> mult { 0 }; // nanoseconds per tick, 32.32 fixed point
    std::atomic<std::uint64_t> origin { 0 }; // a tick count and the monotonic time it was read at
    std::atomic<std::uint64_t> originMono { 0 };
    std::atomic<std::uint64_t> backwards { 0 }; // end-before-start readings, recorded as 0 ns
    // The longest tick difference that (ticks x mult) keeps within 64 bits: a scope's end converts
    // shorter ones with one multiply, longer ones the slow way.
    std::atomic<std::uint64_t> fastTicks { 0 };
};
extern State g_state;

inline std::uint64_t ticksToNs(std::uint64_t t) noexcept
{
    return std::uint64_t((u128(t) * g_state.mult.load(std::memory_order_relaxed)) >> 32);
}

inline std::uint64_t now(int& which) noexcept
{
    if (g_state.ready.load(std::memory_order_relaxed)) {
        which = Counter;
        return ticks();
    }
    which = Monotonic;
    return monotonicNs();
}

inline std::uint64_t read(int which) noexcept
{
    return which == Counter ? ticks() : monotonicNs();
}

/// The nanoseconds between two readings of the same clock. A counter that went backwards (a thread
/// moved to a core whose counter lags, or the caller mixed readings) gives 0, counted, never 2^64.
inline std::uint64_t elapsedNs(std::uint64_t start, std::uint64_t end, int which) noexcept
{
    if (end < start) {
        g_state.backwards.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    return which == Counter ? ticksToNs(end - start) : end - start;
}

/// A reading as monotonic nanoseconds, whichever clock it came from.
std::uint64_t toMonotonic(std::uint64_t value, int which) noexcept;

/// A tick count and the CLOCK_MONOTONIC time it was read at: the ticks are the middle of two reads
/// around clock_gettime(), taken again (up to a few times) when the two were far apart (the thread
/// was interrupted between them).
void readPair(std::uint64_t& ticks, std::uint64_t& mono) noexcept;

/// Whether the counter may be used: the CPU says it runs at a constant rate in every power state,
/// the kernel has not fallen back to a slow clocksource (what it does when it stops trusting the
/// TSC), and the environment did not turn it off (PERFDASH_NO_TSC=1). Pure, for the unit tests.
bool counterTrusted(bool cpuInvariant, const std::string& kernelClocksource, bool disabledByEnv) noexcept;
bool cpuCounterInvariant() noexcept;
/// The kernel's current clocksource ("tsc", "arch_sys_counter", "hpet"...), empty when unknown.
std::string kernelClocksource();
/// What the calibrator asks for the clocksource: kernelClocksource, or a test's own, set before
/// the library starts.
extern std::string (*g_clocksource)();

/// Calibrates the counter against CLOCK_MONOTONIC from the flusher thread: after 50 ms, 1 s and
/// 10 s, then once a minute, each time over the whole time since start (so it gets finer and
/// follows a drifting rate). Not thread-safe: one owner.
class Calibrator
{
public:
    /// Decides whether the counter is used; false: every reading stays on CLOCK_MONOTONIC. Each
    /// step() asks the kernel again: when it stops trusting the TSC later (its watchdog switches to
    /// hpet), readings go back to CLOCK_MONOTONIC for good.
    bool start();
    /// The monotonic time at which step() is next due, or 0 when there is nothing to do.
    std::uint64_t nextDueNs() const noexcept;
    void step() noexcept;
    int calibrations() const noexcept { return m_calibrations; }

private:
    bool m_enabled = false;
    int m_calibrations = 0;
    std::uint64_t m_ticks0 = 0;
    std::uint64_t m_mono0 = 0;
};

} // namespace perfdash::clock
