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

/// The record type PerfEventSource gives the samples of its context-switch event (the stack where a
/// thread was switched out): a PERF_RECORD_SAMPLE's layout; a type the kernel never uses.
constexpr std::uint32_t kOffCpuSampleType = 0x7f01;

/// PERF_RECORD_SWITCH with sample_id_all: its sample_id trailer, for our sample_type, is
/// u32 pid, tid; u64 time. Switch-out or in is the header's misc (PERF_RECORD_MISC_SWITCH_OUT).
bool parseSwitch(
    const std::uint8_t* data, std::size_t size, std::uint32_t* pid, std::uint32_t* tid, std::uint64_t* timeNs);

/// The markers the kernel puts into a callchain between the kernel and user parts.
constexpr std::uint64_t kContextMax = std::uint64_t(-4095);

/// The address a stack holds for time in the kernel (every kernel address is this one frame).
constexpr std::uint64_t kKernelAddress = std::uint64_t(-8192);

} // namespace perfdash::perf
