// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace perfdash::perf {

/**
 * The records perfdash asks the kernel for, parsed from the bytes of one ring-buffer record.
 * Pure functions on bytes (no fds), so that tests and the benchmark feed them recorded data.
 *
 * PERF_RECORD_SAMPLE with sample_type IP | TID | TIME | CALLCHAIN | REGS_USER | STACK_USER, in
 * the kernel's order (include/uapi/linux/perf_event.h):
 *   u64 ip; u32 pid, tid; u64 time; u64 nr; u64 ips[nr];
 *   u64 abi; u64 regs[popcount(sample_regs_user)]  (regs only when abi != 0)
 *   u64 size; u8 data[size]; u64 dyn_size            (dyn_size only when size != 0)
 */
struct Sample
{
    std::uint64_t ip = 0;
    std::uint32_t pid = 0;
    std::uint32_t tid = 0;
    std::uint64_t timeNs = 0;
    std::span<const std::uint64_t> callchain; ///< kernel's frame-pointer chain, context markers included
    std::uint64_t abi = 0; ///< PERF_SAMPLE_REGS_ABI_*; 0: no user registers (sample in a kernel thread)
    std::span<const std::uint64_t> regs; ///< in the order of the bits of sample_regs_user
    std::span<const std::uint8_t> stack; ///< the copied user stack from the stack pointer up, dyn_size bytes
};

/// Returns false when the record is shorter than its fields say (never reads past @p size).
/// @p regCount is popcount(sample_regs_user). The spans point into @p data.
bool parseSample(const std::uint8_t* data, std::size_t size, int regCount, Sample* out);

/// PERF_RECORD_MMAP2: u32 pid, tid; u64 addr, len, pgoff; u32 maj, min; u64 ino, ino_generation;
/// u32 prot, flags; char filename[].
struct Mmap
{
    std::uint32_t pid = 0;
    std::uint32_t tid = 0;
    std::uint64_t addr = 0;
    std::uint64_t len = 0;
    std::uint64_t pgoff = 0;
    std::uint32_t prot = 0;
    std::string_view filename;
};
bool parseMmap2(const std::uint8_t* data, std::size_t size, Mmap* out);

/// PERF_RECORD_COMM: u32 pid, tid; char comm[].
bool parseComm(
    const std::uint8_t* data, std::size_t size, std::uint32_t* pid, std::uint32_t* tid, std::string_view* comm);

/// PERF_RECORD_FORK / PERF_RECORD_EXIT: u32 pid, ppid, tid, ptid; u64 time.
bool parseTask(const std::uint8_t* data, std::size_t size, std::uint32_t* pid, std::uint32_t* tid);

/// PERF_RECORD_LOST: u64 id, lost. PERF_RECORD_LOST_SAMPLES: u64 lost.
bool parseLost(const std::uint8_t* data, std::size_t size, bool lostSamplesRecord, std::uint64_t* lost);

/**
 * Off-CPU records (PerfEventSource::Options::offCpu). The context-switch event writes into buffers
 * of its own, and PerfEventSource::drain() presents what comes from them with a header whose type
 * says so (the record's own bytes keep the kernel's type: read the header given, not the bytes):
 * - kOffCpuSampleType: a PERF_RECORD_SAMPLE of PERF_COUNT_SW_CONTEXT_SWITCHES, one per switch-out
 *   of a thread, laid out exactly as a PERF_RECORD_SAMPLE (parseSample reads it). The kernel takes
 *   it in the kernel, while switching: its ip is a kernel address and misc says
 *   PERF_RECORD_MISC_KERNEL; the user registers and stack are those where the thread entered the
 *   kernel (where it blocked), and its time is the switch-out's.
 * - PERF_RECORD_SWITCH, unchanged (parseSwitch): one at every switch-out
 *   (misc & PERF_RECORD_MISC_SWITCH_OUT; with PERF_RECORD_MISC_SWITCH_OUT_PREEMPT too when the
 *   thread was preempted rather than blocked) and switch-in of each thread.
 * - kOffCpuLostType (the layout of PERF_RECORD_LOST) and kOffCpuLostSamplesType (that of
 *   PERF_RECORD_LOST_SAMPLES): off-CPU records the kernel dropped; parseLost reads them.
 * - kOffCpuThrottleType: a PERF_RECORD_THROTTLE of the context-switch event (off-CPU samples
 *   missing for a while; the switch records still come).
 * The kernel's record types are small numbers (below 0x100): these never collide with them.
 */
constexpr std::uint32_t kOffCpuSampleType = 0x7f01;
constexpr std::uint32_t kOffCpuLostType = 0x7f02;
constexpr std::uint32_t kOffCpuLostSamplesType = 0x7f03;
constexpr std::uint32_t kOffCpuThrottleType = 0x7f04;

/// PERF_RECORD_SWITCH (per-thread events with context_switch = 1) has no body of its own, only the
/// sample_id trailer, which for our sample_type (TID and TIME; no ID, STREAM_ID, CPU, IDENTIFIER)
/// is: u32 pid, tid; u64 time. Which way it switched is in the header's misc.
bool parseSwitch(
    const std::uint8_t* data, std::size_t size, std::uint32_t* pid, std::uint32_t* tid, std::uint64_t* timeNs);
/// A PERF_RECORD_SWITCH's misc: the thread left the CPU (else it came back to it).
constexpr bool isSwitchOut(std::uint16_t misc)
{
    return (misc & 0x2000) != 0;
} // PERF_RECORD_MISC_SWITCH_OUT
/// ... and was preempted (runnable, waiting for a CPU) rather than blocked.
constexpr bool isSwitchOutPreempt(std::uint16_t misc)
{
    return (misc & 0x6000) == 0x6000;
}

/// The markers the kernel puts into a callchain between the kernel and user parts.
constexpr std::uint64_t kContextMax = std::uint64_t(-4095);

/// The address a stack holds for time in the kernel (every kernel address is this one frame).
constexpr std::uint64_t kKernelAddress = std::uint64_t(-8192);

} // namespace perfdash::perf
