// SPDX-License-Identifier: GPL-3.0-or-later
#include "symbolizer.h"

#include <QFile>
#include <QFileInfo>

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace perfdash {

FunctionTable::FunctionTable()
{
    intern({ QStringLiteral("[unknown]"), {}, {}, false });
}

std::uint32_t FunctionTable::intern(const ProfileFunction& function)
{
    const QString key = function.module + QLatin1Char('\n') + function.name;
    const auto [it, inserted] = m_ids.try_emplace(key.toStdU16String(), std::uint32_t(m_functions.size()));
    if (inserted)
        m_functions.push_back(function);
    else if (function.inlined)
        m_functions[it->second].inlined = true;
    return it->second;
}

Symbolizer::Symbolizer(pid_t pid, FunctionTable* functions)
    : m_pid(pid)
    , m_functions(functions)
{
}

QString Symbolizer::demangle(const char* name)
{
    if (!name)
        return {};
    if (name[0] == '_' && name[1] == 'Z') {
        int status = 0;
        char* demangled = abi::__cxa_demangle(name, nullptr, nullptr, &status);
        if (status == 0 && demangled) {
            QString result = QString::fromUtf8(demangled);
            std::free(demangled);
            return result;
        }
        std::free(demangled);
    }
    return QString::fromUtf8(name);
}

void Symbolizer::resolve(Dwfl* dwfl, std::uint64_t pc, std::vector<std::uint32_t>* out)
{
    if (const auto it = m_cache.find(pc); it != m_cache.end()) {
        const bool unknown = it->second.size() == 1 && it->second.front() == FunctionTable::kUnknown;
        // An unknown address may be JIT code compiled since: when the JIT's map changed, ask again.
        if (!unknown || !jitMapChanged()) {
            out->insert(out->end(), it->second.begin(), it->second.end());
            m_unknown += unknown ? 1 : 0;
            return;
        }
        loadJitMap(); // and forgets the cache
    }
    if (m_cache.size() >= kMaxCache)
        m_cache.clear();
    std::vector<std::uint32_t> functions;
    resolveUncached(dwfl, pc, &functions);
    if (functions.empty()) {
        functions.push_back(FunctionTable::kUnknown);
        ++m_unknown;
    }
    out->insert(out->end(), functions.begin(), functions.end());
    m_cache.emplace(pc, std::move(functions));
}

namespace {
QString fileLine(const char* file, int line)
{
    if (!file || line <= 0)
        return {};
    return QFileInfo(QString::fromUtf8(file)).fileName() + QLatin1Char(':') + QString::number(line);
}

/// The name a DIE gives its function: the demangled linkage name (qualified, as the symbol
/// table's), else DW_AT_name; through abstract origins and specifications.
QString dieName(Dwarf_Die* die)
{
    Dwarf_Attribute attribute;
    for (int name : { DW_AT_linkage_name, DW_AT_MIPS_linkage_name }) {
        if (dwarf_attr_integrate(die, name, &attribute)) {
            if (const char* linkage = dwarf_formstring(&attribute))
                return Symbolizer::demangle(linkage);
        }
    }
    if (dwarf_attr_integrate(die, DW_AT_name, &attribute)) {
        if (const char* plain = dwarf_formstring(&attribute))
            return QString::fromUtf8(plain);
    }
    return {};
}
} // namespace

void Symbolizer::resolveUncached(Dwfl* dwfl, std::uint64_t pc, std::vector<std::uint32_t>* out)
{
    Dwfl_Module* module = dwfl ? dwfl_addrmodule(dwfl, pc) : nullptr;
    if (!module) {
        resolveJit(pc, out);
        return;
    }
    Dwarf_Addr low = 0;
    const char* moduleName = dwfl_module_info(module, nullptr, &low, nullptr, nullptr, nullptr, nullptr, nullptr);
    const QString moduleFile = QFileInfo(QString::fromUtf8(moduleName ? moduleName : "")).fileName();

    GElf_Off offset = 0;
    GElf_Sym symbol;
    const char* symbolName = dwfl_module_addrinfo(module, pc, &offset, &symbol, nullptr, nullptr, nullptr);

    QString location;
    if (Dwfl_Line* line = dwfl_module_getsrc(module, pc)) {
        int lineNumber = 0;
        const char* file = dwfl_lineinfo(line, nullptr, &lineNumber, nullptr, nullptr, nullptr);
        location = fileLine(file, lineNumber);
    }

    Dwarf_Addr bias = 0;
    if (Dwarf_Die* cu = dwfl_module_addrdie(module, pc, &bias)) {
        // dwarf_getscopes follows an inlined instance into its abstract definition's scopes, so
        // the innermost function scope gives the inlined leaf; its callers come from the
        // physical nesting of that DIE (dwarf_getscopes_die), as eu-addr2line -i does.
        Dwarf_Die* scopes = nullptr;
        const int count = dwarf_getscopes(cu, pc - bias, &scopes);
        Dwarf_Die innermost;
        bool inlinedLeaf = false;
        for (int i = 0; i < count; ++i) {
            const int tag = dwarf_tag(&scopes[i]);
            if (tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram) {
                innermost = scopes[i];
                inlinedLeaf = tag == DW_TAG_inlined_subroutine;
                break;
            }
        }
        std::free(scopes);
        if (inlinedLeaf) {
            Dwarf_Files* files = nullptr;
            dwarf_getsrcfiles(cu, &files, nullptr);
            Dwarf_Die* chain = nullptr;
            const int depth = dwarf_getscopes_die(&innermost, &chain);
            for (int i = 0; i < depth; ++i) {
                Dwarf_Die* scope = &chain[i];
                const int tag = dwarf_tag(scope);
                if (tag == DW_TAG_inlined_subroutine) {
                    const QString name = dieName(scope);
                    out->push_back(m_functions->intern(
                        { name.isEmpty() ? QStringLiteral("[inlined]") : name, moduleFile, location, true }));
                    // The caller's line is where this was inlined.
                    Dwarf_Attribute attribute;
                    Dwarf_Word callFile = 0, callLine = 0;
                    if (files && dwarf_formudata(dwarf_attr(scope, DW_AT_call_file, &attribute), &callFile) == 0
                        && dwarf_formudata(dwarf_attr(scope, DW_AT_call_line, &attribute), &callLine) == 0)
                        location = fileLine(dwarf_filesrc(files, callFile, nullptr, nullptr), int(callLine));
                    else
                        location.clear();
                } else if (tag == DW_TAG_subprogram) {
                    QString name = symbolName ? demangle(symbolName) : dieName(scope);
                    if (name.isEmpty())
                        name = dieName(scope);
                    out->push_back(m_functions->intern(
                        { name.isEmpty() ? QStringLiteral("[unknown]") : name, moduleFile, location, false }));
                    std::free(chain);
                    return;
                }
            }
            std::free(chain);
            out->clear(); // no enclosing function: the symbol table's word below
        } else if (!symbolName && count > 0) {
            if (const QString name = dieName(&innermost); !name.isEmpty()) {
                out->push_back(m_functions->intern({ name, moduleFile, location, false }));
                return;
            }
        }
    }
    if (symbolName) {
        out->push_back(m_functions->intern({ demangle(symbolName), moduleFile, location, false }));
        return;
    }
    // No symbol: the address within its file, which `addr2line -e` or a symbol file resolves later.
    Dwarf_Addr fileBias = 0;
    dwfl_module_getelf(module, &fileBias);
    const std::uint64_t fileAddress = pc - (fileBias ? fileBias : low);
    out->push_back(m_functions->intern(
        { moduleFile + QStringLiteral("+0x") + QString::number(fileAddress, 16), moduleFile, {}, false }));
}

QString Symbolizer::jitMapPath() const
{
    return QStringLiteral("/tmp/perf-%1.map").arg(m_pid);
}

bool Symbolizer::jitMapChanged()
{
    // Asked only for addresses cached as unknown, and answered from one stat at most every 250 ms:
    // a stack with many unknown frames must not pay a system call per frame per sample.
    if (m_jitChecked.isValid() && m_jitChecked.elapsed() < 250)
        return false;
    m_jitChecked.start();
    const qint64 size = QFileInfo(jitMapPath()).size();
    return size > 0 && size != m_jitMapSize;
}

void Symbolizer::loadJitMap()
{
    // /tmp/perf-PID.map: "START SIZE name" in hex, one a line, written by JITs (V8, the JVM's agents, LuaJIT).
    QFile map(jitMapPath());
    const qint64 size = map.size();
    if (size <= 0 || size == m_jitMapSize)
        return;
    m_jitMapSize = size; // also when unreadable: not tried again until it changes
    if (!map.open(QIODevice::ReadOnly))
        return;
    m_jit.clear();
    while (!map.atEnd()) {
        const QByteArray line = map.readLine().trimmed();
        const qsizetype first = line.indexOf(' ');
        const qsizetype second = first < 0 ? -1 : line.indexOf(' ', first + 1);
        if (second < 0)
            continue;
        bool ok1 = false, ok2 = false;
        const std::uint64_t start = line.left(first).toULongLong(&ok1, 16);
        const std::uint64_t length = line.mid(first + 1, second - first - 1).toULongLong(&ok2, 16);
        if (ok1 && ok2)
            m_jit.push_back({ start, length, QString::fromUtf8(line.mid(second + 1)) });
    }
    std::sort(m_jit.begin(), m_jit.end(), [](const JitSymbol& a, const JitSymbol& b) { return a.start < b.start; });
    // Addresses resolved as unknown before may be JIT code now; the others stay resolved.
    for (auto it = m_cache.begin(); it != m_cache.end();) {
        const bool unknown = it->second.size() == 1 && it->second.front() == FunctionTable::kUnknown;
        it = unknown ? m_cache.erase(it) : std::next(it);
    }
}

bool Symbolizer::resolveJit(std::uint64_t pc, std::vector<std::uint32_t>* out)
{
    loadJitMap();
    auto it = std::upper_bound(
        m_jit.begin(), m_jit.end(), pc, [](std::uint64_t value, const JitSymbol& s) { return value < s.start; });
    if (it == m_jit.begin())
        return false;
    --it;
    if (pc >= it->start + it->size)
        return false;
    out->push_back(m_functions->intern({ it->name, QStringLiteral("[jit]"), {}, false }));
    return true;
}

} // namespace perfdash
