// SPDX-License-Identifier: MIT
// The settings the hot path reads, and where they come from: the program's own calls win over the
// environment, which wins over the defaults, whichever of them happens first.
#pragma once

#include <atomic>
#include <cstdint>

namespace perfdash::settings {

/// rate * 2^64, the threshold a thread's xorshift draw is compared with; ~0 for every operation.
std::uint64_t rateToThreshold(double rate) noexcept;

inline constexpr std::uint64_t DefaultSlowNs = 100'000'000; // 100 ms
inline constexpr std::uint64_t DefaultSampleThreshold = 18'446'744'073'709'552ull; // 0.001 * 2^64

struct Hot
{
    std::atomic<std::uint64_t> slowNs { DefaultSlowNs };
    std::atomic<std::uint64_t> sampleThreshold { DefaultSampleThreshold };
    // Set by setSamplingRate()/setSlowThresholdNs(): the lazy start must not undo them.
    std::atomic<bool> rateSet { false };
    std::atomic<bool> slowSet { false };
    // The exit handler has run: nothing recorded from now on can be shipped (counted instead).
    std::atomic<bool> exited { false };
};
extern Hot g_hot;

void setSamplingRate(double rate) noexcept;
void setSlowThresholdNs(std::uint64_t ns) noexcept;
/// At the lazy start: PERFDASH_SAMPLE_RATE and PERFDASH_SLOW_MS, for what the program did not set.
void applyEnvironment() noexcept;
/// PERFDASH_HEAP=1: report the heap in use (mallinfo2, glibc >= 2.33 only; it walks the heap).
bool heapReportingRequested() noexcept;

} // namespace perfdash::settings
