// SPDX-License-Identifier: MIT
// Counters and gauges: a name table and one atomic value per name, so that counter() and gauge()
// take no lock and allocate nothing after a name's first use (they are safe in signal handlers
// from then on). The flusher ships the ones that changed.
#pragma once

#include "nametable.h"

#include <atomic>
#include <cstdint>
#include <string>

namespace perfdash::metrics {

enum Kind : std::uint8_t { Counter = 1, Gauge = 2 };

struct Table
{
    NameTable names;
    std::atomic<std::uint64_t> bits[NameTable::Capacity] {}; // the double's bits
    std::atomic<std::uint8_t> kind[NameTable::Capacity] {}; // fixed by the first use
    std::atomic<bool> changed[NameTable::Capacity] {};
    std::atomic<std::uint64_t> dropped { 0 }; // updates lost: the table was full, or a name's kind was wrong
};
extern Table g_table;

/// Adds (counter) or sets (gauge): PERFDASH_OK, or the reason it was dropped (counted): ETOOMANY,
/// ENOMEM, or EINVAL for a name already used as the other kind.
int update(const char* name, Kind kind, double value) noexcept;
/// Appends a METRIC frame for every metric that changed since the last call (every one with @p all).
void harvest(std::string& out, bool all);
/// In a fork child: counters start again from zero (the child counts its own); gauges keep their values.
void resetForChild() noexcept;

} // namespace perfdash::metrics
