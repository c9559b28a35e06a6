// SPDX-License-Identifier: MIT
// Names to dense ids (operations, counters and gauges): lookups are lock-free and allocate
// nothing, so that record("name"), track("name", f) and counter("name") stay off every lock; only
// the first use of a name takes the table's mutex to copy it in.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace perfdash {

class NameTable
{
public:
    static constexpr std::uint32_t Capacity = 4096;
    static constexpr std::uint32_t NotFound = 0xffffffffu;
    static constexpr std::uint32_t Full = 0xfffffffeu; // the table holds Capacity names already
    static constexpr std::uint32_t NoMemory = 0xfffffffdu; // the copy of the name could not be had

    constexpr NameTable() noexcept = default;
    NameTable(const NameTable&) = delete;
    NameTable& operator=(const NameTable&) = delete;

    /// The id of @p name, or NotFound. Lock-free.
    std::uint32_t find(const char* name) const noexcept;
    /// The id of @p name, registering it on first use (under the mutex); Full or NoMemory else.
    std::uint32_t intern(const char* name) noexcept;
    /// How many names are registered; ids below it are valid and their names() readable.
    std::uint32_t size() const noexcept { return m_count.load(std::memory_order_acquire); }
    const char* name(std::uint32_t id) const noexcept { return m_names[id].load(std::memory_order_acquire); }
    /// Held across fork() by the atfork handlers.
    std::mutex& mutex() noexcept { return m_mutex; }

private:
    static constexpr std::uint32_t Slots = 2 * Capacity; // open addressing, at most half full
    static std::uint64_t hash(const char* name) noexcept;

    std::atomic<std::uint32_t> m_slots[Slots] {}; // id + 1; 0 is empty
    std::atomic<const char*> m_names[Capacity] {};
    std::atomic<std::uint32_t> m_count { 0 };
    std::mutex m_mutex;
};

} // namespace perfdash
