// SPDX-License-Identifier: MIT
#include "settings.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace perfdash::settings {

Hot g_hot;

std::uint64_t rateToThreshold(double rate) noexcept
{
    rate = std::clamp(rate, 0.0, 1.0);
    return rate >= 1.0 ? ~std::uint64_t(0) : std::uint64_t(rate * 18446744073709551616.0);
}

void setSamplingRate(double rate) noexcept
{
    if (!(rate == rate)) // NaN
        rate = 0;
    g_hot.sampleThreshold.store(rateToThreshold(rate), std::memory_order_relaxed);
    g_hot.rateSet.store(true, std::memory_order_relaxed);
}

void setSlowThresholdNs(std::uint64_t ns) noexcept
{
    g_hot.slowNs.store(ns, std::memory_order_relaxed);
    g_hot.slowSet.store(true, std::memory_order_relaxed);
}

void applyEnvironment() noexcept
{
    if (const char* rate = std::getenv("PERFDASH_SAMPLE_RATE"); rate && *rate && !g_hot.rateSet.load()) {
        const double r = std::strtod(rate, nullptr);
        g_hot.sampleThreshold.store(rateToThreshold(r == r ? r : 0), std::memory_order_relaxed);
    }
    if (const char* slow = std::getenv("PERFDASH_SLOW_MS"); slow && *slow && !g_hot.slowSet.load()) {
        const double ms = std::strtod(slow, nullptr);
        g_hot.slowNs.store(std::uint64_t(std::clamp(ms == ms ? ms : 0, 0.0, 1e12) * 1e6), std::memory_order_relaxed);
    }
}

bool heapReportingRequested() noexcept
{
    const char* heap = std::getenv("PERFDASH_HEAP");
    return heap && *heap && std::strcmp(heap, "0") != 0;
}

} // namespace perfdash::settings
