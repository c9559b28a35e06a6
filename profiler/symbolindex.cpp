// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/symbolindex.h"

#include <elfutils/libdwfl.h>

#include <algorithm>

namespace perfdash {

std::string_view SymbolIndex::withoutVersion(std::string_view name)
{
    // A versioned definition or reference: name@VERSION or name@@VERSION (default version).
    const std::size_t at = name.find('@');
    return at == std::string_view::npos || at == 0 ? name : name.substr(0, at);
}

SymbolIndex SymbolIndex::build(Dwfl_Module* module)
{
    SymbolIndex index;
    struct Raw
    {
        std::uint64_t start, size;
        int rank; ///< global before weak before local: the name a caller would use
        std::string_view name;
    };
    std::vector<Raw> raw;
    const int count = module ? dwfl_module_getsymtab(module) : -1;
    for (int i = 1; i < count; ++i) {
        GElf_Sym symbol;
        GElf_Addr address = 0;
        GElf_Word section = 0;
        Elf* elf = nullptr;
        Dwarf_Addr bias = 0;
        const char* name = dwfl_module_getsym_info(module, i, &symbol, &address, &section, &elf, &bias);
        if (!name || !*name || symbol.st_shndx == SHN_UNDEF)
            continue;
        const int type = GELF_ST_TYPE(symbol.st_info);
        if (type != STT_FUNC && type != STT_GNU_IFUNC)
            continue;
        const int bind = GELF_ST_BIND(symbol.st_info);
        raw.push_back({ address, symbol.st_size,
            bind == STB_GLOBAL     ? 0
                : bind == STB_WEAK ? 1
                                   : 2,
            withoutVersion(name) });
    }
    // Aliases at one address: perf's choice (choose_best_symbol), so that both name it alike: one
    // with a size, global before weak before local, fewer leading underscores, the longer name.
    const auto underscores = [](std::string_view name) { return name.find_first_not_of('_'); };
    std::sort(raw.begin(), raw.end(), [&](const Raw& a, const Raw& b) {
        if (a.start != b.start)
            return a.start < b.start;
        if ((a.size == 0) != (b.size == 0))
            return a.size != 0;
        if (a.rank != b.rank)
            return a.rank < b.rank;
        if (underscores(a.name) != underscores(b.name))
            return underscores(a.name) < underscores(b.name);
        if (a.name.size() != b.name.size())
            return a.name.size() > b.name.size();
        return a.name < b.name;
    });
    // One entry per address (aliases: the first after sorting); names stored once each.
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (i > 0 && raw[i].start == raw[i - 1].start)
            continue;
        std::uint64_t end = raw[i].start + raw[i].size;
        if (raw[i].size == 0) {
            std::size_t next = i + 1;
            while (next < raw.size() && raw[next].start == raw[i].start)
                ++next;
            end = next < raw.size() ? raw[next].start : raw[i].start + 1;
        }
        index.m_entries.push_back(
            { raw[i].start, end, std::uint32_t(index.m_names.size()), std::uint32_t(raw[i].name.size()) });
        index.m_names.append(raw[i].name);
    }
    return index;
}

std::string_view SymbolIndex::find(std::uint64_t address, std::uint64_t* offset) const
{
    auto it = std::upper_bound(m_entries.begin(), m_entries.end(), address,
        [](std::uint64_t value, const Entry& e) { return value < e.start; });
    // A symbol nested in a larger one (rare) ends before the address: the one before may hold it.
    for (int tries = 0; it != m_entries.begin() && tries < 4; ++tries) {
        --it;
        if (address < it->end) {
            if (offset)
                *offset = address - it->start;
            return std::string_view(m_names).substr(it->name, it->length);
        }
    }
    return {};
}

} // namespace perfdash
