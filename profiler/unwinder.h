// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include <sys/types.h>

struct Dwfl;

namespace perfdash {

namespace perf {
struct Sample;
}

/**
 * Unwinds the user stacks of one process's samples with elfutils: the modules come from
 * /proc/PID/maps (again after an executable mapping appears), the CFI from the binaries'
 * .eh_frame/.debug_frame, the registers and the stack memory from the sample itself
 * (dwfl_attach_state with callbacks of our own, as perf and Hotspot's perfparser do). Memory
 * outside the copied stack is read from the process while it lives. Where CFI gives no stack
 * (no registers in the sample, an address in no module), the kernel's frame-pointer chain is used.
 * One thread at a time.
 */
class Unwinder
{
public:
    explicit Unwinder(pid_t pid, int regCount);
    ~Unwinder();
    Unwinder(const Unwinder&) = delete;
    Unwinder& operator=(const Unwinder&) = delete;

    /// Re-reads /proc/PID/maps before the next unwind (a library was mapped).
    void modulesChanged() { m_modulesDirty = true; }
    /// Reads /proc/PID/maps now: at the attach, so that a process that exits before its first
    /// sample is read still has its modules.
    void refreshModules() { reportModules(); }

    enum class Method { Cfi, FramePointers, IpOnly };
    /// Fills @p pcs innermost first: the sampled ip, then return addresses minus one (so that
    /// each lies inside its call instruction, as symbol and inline lookups need).
    Method unwind(const perf::Sample& sample, std::vector<std::uint64_t>* pcs);

    Dwfl* dwfl() const { return m_dwfl; }
    pid_t pid() const { return m_pid; }

    static constexpr int kMaxFrames = 256;

    // For the libdw callbacks (C linkage, no captures).
    struct Context;

private:
    void reportModules();

    pid_t m_pid;
    int m_regCount;
    Dwfl* m_dwfl = nullptr;
    bool m_attached = false;
    bool m_modulesDirty = true;
    Context* m_context;
};

} // namespace perfdash
