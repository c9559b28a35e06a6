// SPDX-License-Identifier: MIT
// The addresses of the sampled blocks still live, so that their free() is reported (docs/HEAP.md,
// "The sampled set"). Lock-free and signal-safe, fixed size, no allocation: the preload calls it
// from inside malloc and free, on any thread, in signal handlers too.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace perfdash::heappreload {

/**
 * Open addressing over buckets of eight slots (a cache line each); an address lives in its home
 * bucket (a hash of it) or, when that one is full, in one of the next ProbeBuckets - 1 buckets.
 * A slot is its address or 0 (empty): a removal empties its slot, so there are no tombstones to
 * clean and no probe sequence to keep intact, because a lookup never stops at an empty slot: it
 * reads the whole home bucket, and the next ones only when entries homed here live there.
 *
 * Two counters per home bucket make the common answer ("not sampled") cheap for free(): homed
 * (entries whose home this is, wherever they are) and away (of those, the ones stored in a later
 * bucket). Both are raised before an entry is stored and lowered after it is removed, so they are
 * never below the truth: a lookup that reads 0 may skip. With a handful of live samples most
 * free() calls stop at m_count == 0 or at one byte of homed (8 KiB in all, cache-resident).
 *
 * A free() can only follow its malloc() through the program's own synchronisation (the pointer
 * was handed over), which also orders our relaxed stores: relaxed operations suffice.
 */
class SampledSet
{
public:
    static constexpr std::uint32_t SlotsPerBucket = 8;
    static constexpr std::uint32_t Buckets = 8192;
    static constexpr std::uint32_t ProbeBuckets = 4;
    static constexpr std::uint32_t Capacity = SlotsPerBucket * Buckets; // 65,536 addresses, 512 KiB

    /// False when the address could not be stored (its buckets are full): then it is not in the set.
    bool insert(std::uintptr_t address) noexcept
    {
        if (address == 0)
            return false;
        const std::uint32_t home = homeOf(address);
        // Counters are bytes: refuse long before a wrap (only a crowd of threads failing at once
        // could come near; 32 entries per home fit the probe window).
        if (m_homed[home].load(std::memory_order_relaxed) >= CounterLimit
            || m_away[home].load(std::memory_order_relaxed) >= CounterLimit)
            return false;
        m_count.fetch_add(1, std::memory_order_relaxed);
        m_homed[home].fetch_add(1, std::memory_order_relaxed);
        for (std::uint32_t k = 0; k < ProbeBuckets; ++k) {
            if (k == 1)
                m_away[home].fetch_add(1, std::memory_order_relaxed);
            Bucket& bucket = m_buckets[(home + k) & (Buckets - 1)];
            for (auto& slot : bucket.slots) {
                std::uintptr_t expected = 0;
                if (slot.load(std::memory_order_relaxed) == 0
                    && slot.compare_exchange_strong(expected, address, std::memory_order_relaxed))
                    return true;
            }
        }
        m_away[home].fetch_sub(1, std::memory_order_relaxed);
        m_homed[home].fetch_sub(1, std::memory_order_relaxed);
        m_count.fetch_sub(1, std::memory_order_relaxed);
        return false;
    }

    /// Cheap and inline: false means "certainly not in the set".
    bool mayContain(std::uintptr_t address) const noexcept
    {
        return m_count.load(std::memory_order_relaxed) != 0
            && m_homed[homeOf(address)].load(std::memory_order_relaxed) != 0;
    }

    /// True when @p address was in the set (it is not any more). Of two removals of one address
    /// (a double free), one wins.
    bool remove(std::uintptr_t address) noexcept
    {
        if (address == 0 || !mayContain(address))
            return false;
        const std::uint32_t home = homeOf(address);
        if (take(m_buckets[home], address)) {
            m_homed[home].fetch_sub(1, std::memory_order_relaxed);
            m_count.fetch_sub(1, std::memory_order_relaxed);
            return true;
        }
        if (m_away[home].load(std::memory_order_relaxed) == 0)
            return false;
        for (std::uint32_t k = 1; k < ProbeBuckets; ++k) {
            if (take(m_buckets[(home + k) & (Buckets - 1)], address)) {
                m_away[home].fetch_sub(1, std::memory_order_relaxed);
                m_homed[home].fetch_sub(1, std::memory_order_relaxed);
                m_count.fetch_sub(1, std::memory_order_relaxed);
                return true;
            }
        }
        return false;
    }

    /// Entries stored, or a little more while an insertion or removal is under way.
    std::uint64_t size() const noexcept { return m_count.load(std::memory_order_relaxed); }

    /// A forked child: it reports nothing, so it stops looking anything up (the stale entries stay).
    void forgetAll() noexcept { m_count.store(0, std::memory_order_relaxed); }

    static std::uint32_t homeOf(std::uintptr_t address) noexcept
    {
        // Fibonacci hashing of the address without its alignment bits.
        return std::uint32_t((std::uint64_t(address >> 4) * 0x9e3779b97f4a7c15ull) >> (64 - HashBits));
    }

private:
    static constexpr int HashBits = 13;
    static_assert((1u << HashBits) == Buckets);
    static constexpr std::uint8_t CounterLimit = 200;

    struct alignas(64) Bucket
    {
        std::atomic<std::uintptr_t> slots[SlotsPerBucket];
    };
    static_assert(sizeof(Bucket) == 64 || sizeof(std::uintptr_t) != 8);

    static bool take(Bucket& bucket, std::uintptr_t address) noexcept
    {
        for (auto& slot : bucket.slots) {
            std::uintptr_t expected = address;
            if (slot.load(std::memory_order_relaxed) == address
                && slot.compare_exchange_strong(expected, 0, std::memory_order_relaxed))
                return true;
        }
        return false;
    }

    alignas(64) std::atomic<std::uint64_t> m_count {};
    alignas(64) std::atomic<std::uint8_t> m_homed[Buckets] {};
    std::atomic<std::uint8_t> m_away[Buckets] {};
    Bucket m_buckets[Buckets] {};
};

} // namespace perfdash::heappreload
