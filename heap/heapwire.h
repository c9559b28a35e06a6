// SPDX-License-Identifier: MIT
// The heap channel: one shared file that perfdash creates and a launched program's heap preload
// (libperfdash_heap.so) maps through PERFDASH_HEAP_SHM (docs/HEAP.md). Plain C++17, no
// dependencies: the preload writes it, the dashboard's HeapChannel creates and reads it.
//
// The file is HeaderBytes of header, then ringSlots slots of SlotBytes:
//
//   offset  size  field                     written by
//   0       8     magic "PDHEAP01"          dashboard, at creation
//   8       4     version (Version)         dashboard
//   12      4     headerBytes (4096)        dashboard
//   16      8     totalBytes (whole file)   dashboard
//   24      4     ringSlots (power of two)  dashboard
//   28      4     slotBytes (512)           dashboard
//   32      4     maxFrames (58)            dashboard
//   36      4     reserved, 0
//   40      8     sampleMean, bytes         dashboard (asked), then the owner (in effect) before Reporting
//   48      4     ownerPid                  the first process that claims the file (CAS from 0); the
//                                           owner's own exec keeps it (the new image takes over)
//   52      4     status (Status bits)      the owner
//   56      8     reserved, 0
//   64      64    allocator, NUL-terminated the owner, before Reporting: the file name of the
//                                           library the next malloc resolves to ("libc.so.6")
//   128     8     allocatedBytes            the owner: cumulative usable bytes allocated
//   136     8     allocations               cumulative count of allocations
//   144     8     freedBytes                cumulative usable bytes freed
//   152     8     frees                     cumulative count of frees
//   192     8     samples                   allocations the sampler picked
//   200     8     droppedAllocs             sampled allocations lost to a full ring (not reported)
//   208     8     droppedFrees              Free records lost to a full ring (their Alloc stays live!)
//   216     8     untracked                 samples not reported: the pointer set was full, or a
//                                           failed realloc of a sampled block after its Free record
//   224     4     threadsAtExit             threads other than the exiting one when the owner's
//                                           exit handler ran (their unfolded deltas, < 64 KiB each, are lost)
//   228     4     reserved, 0
//   232     8     children                  the owner: child processes it started (fork, posix_spawn),
//                                           whose heap is not tracked
//   256     8     head                      producers: ring positions claimed so far
//   320     8     tail                      the consumer: ring positions consumed (for information)
//   384     256   execPath, NUL-terminated  the owner, before it execs: the program it execs (with
//                                           status Exec; cut at 255 bytes)
//   4096    ...   Slot[ringSlots]
//
// children and execPath are zero until the owner writes them (the file is created zeroed): a reader
// takes zero and an empty path for "none".
//
// Every field after offset 40 is an aligned 32- or 64-bit atomic; everything is little-endian
// (x86-64, aarch64) and the file is only ever shared between processes of one machine.
//
// Slot (SlotBytes = 512):
//   0   8   seq        Vyukov sequence: slot i starts at i; a producer that claimed position p
//                      publishes with p + 1; the consumer frees it for the next lap with p + ringSlots
//   8   4   type       Alloc (1), Free (2), or Reset (3): the owner exec'd (same pid, new image);
//                      every block sampled before is gone. 0: a slot abandoned half-written
//                      (its thread vanished in that exec), to skip
//   12  4   depth      frames used, 0..maxFrames
//   16  4   tid        the allocating (freeing) thread's id
//   20  4   flags      SlotTruncated: the stack had more than maxFrames frames
//   24  8   timeNs     CLOCK_MONOTONIC
//   32  8   address    the block
//   40  8   size       its usable bytes (malloc_usable_size)
//   48  464 frames     call sites, innermost first (a return address minus one, or the
//                      interrupted instruction of a signal frame); the preload's own frames left out
//
// The ring is a bounded multi-producer, single-consumer queue (Vyukov): producers claim a
// position with a CAS on head, never wait, and drop (and count) when the slot is still unread.
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace perfdash::heapwire {

inline constexpr std::uint64_t Magic = 0x3130504145484450ull; // "PDHEAP01", little-endian
inline constexpr std::uint32_t Version = 1;
inline constexpr std::uint32_t HeaderBytes = 4096;
inline constexpr std::uint32_t SlotBytes = 512;
inline constexpr std::uint32_t MaxFrames = 58;
inline constexpr std::uint32_t DefaultRingSlots = 8192; // 4 MiB
inline constexpr std::uint32_t MinRingSlots = 64;
inline constexpr std::uint32_t MaxRingSlots = 1u << 20; // 512 MiB
inline constexpr std::uint64_t DefaultSampleMean = 524288;
inline constexpr std::size_t AllocatorNameBytes = 64;
inline constexpr std::size_t ExecPathBytes = 256;

/// The environment of a launched program: where its channel is, and the sampling mean (bytes).
inline constexpr const char* ShmEnv = "PERFDASH_HEAP_SHM";
inline constexpr const char* SampleEnv = "PERFDASH_HEAP_SAMPLE";

enum Status : std::uint32_t {
    Reporting = 1u << 0, ///< the owner publishes: allocator and sampleMean are final
    OwnAllocator = 1u << 1, ///< the program defines malloc itself: the preload's hooks are bypassed
    Exited = 1u << 2, ///< the owner's exit handler ran
    BootstrapExhausted = 1u << 3, ///< an allocation made before the next malloc was known failed
    /// The owner called exec (execPath): set just before, cleared when the exec failed; the new
    /// image's preload, when it loads, takes the channel over and writes a new status. Still set
    /// once the exec is done: the new image does not report (it did not load the preload).
    Exec = 1u << 4,
    /// With Exec: that exec's environment has no preload (LD_PRELOAD without libperfdash_heap.so,
    /// or no PERFDASH_HEAP_SHM): the new image will not report.
    ExecWithoutPreload = 1u << 5,
};

enum SlotType : std::uint32_t { SlotAbandoned = 0, SlotAlloc = 1, SlotFree = 2, SlotReset = 3 };
inline constexpr std::uint32_t SlotTruncated = 1u << 0;

/// Cumulative, folded from each thread's own counters (docs/HEAP.md, "Counting").
struct Counters
{
    std::atomic<std::uint64_t> allocatedBytes;
    std::atomic<std::uint64_t> allocations;
    std::atomic<std::uint64_t> freedBytes;
    std::atomic<std::uint64_t> frees;
};

struct Header
{
    std::uint64_t magic;
    std::uint32_t version;
    std::uint32_t headerBytes;
    std::uint64_t totalBytes;
    std::uint32_t ringSlots;
    std::uint32_t slotBytes;
    std::uint32_t maxFrames;
    std::uint32_t reserved0;
    std::atomic<std::uint64_t> sampleMean;
    std::atomic<std::uint32_t> ownerPid;
    std::atomic<std::uint32_t> status;
    std::uint64_t reserved1;
    char allocator[AllocatorNameBytes];
    alignas(64) Counters counters;
    alignas(64) std::atomic<std::uint64_t> samples;
    std::atomic<std::uint64_t> droppedAllocs;
    std::atomic<std::uint64_t> droppedFrees;
    std::atomic<std::uint64_t> untracked;
    std::atomic<std::uint32_t> threadsAtExit;
    std::uint32_t reserved2;
    std::atomic<std::uint64_t> children;
    alignas(64) std::atomic<std::uint64_t> head;
    alignas(64) std::atomic<std::uint64_t> tail;
    alignas(64) char execPath[ExecPathBytes];
};

struct Slot
{
    std::atomic<std::uint64_t> seq;
    std::uint32_t type;
    std::uint32_t depth;
    std::uint32_t tid;
    std::uint32_t flags;
    std::uint64_t timeNs;
    std::uint64_t address;
    std::uint64_t size;
    std::uint64_t frames[MaxFrames];
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free && std::atomic<std::uint32_t>::is_always_lock_free,
    "the channel is shared between processes: its atomics must be lock-free");
static_assert(sizeof(std::atomic<std::uint64_t>) == 8 && sizeof(std::atomic<std::uint32_t>) == 4);
static_assert(offsetof(Header, version) == 8 && offsetof(Header, headerBytes) == 12);
static_assert(offsetof(Header, totalBytes) == 16 && offsetof(Header, ringSlots) == 24);
static_assert(offsetof(Header, slotBytes) == 28 && offsetof(Header, maxFrames) == 32);
static_assert(offsetof(Header, sampleMean) == 40 && offsetof(Header, ownerPid) == 48);
static_assert(offsetof(Header, status) == 52 && offsetof(Header, allocator) == 64);
static_assert(offsetof(Header, counters) == 128 && sizeof(Counters) == 32);
static_assert(offsetof(Header, samples) == 192 && offsetof(Header, droppedAllocs) == 200);
static_assert(offsetof(Header, droppedFrees) == 208 && offsetof(Header, untracked) == 216);
static_assert(offsetof(Header, threadsAtExit) == 224 && offsetof(Header, children) == 232);
static_assert(offsetof(Header, head) == 256 && offsetof(Header, tail) == 320);
static_assert(offsetof(Header, execPath) == 384);
static_assert(sizeof(Header) <= HeaderBytes);
static_assert(offsetof(Slot, type) == 8 && offsetof(Slot, depth) == 12 && offsetof(Slot, tid) == 16);
static_assert(offsetof(Slot, flags) == 20 && offsetof(Slot, timeNs) == 24 && offsetof(Slot, address) == 32);
static_assert(offsetof(Slot, size) == 40 && offsetof(Slot, frames) == 48);
static_assert(sizeof(Slot) == SlotBytes);

inline constexpr bool validRingSlots(std::uint32_t count) noexcept
{
    return count >= MinRingSlots && count <= MaxRingSlots && (count & (count - 1)) == 0;
}

inline constexpr std::uint64_t fileBytes(std::uint32_t ringSlots) noexcept
{
    return HeaderBytes + std::uint64_t(ringSlots) * SlotBytes;
}

inline Slot* slotAt(void* base, std::uint32_t index) noexcept
{
    return reinterpret_cast<Slot*>(static_cast<char*>(base) + HeaderBytes + std::uint64_t(index) * SlotBytes);
}

/**
 * The bytes a sampled block of @p size usable bytes stands for, for an unbiased estimate (the
 * formula of tcmalloc and Go): with a sample point every @p mean bytes on average (exponential
 * intervals), a block of size s is picked with probability 1 - exp(-s / mean), so it weighs
 * s / (1 - exp(-s / mean)). A mean of 1 or less samples every block: its weight is its size.
 */
inline double sampleWeight(std::uint64_t size, std::uint64_t mean) noexcept
{
    if (mean <= 1 || size == 0)
        return double(size);
    const double s = double(size);
    return s / -std::expm1(-s / double(mean));
}

} // namespace perfdash::heapwire
