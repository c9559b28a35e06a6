// SPDX-License-Identifier: GPL-3.0-or-later
#include "profiler/unwinder.h"

#include "profiler/perfeventsource.h"
#include "profiler/perfrecords.h"

#include <elfutils/libdwfl.h>
#include <sys/uio.h>

#include <cstring>

namespace perfdash {

struct Unwinder::Context
{
    pid_t pid = 0;
    int regCount = 0;
    const perf::Sample* sample = nullptr;
    std::vector<std::uint64_t>* pcs = nullptr;
};

namespace {
char* g_debuginfoPath = nullptr; // libdw's default search path (.debug, /usr/lib/debug)

const Dwfl_Callbacks kCallbacks = {
    dwfl_linux_proc_find_elf,
    dwfl_standard_find_debuginfo,
    dwfl_offline_section_address,
    &g_debuginfoPath,
};

pid_t nextThread(Dwfl*, void* arg, void** threadArg)
{
    // dwfl_getthread_frames asks for the one thread through getThread; iteration is not used.
    auto* context = static_cast<Unwinder::Context*>(arg);
    if (*threadArg)
        return 0;
    *threadArg = arg;
    return pid_t(context->sample->tid);
}

bool getThread(Dwfl*, pid_t, void* arg, void** threadArg)
{
    *threadArg = arg;
    return true;
}

bool memoryRead(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* arg)
{
    auto* context = static_cast<Unwinder::Context*>(arg);
    const perf::Sample& sample = *context->sample;
#if defined(__x86_64__)
    const std::uint64_t sp = sample.regs[7]; // PERF_REG_X86_SP's place among the sampled registers
#elif defined(__aarch64__)
    const std::uint64_t sp = sample.regs[31];
#else
    const std::uint64_t sp = 0;
#endif
    if (addr >= sp && addr - sp + sizeof(Dwarf_Word) <= sample.stack.size()) {
        std::memcpy(result, sample.stack.data() + (addr - sp), sizeof(Dwarf_Word));
        return true;
    }
    if (addr >= sp && addr - sp < 1024 * 1024) // a stack address beyond the copy: the copy is what it was
        return false;
    // Anything else (a .got, a static) is read from the live process, as it is now.
    iovec local { result, sizeof(Dwarf_Word) };
    iovec remote { reinterpret_cast<void*>(addr), sizeof(Dwarf_Word) };
    return process_vm_readv(context->pid, &local, 1, &remote, 1, 0) == ssize_t(sizeof(Dwarf_Word));
}

bool setInitialRegisters(Dwfl_Thread* thread, void* arg)
{
    auto* context = static_cast<Unwinder::Context*>(arg);
    const perf::Sample& sample = *context->sample;
#if defined(__x86_64__)
    // Sampled in perf's order: ax bx cx dx si di bp sp ip r8..r15. DWARF's: ax dx cx bx si di bp sp r8..r15 ip.
    const auto& r = sample.regs;
    const Dwarf_Word dwarf[17] = { r[0], r[3], r[2], r[1], r[4], r[5], r[6], r[7], r[9], r[10], r[11], r[12], r[13],
        r[14], r[15], r[16], r[8] };
    dwfl_thread_state_register_pc(thread, r[8]);
    return dwfl_thread_state_registers(thread, 0, 17, dwarf);
#elif defined(__aarch64__)
    Dwarf_Word dwarf[32];
    for (int i = 0; i < 32; ++i)
        dwarf[i] = sample.regs[std::size_t(i)];
    dwfl_thread_state_register_pc(thread, sample.regs[32]);
    return dwfl_thread_state_registers(thread, 0, 32, dwarf);
#else
    (void)thread;
    (void)sample;
    return false;
#endif
}

const Dwfl_Thread_Callbacks kThreadCallbacks = {
    nextThread,
    getThread,
    memoryRead,
    setInitialRegisters,
    nullptr,
    nullptr,
};

int collectFrame(Dwfl_Frame* frame, void* arg)
{
    auto* context = static_cast<Unwinder::Context*>(arg);
    Dwarf_Addr pc = 0;
    bool activation = false;
    if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0)
        return DWARF_CB_ABORT;
    if (!activation && pc > 0)
        --pc;
    context->pcs->push_back(pc);
    return int(context->pcs->size()) < Unwinder::kMaxFrames ? DWARF_CB_OK : DWARF_CB_ABORT;
}
} // namespace

Unwinder::Unwinder(pid_t pid, int regCount)
    : m_pid(pid)
    , m_regCount(regCount)
    , m_dwfl(dwfl_begin(&kCallbacks))
    , m_context(new Context)
{
    m_context->pid = pid;
    m_context->regCount = regCount;
}

Unwinder::~Unwinder()
{
    if (m_dwfl)
        dwfl_end(m_dwfl);
    delete m_context;
}

void Unwinder::reportModules()
{
    m_modulesDirty = false;
    if (!m_dwfl)
        return;
    // Re-reporting keeps the modules already known (and their CFI caches); a process that has
    // exited keeps the map it had.
    dwfl_report_begin_add(m_dwfl);
    dwfl_linux_proc_report(m_dwfl, m_pid);
    dwfl_report_end(m_dwfl, nullptr, nullptr);
    // dwfl_attach_state needs a module to learn the architecture from (it returns an offset > 0
    // when the callback stopped at one).
    const auto stopAtFirst = [](Dwfl_Module*, void**, const char*, Dwarf_Addr, void*) -> int { return DWARF_CB_ABORT; };
    if (!m_attached && dwfl_getmodules(m_dwfl, stopAtFirst, nullptr, 0) > 0)
        m_attached = dwfl_attach_state(m_dwfl, nullptr, m_pid, &kThreadCallbacks, m_context);
}

Unwinder::Method Unwinder::unwind(const perf::Sample& sample, std::vector<std::uint64_t>* pcs)
{
    pcs->clear();
    if (m_modulesDirty)
        reportModules();
    if (m_attached && sample.regs.size() == std::size_t(m_regCount) && m_regCount > 0 && !sample.stack.empty()) {
        m_context->sample = &sample;
        m_context->pcs = pcs;
        dwfl_getthread_frames(m_dwfl, pid_t(sample.tid), collectFrame, m_context);
        m_context->sample = nullptr;
        if (pcs->size() > 1)
            return Method::Cfi;
    }
    // The kernel's chain: context markers skipped, return addresses moved into their calls.
    std::vector<std::uint64_t> chain;
    for (std::uint64_t ip : sample.callchain) {
        if (ip >= perf::kContextMax)
            continue;
        chain.push_back(chain.empty() ? ip : ip - 1);
        if (int(chain.size()) >= kMaxFrames)
            break;
    }
    if (chain.size() > std::max<std::size_t>(1, pcs->size())) {
        *pcs = std::move(chain);
        return Method::FramePointers;
    }
    if (pcs->empty())
        pcs->push_back(sample.ip);
    return Method::IpOnly;
}

} // namespace perfdash
