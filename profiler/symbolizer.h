// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QByteArray>
#include <QElapsedTimer>
#include <QString>

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <sys/types.h>

struct Dwfl;
struct Dwfl_Module;

namespace perfdash {

/// One function of a profile: what a frame of the flame graph and a row of the top table show.
struct ProfileFunction
{
    QString name; ///< demangled; "module+0x1a2b" without symbols; "[unknown]" outside every module
    QString module; ///< file name of the binary or library, empty when unknown
    QString location; ///< "file.cpp:42" of the first address seen in it, where there is debug info
    bool inlined = false; ///< seen inlined into a caller
};

/// A file mapped into a profiled process that named some of its addresses: the pprof export's mappings.
struct ProfileModule
{
    QString path; ///< as /proc/PID/maps gives it
    std::uint64_t start = 0; ///< the lowest address of its mappings
    std::uint64_t end = 0; ///< past the highest
    std::uint64_t fileOffset = 0; ///< the file offset mapped at start
    QByteArray buildId; ///< hex of its GNU build id; empty when it has none
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

class SymbolIndex;

/**
 * Address -> functions, innermost first (inlined frames expanded from DWARF scopes), through a
 * Dwfl of its own: function names from each module's SymbolIndex (built once per module,
 * demangled), DWARF names and file:line where there is debug info, module+offset where there is
 * none. An address inside a mapping of a file is looked up in that file, at the file offset the
 * mapping gives (a program that maps part of its own text again elsewhere, as node does, is
 * named right); an address in no file mapping (JIT code: anonymous executable memory) is looked
 * up in the JIT's /tmp/perf-PID.map first. The mappings are those of the last read of
 * /proc/PID/maps, kept when the process is gone. One thread at a time.
 */
class SymbolResolver
{
public:
    explicit SymbolResolver(pid_t pid);
    ~SymbolResolver();
    SymbolResolver(const SymbolResolver&) = delete;
    SymbolResolver& operator=(const SymbolResolver&) = delete;

    /// Reads /proc/PID/maps and reports its modules again (a library was mapped).
    void refreshModules();
    /// The functions at @p pc, innermost first; empty when nothing names it.
    std::vector<ProfileFunction> resolve(std::uint64_t pc);
    /// Reads the JIT map again when its size changed (looked at every 250 ms at most).
    void refreshJitMap();
    /// Counts the reads of the JIT map: addresses named [unknown] before may be JIT code now.
    std::uint64_t jitVersion() const { return m_jitVersion; }
    std::size_t indexedModules() const { return m_modules.size(); }
    /// The modules that named an address so far (their range, file and build id), by address.
    std::vector<ProfileModule> modules() const;
    /// The build ID whose debug file was being fetched (debuginfod.h) when the last resolve()
    /// named its address without it; empty otherwise.
    const QByteArray& lastAwaiting() const { return m_lastAwaiting; }
    /// Starts again from /proc/PID (a debug file arrived: modules that had none look again);
    /// false, keeping what it had, when the process is gone.
    bool reload();

private:
    struct Mapping
    {
        std::uint64_t start, end, pgoff;
        bool file; ///< backed by a file (not anonymous memory, the heap, a stack)
        std::string path;
    };
    struct Module
    {
        std::unique_ptr<SymbolIndex> index;
        QString file; ///< file name shown
        ProfileModule range; ///< where it is mapped, and its build id
        QByteArray awaiting; ///< its build id while its debug file is being fetched
    };
    const Mapping* mappingOf(std::uint64_t pc) const;
    Module& moduleInfo(Dwfl_Module* module);
    bool resolveJit(std::uint64_t pc, std::vector<ProfileFunction>* out);
    void loadJitMap();
    void resolveInModule(Dwfl_Module* module, std::uint64_t address, std::vector<ProfileFunction>* out);

    struct JitSymbol
    {
        std::uint64_t start, size;
        QString name;
    };
    pid_t m_pid;
    Dwfl* m_dwfl = nullptr;
    std::vector<Mapping> m_maps; ///< sorted by start
    std::map<Dwfl_Module*, Module> m_modules;
    std::vector<JitSymbol> m_jit; ///< sorted by start
    qint64 m_jitMapSize = -1;
    std::uint64_t m_jitVersion = 0;
    QElapsedTimer m_jitChecked;
    QByteArray m_lastAwaiting;
};

/**
 * Names the addresses of one process's stacks on a thread of its own, each distinct address
 * once: the profiler hands it the addresses it has not seen before and goes on; views read the
 * names when they build a snapshot. Loading a module's symbols (or fetching them from debuginfod)
 * never holds up the reading or unwinding of samples. An address named [unknown] is asked again
 * when the JIT's map grows (code compiled since); one named without debug info while its module's
 * debug file was being fetched is named again when the file arrives. Thread-safe.
 */
class Symbolizer
{
public:
    explicit Symbolizer(pid_t pid);
    ~Symbolizer();
    Symbolizer(const Symbolizer&) = delete;
    Symbolizer& operator=(const Symbolizer&) = delete;

    /// Addresses to name (each once: the caller sends only addresses it has not sent before).
    void request(const std::vector<std::uint64_t>& pcs);
    /// The process mapped an executable file: re-read its modules before the next addresses.
    void modulesChanged();
    /// Waits until every address requested so far is named; false after @p timeoutMs.
    bool waitIdle(int timeoutMs);

    /// For readers of the names: hold the lock while calling framesOf(), functions(), generation().
    std::unique_lock<std::mutex> lock() const { return std::unique_lock(m_mutex); }
    /// The functions at @p pc, innermost first; null while it is not named yet.
    const std::vector<std::uint32_t>* framesOf(std::uint64_t pc) const;
    const FunctionTable& functions() const { return m_functions; }
    /// The source line of each of framesOf(@p pc) at @p pc (0 where unknown); null while not named.
    const std::vector<int>* linesOf(std::uint64_t pc) const;
    /// The modules that named addresses so far (the pprof export's mappings).
    const std::vector<ProfileModule>& modules() const { return m_modules; }
    /// Changes when an address already named is named otherwise (a re-read JIT map).
    std::uint64_t generation() const { return m_generation; }

    struct Stats
    {
        std::uint64_t named = 0; ///< addresses named (each distinct address once)
        std::uint64_t lookups = 0; ///< lookups made (named, plus JIT re-reads of unknown ones)
        std::size_t modulesIndexed = 0; ///< symbol indexes built (once per module)
    };
    Stats stats() const;

    /// "int foo<int>(int)" for "_Z3fooIiEii"; @p name unchanged when it is not a mangled name.
    static QString demangle(const char* name);

private:
    void run();

    pid_t m_pid;
    mutable std::mutex m_mutex; ///< the names
    FunctionTable m_functions;
    std::unordered_map<std::uint64_t, std::vector<std::uint32_t>> m_frames;
    std::unordered_map<std::uint64_t, std::vector<int>> m_lines; ///< per address, the line of each frame
    std::vector<ProfileModule> m_modules;
    std::unordered_set<std::uint64_t> m_unknown; ///< named [unknown]: asked again when the JIT map grows
    std::uint64_t m_generation = 0;
    Stats m_stats;

    std::mutex m_queueMutex; ///< the work
    std::condition_variable m_wake;
    std::condition_variable m_idle;
    std::vector<std::uint64_t> m_queue; ///< kModulesChanged marks a re-read
    bool m_busy = false;
    bool m_stop = false;
    std::thread m_thread;
    static constexpr std::uint64_t kModulesChanged = ~std::uint64_t(0);
};

} // namespace perfdash
