// SPDX-License-Identifier: MIT
#include "clock.h"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace perfdash::clock {

State g_state;
std::string (*g_clocksource)() = kernelClocksource;

std::uint64_t monotonicNs() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

std::uint64_t wallNs() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
}

std::uint64_t toMonotonic(std::uint64_t value, int which) noexcept
{
    if (which != Counter)
        return value;
    const std::uint64_t origin = g_state.origin.load(std::memory_order_relaxed);
    const std::uint64_t originMono = g_state.originMono.load(std::memory_order_relaxed);
    return value >= origin ? originMono + ticksToNs(value - origin) : originMono - ticksToNs(origin - value);
}

void readPair(std::uint64_t& ticksOut, std::uint64_t& monoOut) noexcept
{
    std::uint64_t bestSpan = ~std::uint64_t(0);
    for (int i = 0; i < 8; ++i) {
        const std::uint64_t t0 = ticks();
        const std::uint64_t mono = monotonicNs();
        const std::uint64_t t1 = ticks();
        if (t1 < t0)
            continue;
        if (t1 - t0 < bestSpan) {
            bestSpan = t1 - t0;
            ticksOut = t0 + (t1 - t0) / 2;
            monoOut = mono;
        }
        // Under about 1 us on any counter of 1 GHz or less: the pair is as good as it gets.
        if (bestSpan < 1000)
            break;
    }
    if (bestSpan == ~std::uint64_t(0)) { // the counter went backwards each time: take a plain pair
        ticksOut = ticks();
        monoOut = monotonicNs();
    }
}

bool cpuCounterInvariant() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
        return false;
    __get_cpuid(0x80000007, &a, &b, &c, &d);
    return (d & (1u << 8)) != 0; // invariant TSC
#elif defined(__aarch64__)
    return true; // the generic timer runs at a fixed frequency by the architecture's definition
#else
    return false;
#endif
}

std::string kernelClocksource()
{
    const int fd = ::open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return {};
    char buffer[64];
    const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    std::string s(buffer, n > 0 ? std::size_t(n) : 0);
    while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
        s.pop_back();
    return s;
}

bool counterTrusted(bool cpuInvariant, const std::string& source, bool disabledByEnv) noexcept
{
    if (!HaveCounter || !cpuInvariant || disabledByEnv)
        return false;
    // The sources the kernel falls back to when its watchdog marks the TSC unstable. A paravirtual
    // clock (kvm-clock, hyperv) is fine: it is itself built on a stable TSC.
    for (const char* slow : { "hpet", "acpi_pm", "jiffies", "refined-jiffies", "pit" })
        if (source == slow)
            return false;
    return true;
}

bool Calibrator::start()
{
    const char* off = std::getenv("PERFDASH_NO_TSC");
    m_enabled = counterTrusted(cpuCounterInvariant(), g_clocksource(), off && *off && std::strcmp(off, "0") != 0);
    readPair(m_ticks0, m_mono0);
    return m_enabled;
}

std::uint64_t Calibrator::nextDueNs() const noexcept
{
    if (!m_enabled)
        return 0;
    static constexpr std::uint64_t After[] = { 50'000'000, 1'000'000'000, 10'000'000'000ull };
    const std::uint64_t after = m_calibrations < 3
        ? After[m_calibrations]
        : 10'000'000'000ull + std::uint64_t(m_calibrations - 2) * 60'000'000'000ull;
    return m_mono0 + after;
}

void Calibrator::step() noexcept
{
    if (!m_enabled)
        return;
    if (!counterTrusted(true, g_clocksource(), false)) {
        // The kernel no longer trusts the TSC: neither do we. Scopes begun on the counter end on it.
        m_enabled = false;
        g_state.ready.store(0, std::memory_order_release);
        return;
    }
    std::uint64_t t1, mono1;
    readPair(t1, mono1);
    ++m_calibrations;
    if (t1 <= m_ticks0 || mono1 <= m_mono0)
        return;
    const std::uint64_t mult = std::uint64_t((u128(mono1 - m_mono0) << 32) / (t1 - m_ticks0));
    g_state.mult.store(mult, std::memory_order_relaxed);
    g_state.fastTicks.store(mult ? ~std::uint64_t(0) / mult : 0, std::memory_order_relaxed);
    g_state.origin.store(t1, std::memory_order_relaxed);
    g_state.originMono.store(mono1, std::memory_order_relaxed);
    g_state.ready.store(1, std::memory_order_release);
}

} // namespace perfdash::clock
