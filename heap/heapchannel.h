// SPDX-License-Identifier: GPL-3.0-or-later
// The dashboard's side of the heap channel (heap/heapwire.h, docs/HEAP.md): creates the shared
// file a launched program's libperfdash_heap.so reports into, reads its counters and consumes its
// records. Plain C++17 and POSIX, no Qt: the caller polls it from wherever it likes.
#pragma once

#include "heap/heapwire.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace perfdash::heap {

/// What the preload reports, read at one instant (each field is exact; the set is not one atomic
/// snapshot, so liveBytes() may be off by operations in flight).
struct HeapCounters
{
    std::uint32_t ownerPid = 0; ///< the process that reports; 0: the library never claimed the file (yet)
    std::uint32_t status = 0; ///< heapwire::Status bits
    std::string allocator; ///< the library the program's malloc forwards to ("libc.so.6"); empty until Reporting
    std::uint64_t sampleMean = 0; ///< bytes between samples on average, in effect once Reporting
    std::uint64_t allocatedBytes = 0; ///< cumulative usable bytes allocated (folded per thread: see docs/HEAP.md)
    std::uint64_t allocations = 0;
    std::uint64_t freedBytes = 0;
    std::uint64_t frees = 0;
    std::uint64_t samples = 0; ///< blocks the sampler picked
    std::uint64_t droppedAllocs = 0; ///< sampled blocks lost to a full ring (never reported)
    std::uint64_t droppedFrees = 0; ///< Free records lost to a full ring: those blocks look live forever
    std::uint64_t untracked = 0; ///< samples not reported (the pointer set was full), or tracking lost
    std::uint32_t threadsAtExit = 0; ///< threads still running at exit, whose last deltas (< 64 KiB each) are lost
    std::uint64_t children = 0; ///< child processes the owner started (fork, posix_spawn): their heap is not tracked
    std::string execPath; ///< with execing(): the program the owner execs
    std::uint64_t consumed = 0; ///< records drained so far
    std::uint64_t pending = 0; ///< records claimed by the program and not drained yet

    bool reporting() const { return status & heapwire::Reporting; }
    /// The program defines malloc itself: the preload's hooks never run, the numbers mean nothing.
    bool ownAllocator() const { return status & heapwire::OwnAllocator; }
    bool exited() const { return status & heapwire::Exited; }
    /// The owner called exec and no new image took the channel over (yet): once that lasts, the
    /// program it execs does not report (its heap is not tracked; the numbers are the old image's).
    bool execing() const { return status & heapwire::Exec; }
    /// With execing(): the exec's environment drops the preload (LD_PRELOAD replaced or cleared).
    bool execWithoutPreload() const { return status & heapwire::ExecWithoutPreload; }
    /// Heap in use, usable bytes; 0 rather than negative while a thread's free is folded before
    /// another thread's allocation of the same block.
    std::uint64_t liveBytes() const { return allocatedBytes > freedBytes ? allocatedBytes - freedBytes : 0; }
    std::uint64_t liveBlocks() const { return allocations > frees ? allocations - frees : 0; }
};

/// Alloc: a sampled block; Free: a sampled block freed; Reset: the program exec'd (same pid, a new
/// image): every block sampled before is gone, and the counters say the same.
enum class HeapRecordType { Alloc, Free, Reset };

/// One record of the ring, copied out of the shared memory.
struct HeapRecord
{
    HeapRecordType type = HeapRecordType::Alloc;
    std::uint32_t tid = 0;
    std::uint64_t timeNs = 0; ///< CLOCK_MONOTONIC
    std::uint64_t address = 0;
    std::uint64_t size = 0; ///< usable bytes; weigh an Alloc with heapwire::sampleWeight(size, sampleMean)
    bool truncated = false; ///< the stack was deeper than heapwire::MaxFrames
    std::uint32_t depth = 0; ///< frames used (0 for a Free)
    /// Call sites, innermost first: the program's call to malloc or new first (the preload's own
    /// frames, its operator new included, are left out); an address inside the call instruction,
    /// so look it up as is (no "minus one").
    std::uint64_t frames[heapwire::MaxFrames] = {};
};

struct HeapChannelOptions
{
    std::uint64_t sampleMean = 0; ///< 0: PERFDASH_HEAP_SAMPLE of this process, else 524288; 1: every block
    std::uint32_t ringSlots = heapwire::DefaultRingSlots; ///< a power of two, 64 to 2^20 (512 bytes each)
};

/**
 * Creates the channel file at an absolute path (which must not exist: O_CREAT | O_EXCL | O_NOFOLLOW, mode
 * 0600, its blocks allocated so that the program never faults on a full tmpfs), initialises it and
 * maps it; the destructor unmaps and unlinks it. Launch the program with heapwire::ShmEnv set to
 * path() and the preload in LD_PRELOAD.
 *
 * Errors follow the project's convention: error() is empty when the channel is usable, otherwise
 * the sentence why not (then every reader answers zeros and drain() nothing).
 *
 * "The library never loaded": the program runs but owner() stays 0. Decide after a timeout, or
 * once the program ended; canPreload() tells beforehand the cases known to fail.
 *
 * Not thread-safe: one reader (drain is the ring's single consumer).
 */
class HeapChannel
{
public:
    explicit HeapChannel(std::string path, HeapChannelOptions options = {});
    ~HeapChannel();
    HeapChannel(const HeapChannel&) = delete;
    HeapChannel& operator=(const HeapChannel&) = delete;

    const std::string& error() const { return m_error; }
    bool isOpen() const { return m_header != nullptr; }
    const std::string& path() const { return m_path; }
    /// "PERFDASH_HEAP_SHM=<path>", for a child's environment.
    std::string environmentEntry() const;

    /// The pid of the process that reports into the channel; 0 while none does.
    std::uint32_t owner() const;
    HeapCounters counters() const;

    /**
     * Hands the records published so far to @p sink, in ring order, and frees their slots; stops at
     * @p maxRecords or at a slot claimed but not written yet (its thread is writing it). Once the
     * program is gone (@p ownerGone), such a slot will never be written: it is skipped (counted in
     * skipped()). Returns the number handed over.
     */
    std::size_t drain(
        const std::function<void(const HeapRecord&)>& sink, std::size_t maxRecords = SIZE_MAX, bool ownerGone = false);
    /// Records dropped by drain() because they were malformed (a type or depth out of range) or
    /// never written (ownerGone).
    std::uint64_t skipped() const { return m_skipped; }

    /// PERFDASH_HEAP_SAMPLE of this process when it is a valid number of bytes, else 524288.
    static std::uint64_t defaultSampleMean();

private:
    std::string m_path;
    std::string m_error;
    heapwire::Header* m_header = nullptr;
    std::size_t m_bytes = 0;
    std::uint64_t m_tail = 0;
    std::uint64_t m_skipped = 0;
};

/**
 * Whether LD_PRELOAD can work for @p executable; otherwise false, and why not in @p why (may be
 * null), as a sentence: a static executable (no PT_INTERP: no dynamic loader to read LD_PRELOAD),
 * or one the loader runs in secure mode, where it ignores LD_PRELOAD: set-user-ID or set-group-ID
 * to someone else, or carrying file capabilities. A script ("#!") is judged by its interpreter. A file it cannot read
 * is not refused (nothing is known against it).
 */
bool canPreload(const std::string& executable, std::string* why);

} // namespace perfdash::heap
