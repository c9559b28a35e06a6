// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/symbolizer.h"

#include "core/procfs.h"
#include "profiler/debuginfod.h"
#include "profiler/perfrecords.h"
#include "profiler/symbolindex.h"

#include <QFile>
#include <QFileInfo>

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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

namespace {
char* g_debuginfoPath = nullptr; // libdw's default search path (.debug, /usr/lib/debug)

/// libdw's own search (next to the file, .debug, /usr/lib/debug; never debuginfod: see
/// debuginfod.h), then the debuginfod cache by build ID; a module found in neither starts a fetch
/// (the symbolizer names its addresses again when it arrives).
int findDebuginfo(Dwfl_Module* module, void** userdata, const char* moduleName, Dwarf_Addr base, const char* fileName,
    const char* debuglinkFile, GElf_Word debuglinkCrc, char** debuginfoFileName)
{
    const int fd = dwfl_standard_find_debuginfo(
        module, userdata, moduleName, base, fileName, debuglinkFile, debuglinkCrc, debuginfoFileName);
    if (fd >= 0)
        return fd;
    const unsigned char* bits = nullptr;
    GElf_Addr vaddr = 0;
    const int length = dwfl_module_build_id(module, &bits, &vaddr);
    if (length <= 0 || !bits)
        return fd;
    QString path;
    const QByteArray id = QByteArray(reinterpret_cast<const char*>(bits), length).toHex();
    if (Debuginfod::instance().lookup(id, QFileInfo(QString::fromUtf8(moduleName ? moduleName : "")).fileName(), &path)
        != Debuginfod::State::Cached)
        return fd;
    const QByteArray local = QFile::encodeName(path);
    const int found = ::open(local.constData(), O_RDONLY | O_CLOEXEC);
    if (found >= 0)
        *debuginfoFileName = ::strdup(local.constData());
    return found;
}

const Dwfl_Callbacks kCallbacks = {
    dwfl_linux_proc_find_elf,
    findDebuginfo,
    dwfl_offline_section_address,
    &g_debuginfoPath,
};

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

QString symbolName(std::string_view raw)
{
    return Symbolizer::demangle(std::string(raw).c_str());
}
} // namespace

SymbolResolver::SymbolResolver(pid_t pid)
    : m_pid(pid)
    , m_dwfl(dwfl_begin(&kCallbacks))
{
    refreshModules();
}

SymbolResolver::~SymbolResolver()
{
    m_modules.clear();
    if (m_dwfl)
        dwfl_end(m_dwfl);
}

void SymbolResolver::refreshModules()
{
    const std::optional<QList<ProcMapping>> lines = ProcFs().maps(m_pid);
    if (!lines || lines->isEmpty())
        return; // gone (or a zombie, without memory): what was read last stays
    std::vector<Mapping> maps;
    maps.reserve(std::size_t(lines->size()));
    for (const ProcMapping& line : *lines) {
        const bool file = line.inode != 0 && line.path.startsWith('/') && !line.path.startsWith("/memfd:");
        maps.push_back(Mapping { line.start, line.end, line.offset, file, line.path.toStdString() });
    }
    std::sort(maps.begin(), maps.end(), [](const Mapping& a, const Mapping& b) { return a.start < b.start; });
    m_maps = std::move(maps);
    if (!m_dwfl)
        return;
    // Re-reporting keeps the modules already known (and their indexes).
    dwfl_report_begin_add(m_dwfl);
    dwfl_linux_proc_report(m_dwfl, m_pid);
    dwfl_report_end(m_dwfl, nullptr, nullptr);
}

bool SymbolResolver::reload()
{
    if (!ProcFs().exists(m_pid))
        return false;
    Dwfl* fresh = dwfl_begin(&kCallbacks);
    if (!fresh)
        return false;
    dwfl_report_begin(fresh);
    const int failed = dwfl_linux_proc_report(fresh, m_pid);
    dwfl_report_end(fresh, nullptr, nullptr);
    if (failed != 0) {
        dwfl_end(fresh);
        return false;
    }
    m_modules.clear(); // keyed by the old Dwfl's modules
    if (m_dwfl)
        dwfl_end(m_dwfl);
    m_dwfl = fresh;
    refreshModules();
    return true;
}

const SymbolResolver::Mapping* SymbolResolver::mappingOf(std::uint64_t pc) const
{
    auto it = std::upper_bound(
        m_maps.begin(), m_maps.end(), pc, [](std::uint64_t value, const Mapping& m) { return value < m.start; });
    if (it == m_maps.begin())
        return nullptr;
    --it;
    return pc < it->end ? &*it : nullptr;
}

SymbolResolver::Module& SymbolResolver::moduleInfo(Dwfl_Module* module)
{
    auto it = m_modules.find(module);
    if (it == m_modules.end()) {
        Module info;
        const char* name = dwfl_module_info(module, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
        info.file = QFileInfo(QString::fromUtf8(name ? name : "")).fileName();
        info.index = std::make_unique<SymbolIndex>(SymbolIndex::build(module));
        Dwarf_Addr low = 0, high = 0;
        dwfl_module_info(module, nullptr, &low, &high, nullptr, nullptr, nullptr, nullptr);
        info.range.path = QString::fromUtf8(name ? name : "");
        info.range.start = low;
        info.range.end = high;
        for (const Mapping& m : m_maps) {
            if (m.start == low && m.path == (name ? name : "")) {
                info.range.fileOffset = m.pgoff;
                break;
            }
        }
        // The build id is read from the file once it is open (a pprof consumer finds the file's
        // symbols by it).
        Dwarf_Addr bias = 0;
        dwfl_module_getelf(module, &bias);
        const unsigned char* bits = nullptr;
        GElf_Addr vaddr = 0;
        if (const int length = dwfl_module_build_id(module, &bits, &vaddr); length > 0 && bits)
            info.range.buildId = QByteArray(reinterpret_cast<const char*>(bits), length).toHex();
        // No debug info yet, its file on its way: named again when it comes.
        Dwarf_Addr dwarfBias = 0;
        if (!info.range.buildId.isEmpty() && !dwfl_module_getdwarf(module, &dwarfBias)
            && Debuginfod::instance().lookup(info.range.buildId, info.file) == Debuginfod::State::Fetching)
            info.awaiting = info.range.buildId;
        it = m_modules.emplace(module, std::move(info)).first;
    }
    return it->second;
}

std::vector<ProfileFunction> SymbolResolver::resolve(std::uint64_t pc)
{
    std::vector<ProfileFunction> out;
    m_lastAwaiting.clear();
    if (pc == perf::kKernelAddress) {
        out.push_back({ QStringLiteral("[kernel]"), QStringLiteral("[kernel]"), {}, false });
        return out;
    }
    const Mapping* mapping = mappingOf(pc);
    if (!mapping || !mapping->file) {
        // JIT code lives in anonymous memory; a module's address range (lowest to highest
        // mapping of its file) may still cover it, so the JIT's map comes first.
        if (resolveJit(pc, &out))
            return out;
        if (mapping && mapping->path != "[vdso]")
            return out; // anonymous memory that no JIT named
    }
    Dwfl_Module* module = m_dwfl ? dwfl_addrmodule(m_dwfl, pc) : nullptr;
    std::uint64_t address = pc;
    if (mapping && mapping->file) {
        // The address within the file this mapping maps, as the module sees its addresses: the
        // same as pc unless the program mapped part of the file a second time elsewhere.
        const char* name = module
            ? dwfl_module_info(module, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr)
            : nullptr;
        if (!name || mapping->path != name) {
            module = nullptr;
            for (auto& [known, info] : m_modules) {
                const char* knownName
                    = dwfl_module_info(known, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
                if (knownName && mapping->path == knownName) {
                    module = known;
                    break;
                }
            }
            if (!module) {
                struct Find
                {
                    const std::string* path;
                    Dwfl_Module* found;
                } find { &mapping->path, nullptr };
                dwfl_getmodules(
                    m_dwfl,
                    [](Dwfl_Module* m, void**, const char* n, Dwarf_Addr, void* arg) -> int {
                        auto* f = static_cast<Find*>(arg);
                        if (n && *f->path == n) {
                            f->found = m;
                            return DWARF_CB_ABORT;
                        }
                        return DWARF_CB_OK;
                    },
                    &find, 0);
                module = find.found;
            }
        }
        Dwarf_Addr bias = 0;
        if (Elf* elf = module ? dwfl_module_getelf(module, &bias) : nullptr) {
            const std::uint64_t offset = pc - mapping->start + mapping->pgoff;
            std::size_t count = 0;
            elf_getphdrnum(elf, &count);
            for (std::size_t i = 0; i < count; ++i) {
                GElf_Phdr header;
                if (gelf_getphdr(elf, int(i), &header) && header.p_type == PT_LOAD && offset >= header.p_offset
                    && offset < header.p_offset + header.p_filesz) {
                    address = offset - header.p_offset + header.p_vaddr + bias;
                    break;
                }
            }
        }
    }
    if (!module)
        return out;
    resolveInModule(module, address, &out);
    return out;
}

void SymbolResolver::resolveInModule(Dwfl_Module* module, std::uint64_t pc, std::vector<ProfileFunction>* out)
{
    Module& info = moduleInfo(module);
    m_lastAwaiting = info.awaiting;
    const QString& moduleFile = info.file;
    const std::string_view raw = info.index->find(pc);
    const QString symbol = raw.empty() ? QString() : symbolName(raw);

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
                    out->push_back({ name.isEmpty() ? QStringLiteral("[inlined]") : name, moduleFile, location, true });
                    // The caller's line is where this was inlined.
                    Dwarf_Attribute attribute;
                    Dwarf_Word callFile = 0, callLine = 0;
                    if (files && dwarf_formudata(dwarf_attr(scope, DW_AT_call_file, &attribute), &callFile) == 0
                        && dwarf_formudata(dwarf_attr(scope, DW_AT_call_line, &attribute), &callLine) == 0)
                        location = fileLine(dwarf_filesrc(files, callFile, nullptr, nullptr), int(callLine));
                    else
                        location.clear();
                } else if (tag == DW_TAG_subprogram) {
                    QString name = symbol.isEmpty() ? dieName(scope) : symbol;
                    if (name.isEmpty())
                        name = dieName(scope);
                    out->push_back(
                        { name.isEmpty() ? QStringLiteral("[unknown]") : name, moduleFile, location, false });
                    std::free(chain);
                    return;
                }
            }
            std::free(chain);
            out->clear(); // no enclosing function: the symbol table's word below
        } else if (symbol.isEmpty() && count > 0) {
            if (const QString name = dieName(&innermost); !name.isEmpty()) {
                out->push_back({ name, moduleFile, location, false });
                return;
            }
        }
    }
    if (!symbol.isEmpty()) {
        out->push_back({ symbol, moduleFile, location, false });
        return;
    }
    // No symbol: the address within its file, which `addr2line -e` or a symbol file resolves later.
    Dwarf_Addr low = 0;
    dwfl_module_info(module, nullptr, &low, nullptr, nullptr, nullptr, nullptr, nullptr);
    Dwarf_Addr fileBias = 0;
    dwfl_module_getelf(module, &fileBias);
    const std::uint64_t fileAddress = pc - (fileBias ? fileBias : low);
    out->push_back({ moduleFile + QStringLiteral("+0x") + QString::number(fileAddress, 16), moduleFile, {}, false });
}

std::vector<ProfileModule> SymbolResolver::modules() const
{
    std::vector<ProfileModule> out;
    for (const auto& [module, info] : m_modules)
        out.push_back(info.range);
    std::sort(out.begin(), out.end(), [](const ProfileModule& a, const ProfileModule& b) { return a.start < b.start; });
    return out;
}

void SymbolResolver::refreshJitMap()
{
    // One stat at most every 250 ms: a JIT appends to its map all the time while it warms up.
    if (m_jitChecked.isValid() && m_jitChecked.elapsed() < 250)
        return;
    m_jitChecked.start();
    loadJitMap();
}

void SymbolResolver::loadJitMap()
{
    // /tmp/perf-PID.map: "START SIZE name" in hex, one a line, written by JITs (V8, the JVM's agents, LuaJIT).
    QFile map(QStringLiteral("/tmp/perf-%1.map").arg(m_pid));
    const qint64 size = map.size();
    if (size <= 0 || size == m_jitMapSize)
        return;
    m_jitMapSize = size; // also when unreadable: not tried again until it changes
    ++m_jitVersion;
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
    // Later lines win: a JIT that moves or recompiles code writes the address again.
    std::stable_sort(
        m_jit.begin(), m_jit.end(), [](const JitSymbol& a, const JitSymbol& b) { return a.start < b.start; });
}

bool SymbolResolver::resolveJit(std::uint64_t pc, std::vector<ProfileFunction>* out)
{
    loadJitMap();
    auto it = std::upper_bound(
        m_jit.begin(), m_jit.end(), pc, [](std::uint64_t value, const JitSymbol& s) { return value < s.start; });
    if (it == m_jit.begin())
        return false;
    --it;
    if (pc >= it->start + it->size)
        return false;
    out->push_back({ it->name, QStringLiteral("[jit]"), {}, false });
    return true;
}

Symbolizer::Symbolizer(pid_t pid)
    : m_pid(pid)
{
    m_thread = std::thread([this] { run(); });
}

Symbolizer::~Symbolizer()
{
    {
        std::lock_guard lock(m_queueMutex);
        m_stop = true;
    }
    m_wake.notify_all();
    m_thread.join();
}

void Symbolizer::request(const std::vector<std::uint64_t>& pcs)
{
    if (pcs.empty())
        return;
    {
        std::lock_guard lock(m_queueMutex);
        m_queue.insert(m_queue.end(), pcs.begin(), pcs.end());
    }
    m_wake.notify_one();
}

void Symbolizer::modulesChanged()
{
    {
        std::lock_guard lock(m_queueMutex);
        m_queue.push_back(kModulesChanged);
    }
    m_wake.notify_one();
}

bool Symbolizer::waitIdle(int timeoutMs)
{
    std::unique_lock lock(m_queueMutex);
    return m_idle.wait_for(lock, std::chrono::milliseconds(timeoutMs), [this] { return m_queue.empty() && !m_busy; });
}

const std::vector<std::uint32_t>* Symbolizer::framesOf(std::uint64_t pc) const
{
    const auto it = m_frames.find(pc);
    return it == m_frames.end() ? nullptr : &it->second;
}

const std::vector<int>* Symbolizer::linesOf(std::uint64_t pc) const
{
    const auto it = m_lines.find(pc);
    return it == m_lines.end() ? nullptr : &it->second;
}

Symbolizer::Stats Symbolizer::stats() const
{
    std::lock_guard lock(m_mutex);
    return m_stats;
}

void Symbolizer::run()
{
    // Its own Dwfl, made on this thread: libdwfl objects are not shared between threads.
    SymbolResolver resolver(m_pid);
    std::vector<std::uint64_t> work;
    std::vector<std::pair<std::uint64_t, std::vector<ProfileFunction>>> named;
    std::uint64_t unknownVersion = 0; ///< the JIT map's read that the unknown addresses were last tried against
    std::map<QByteArray, std::vector<std::uint64_t>>
        awaiting; ///< by build id: named while its debug file was on its way
    std::uint64_t fetchGeneration = 0;
    for (;;) {
        {
            std::unique_lock lock(m_queueMutex);
            m_busy = false;
            if (m_queue.empty())
                m_idle.notify_all();
            m_wake.wait_for(lock, std::chrono::milliseconds(250), [this] { return m_stop || !m_queue.empty(); });
            if (m_stop)
                return;
            work.swap(m_queue);
            m_busy = true;
        }
        named.clear();
        for (std::uint64_t pc : work) {
            if (pc == kModulesChanged) {
                resolver.refreshModules();
            } else {
                named.emplace_back(pc, resolver.resolve(pc));
                if (!resolver.lastAwaiting().isEmpty())
                    awaiting[resolver.lastAwaiting()].push_back(pc);
            }
        }
        work.clear();
        // Debug files that arrived since: their modules' addresses are named again.
        std::vector<std::uint64_t> arrived;
        if (!awaiting.empty() && Debuginfod::instance().generation() != fetchGeneration) {
            fetchGeneration = Debuginfod::instance().generation();
            for (auto it = awaiting.begin(); it != awaiting.end();) {
                const Debuginfod::State state = Debuginfod::instance().lookup(it->first, {});
                if (state == Debuginfod::State::Fetching) {
                    ++it;
                    continue;
                }
                if (state == Debuginfod::State::Cached)
                    arrived.insert(arrived.end(), it->second.begin(), it->second.end());
                it = awaiting.erase(it); // a failure is said by the client's status
            }
            if (!arrived.empty() && !resolver.reload())
                arrived.clear(); // the process is gone: its modules cannot be looked at again
        }
        // JIT code compiled since an address was named [unknown]: ask again.
        std::vector<std::uint64_t> unknown;
        {
            std::lock_guard lock(m_mutex);
            if (!m_unknown.empty()) {
                resolver.refreshJitMap();
                if (resolver.jitVersion() != unknownVersion)
                    unknown.assign(m_unknown.begin(), m_unknown.end());
            }
        }
        unknownVersion = resolver.jitVersion();
        std::vector<std::pair<std::uint64_t, std::vector<ProfileFunction>>> renamed;
        for (std::uint64_t pc : arrived) {
            std::vector<ProfileFunction> functions = resolver.resolve(pc);
            if (!functions.empty())
                renamed.emplace_back(pc, std::move(functions));
        }
        for (std::uint64_t pc : unknown) {
            std::vector<ProfileFunction> functions = resolver.resolve(pc);
            if (!functions.empty())
                renamed.emplace_back(pc, std::move(functions));
        }
        std::lock_guard lock(m_mutex);
        const auto store = [&](std::uint64_t pc, const std::vector<ProfileFunction>& functions) {
            std::vector<std::uint32_t>& ids = m_frames[pc];
            std::vector<int>& lines = m_lines[pc];
            ids.clear();
            lines.clear();
            for (const ProfileFunction& f : functions) {
                ids.push_back(m_functions.intern(f));
                // "file.cpp:42": the line at this address (the function's own location is the
                // first address seen in it).
                const qsizetype colon = f.location.lastIndexOf(QLatin1Char(':'));
                lines.push_back(colon < 0 ? 0 : QStringView(f.location).mid(colon + 1).toInt());
            }
            if (ids.empty()) {
                ids.push_back(FunctionTable::kUnknown);
                lines.push_back(0);
                m_unknown.insert(pc);
            } else {
                m_unknown.erase(pc);
            }
        };
        for (const auto& [pc, functions] : named) {
            store(pc, functions);
            ++m_stats.named;
            ++m_stats.lookups;
        }
        for (const auto& [pc, functions] : renamed) {
            store(pc, functions);
            ++m_stats.lookups;
        }
        if (!renamed.empty())
            ++m_generation;
        if (m_stats.modulesIndexed != resolver.indexedModules())
            m_modules = resolver.modules();
        m_stats.modulesIndexed = resolver.indexedModules();
    }
}

} // namespace perfdash
