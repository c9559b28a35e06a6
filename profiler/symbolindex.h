// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

struct Dwfl_Module;

namespace perfdash {

/**
 * The function symbols of one module, sorted by address, built once from its symbol table
 * (.symtab, else .dynsym; libdwfl's dwfl_module_getsym_info): a lookup is a binary search.
 * libdwfl's own dwfl_module_addrinfo walks every symbol of the module (with a section header
 * lookup each) for every address, which on a binary with tens of thousands of symbols cost more
 * than everything else the profiler does; perf and Hotspot's perfparser keep sorted tables too.
 * Names are kept as the file has them minus a symbol version (`memcpy@@GLIBC_2.14` -> `memcpy`).
 */
class SymbolIndex
{
public:
    /// Reads every function symbol of @p module (addresses as the process sees them).
    static SymbolIndex build(Dwfl_Module* module);

    /// The function holding @p address (its raw, possibly mangled name), and the offset into it;
    /// empty when none does.
    std::string_view find(std::uint64_t address, std::uint64_t* offset = nullptr) const;
    std::size_t size() const { return m_entries.size(); }

    /// "memcpy@@GLIBC_2.14" -> "memcpy"; names without a version unchanged.
    static std::string_view withoutVersion(std::string_view name);

private:
    struct Entry
    {
        std::uint64_t start;
        std::uint64_t end; ///< exclusive; a symbol of size 0 ends where the next one starts
        std::uint32_t name; ///< offset into m_names
        std::uint32_t length;
    };
    std::vector<Entry> m_entries;
    std::string m_names;
};

} // namespace perfdash
