// SPDX-License-Identifier: MIT
#include "metrics.h"
#include "ipc/client/wire/wire.h"
#include "perfdash/perfdash.h"

#include <cstring>

namespace perfdash::metrics {

Table g_table;

namespace {
double toDouble(std::uint64_t bits) noexcept
{
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
}
std::uint64_t toBits(double v) noexcept
{
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return bits;
}
} // namespace

int update(const char* name, Kind kind, double value) noexcept
{
    const std::uint32_t id = g_table.names.intern(name);
    if (id >= NameTable::Capacity) {
        g_table.dropped.fetch_add(1, std::memory_order_relaxed);
        return id == NameTable::Full ? PERFDASH_ETOOMANY : PERFDASH_ENOMEM;
    }
    std::uint8_t expected = 0;
    if (!g_table.kind[id].compare_exchange_strong(expected, kind, std::memory_order_relaxed) && expected != kind) {
        g_table.dropped.fetch_add(1, std::memory_order_relaxed); // a counter's name used as a gauge, or back
        return PERFDASH_EINVAL;
    }
    auto& bits = g_table.bits[id];
    if (kind == Gauge) {
        bits.store(toBits(value), std::memory_order_relaxed);
    } else {
        std::uint64_t old = bits.load(std::memory_order_relaxed);
        while (!bits.compare_exchange_weak(old, toBits(toDouble(old) + value), std::memory_order_relaxed)) { }
    }
    g_table.changed[id].store(true, std::memory_order_release);
    return PERFDASH_OK;
}

void harvest(std::string& out, bool all)
{
    wire::Writer w(out);
    const std::uint32_t n = g_table.names.size();
    for (std::uint32_t id = 0; id < n; ++id) {
        // Cleared before the value is read: an update racing with this is sent now or next time.
        if (!g_table.changed[id].exchange(false, std::memory_order_acquire) && !all)
            continue;
        const std::uint8_t kind = g_table.kind[id].load(std::memory_order_relaxed);
        if (kind == 0)
            continue;
        const char* name = g_table.names.name(id);
        w.begin(wire::Metric);
        w.u8(kind);
        w.str(name, std::strlen(name));
        w.f64(toDouble(g_table.bits[id].load(std::memory_order_relaxed)));
        w.end();
    }
}

void resetForChild() noexcept
{
    const std::uint32_t n = g_table.names.size();
    for (std::uint32_t id = 0; id < n; ++id) {
        if (g_table.kind[id].load(std::memory_order_relaxed) == Counter)
            g_table.bits[id].store(toBits(0.0), std::memory_order_relaxed);
        g_table.changed[id].store(true, std::memory_order_relaxed);
    }
    g_table.dropped.store(0, std::memory_order_relaxed);
}

} // namespace perfdash::metrics
