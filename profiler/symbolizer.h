// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QElapsedTimer>
#include <QString>

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include <sys/types.h>

struct Dwfl;

namespace perfdash {

/// One function of a profile: what a frame of the flame graph and a row of the top table show.
struct ProfileFunction {
    QString name; ///< demangled; "module+0x1a2b" without symbols; "[unknown]" outside every module
    QString module; ///< file name of the binary or library, empty when unknown
    QString location; ///< "file.cpp:42" of the first address seen in it, where there is debug info
    bool inlined = false; ///< seen inlined into a caller
};

/// The functions of one profile, interned so that stacks are arrays of small ids.
class FunctionTable
{
public:
    std::uint32_t intern(const ProfileFunction& function);
    const ProfileFunction& at(std::uint32_t id) const { return m_functions[id]; }
    std::size_t size() const { return m_functions.size(); }
    const std::vector<ProfileFunction>& all() const { return m_functions; }
    static constexpr std::uint32_t kUnknown = 0; ///< "[unknown]", always id 0

    FunctionTable();

private:
    std::vector<ProfileFunction> m_functions;
    std::unordered_map<std::u16string, std::uint32_t> m_ids; ///< module + '\n' + name
};

/**
 * Address -> functions, innermost first (inlined frames expanded from DWARF scopes), through
 * libdw: ELF symbol tables (demangled), DWARF names and file:line where there is debug info,
 * module+offset where there is none, the JIT's /tmp/perf-PID.map for addresses outside every
 * module (read again when it grows, as JITs append to it). Each address is resolved once (cache;
 * an unknown one again once the JIT map changed). Uses the Unwinder's Dwfl, on its thread.
 */
class Symbolizer
{
public:
    Symbolizer(pid_t pid, FunctionTable* functions);

    /// Appends the functions at @p pc to @p out, innermost first.
    void resolve(Dwfl* dwfl, std::uint64_t pc, std::vector<std::uint32_t>* out);

    std::uint64_t unknownFrames() const { return m_unknown; }
    std::size_t cacheSize() const { return m_cache.size(); }
    /// Forgets cached addresses (a module was mapped where another was).
    void clearCache() { m_cache.clear(); }

    /// "int foo<int>(int)" for "_Z3fooIiEii"; @p name unchanged when it is not a mangled name.
    static QString demangle(const char* name);

private:
    void resolveUncached(Dwfl* dwfl, std::uint64_t pc, std::vector<std::uint32_t>* out);
    bool resolveJit(std::uint64_t pc, std::vector<std::uint32_t>* out);
    /// Reads the JIT map again when its size changed (JITs append to it); forgets the cache then.
    void loadJitMap();
    QString jitMapPath() const;
    /// The JIT map has another size than when it was last read (looked at every 250 ms at most).
    bool jitMapChanged();

    struct JitSymbol {
        std::uint64_t start, size;
        QString name;
    };
    pid_t m_pid;
    FunctionTable* m_functions;
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> m_cache;
    std::vector<JitSymbol> m_jit; ///< sorted by start
    qint64 m_jitMapSize = -1;
    QElapsedTimer m_jitChecked;
    std::uint64_t m_unknown = 0;
    static constexpr std::size_t kMaxCache = 1 << 20; ///< cleared when full: bounded memory
};

} // namespace perfdash
