// SPDX-License-Identifier: MIT
#include "nametable.h"

#include <cstring>
#include <new>

namespace perfdash {

std::uint64_t NameTable::hash(const char* name) noexcept
{
    std::uint64_t h = 0xcbf29ce484222325ull; // FNV-1a
    for (const auto* p = reinterpret_cast<const unsigned char*>(name); *p; ++p)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

std::uint32_t NameTable::find(const char* name) const noexcept
{
    const std::uint64_t h = hash(name);
    for (std::uint32_t i = 0; i < Slots; ++i) {
        const std::uint32_t v = m_slots[(h + i) & (Slots - 1)].load(std::memory_order_acquire);
        if (v == 0)
            return NotFound;
        if (std::strcmp(m_names[v - 1].load(std::memory_order_relaxed), name) == 0)
            return v - 1;
    }
    return NotFound;
}

std::uint32_t NameTable::intern(const char* name) noexcept
{
    if (const std::uint32_t id = find(name); id != NotFound)
        return id;
    std::lock_guard lock(m_mutex);
    if (const std::uint32_t id = find(name); id != NotFound)
        return id;
    const std::uint32_t id = m_count.load(std::memory_order_relaxed);
    if (id >= Capacity)
        return Full;
    const std::size_t length = std::strlen(name);
    char* copy = new (std::nothrow) char[length + 1]; // never freed: lock-free readers may hold it
    if (!copy)
        return NoMemory;
    std::memcpy(copy, name, length + 1);
    m_names[id].store(copy, std::memory_order_release);
    const std::uint64_t h = hash(name);
    for (std::uint32_t i = 0;; ++i) {
        auto& slot = m_slots[(h + i) & (Slots - 1)];
        if (slot.load(std::memory_order_relaxed) == 0) {
            slot.store(id + 1, std::memory_order_release); // after the name: a reader that sees it sees the name
            break;
        }
    }
    m_count.store(id + 1, std::memory_order_release);
    return id;
}

} // namespace perfdash
