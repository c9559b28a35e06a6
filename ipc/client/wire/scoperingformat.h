// SPDX-License-Identifier: MIT
// The layout of the scope rings segment: shared memory that a profiled client writes and the
// dashboard maps read-only (docs/PROTOCOL.md, "Scope rings"). Plain C++17, no dependencies: the
// client library writes it and the dashboard's reader includes it to read it.
//
// A segment is one memfd, sealed against shrinking, made of:
//
//   offset 0               Header (4 KiB): identity, the clock to convert readings, counters
//   NamesOffset            NameEntry[MaxNames]: where each operation's name is in the heap
//   NamesHeapOffset        NamesHeapBytes of UTF-8 names (not NUL-terminated)
//   RingHeadersOffset      RingHeader[MaxRings]
//   RecordsOffset          MaxRings x ringEntries x Record, each ring's on its own pages
//
// Each thread that runs an operation while the dashboard profiles its process claims a ring and is
// its only writer. A record is written inside a sequence window: seq odd while the record is being
// written (its clock reading may already be taken), even once it is complete; record n (counting
// from 0 since the claim) is at entry n % ringEntries, and seq / 2 records have been written. The
// reader never writes: it copies records, re-reads seq, and discards those the writer may have
// overwritten meanwhile (an overrun, counted).
#pragma once

#include <atomic>
#include <cstdint>

namespace perfdash::rings {

inline constexpr std::uint64_t Magic = 0x31474e4952445050ull; // "PPDRING1", little-endian
inline constexpr std::uint32_t LayoutVersion = 1;

inline constexpr std::uint32_t MaxNames = 4096; // the client's operation table
inline constexpr std::uint32_t MaxNameBytes = 64 * 1024; // names are cut as on the wire
inline constexpr std::uint64_t HeaderBytes = 4096;
inline constexpr std::uint64_t NamesOffset = HeaderBytes;
inline constexpr std::uint64_t NamesHeapOffset = NamesOffset + MaxNames * 8;
inline constexpr std::uint64_t NamesHeapBytes = 2u << 20;
inline constexpr std::uint64_t RingHeadersOffset = NamesHeapOffset + NamesHeapBytes;

inline constexpr std::uint32_t DefaultRingEntries = 4096; // 64 KiB a thread
inline constexpr std::uint32_t MinRingEntries = 256;
inline constexpr std::uint32_t MaxRingEntries = 65536;
inline constexpr std::uint32_t MaxRings = 1024;
/// Records start on a page: a freed ring's records are given back to the system (a hole punched)
/// while its header, with its generation, stays.
inline constexpr std::uint64_t RecordsOffset = RingHeadersOffset + std::uint64_t(MaxRings) * 64;

/// Record::word, bits 0-12: the operation's id (the client's table, names below); NoOp for none.
inline constexpr std::uint64_t OpMask = 0x1fff;
inline constexpr std::uint32_t NoOp = 0x1fff;
/// Bits 13-15: what the record says.
enum Kind : std::uint32_t {
    Enter = 1, ///< an operation began; time is its start, depth its depth (1 = outermost)
    EnterUnnamed = 2, ///< the same from a program built against an older header: the op is known at Exit
    Exit = 3, ///< an operation ended; time is its end, depth the same as at its Enter
    LateStart = 4, ///< an operation that began before tracing (so had no Enter) ended: its start...
    LateEnd = 5, ///< ...and its end; always written right after its LateStart, in the same window
};
inline constexpr int KindShift = 13;
inline constexpr std::uint64_t KindMask = 0x7;
/// Bit 16: time is CLOCK_MONOTONIC nanoseconds; else counter ticks, converted with Header's clock.
inline constexpr std::uint64_t MonotonicBit = 1u << 16;
/// Bits 17-31: the thread's depth of operations (1 = outermost), counting those that began before
/// tracing; saturates at MaxDepth.
inline constexpr int DepthShift = 17;
inline constexpr std::uint32_t MaxDepth = 0x7fff;
/// Bits 32-63 of an Exit: the low 32 bits of its start reading (same clock), so that an Exit is
/// matched to its Enter exactly, or its start is known when the Enter was lost.
inline constexpr int StartLowShift = 32;

struct Record
{
    std::atomic<std::uint64_t> time;
    std::atomic<std::uint64_t> word;
};
static_assert(sizeof(Record) == 16);

inline constexpr std::uint64_t recordWord(
    std::uint32_t op, Kind kind, bool monotonic, std::uint32_t depth, std::uint32_t startLow) noexcept
{
    return (op & OpMask) | (std::uint64_t(kind) << KindShift) | (monotonic ? MonotonicBit : 0)
        | (std::uint64_t(depth > MaxDepth ? MaxDepth : depth) << DepthShift)
        | (std::uint64_t(startLow) << StartLowShift);
}

enum RingState : std::uint32_t {
    Free = 0,
    Live = 1, ///< its thread writes it
    Finished = 2, ///< its thread ended; freed for another thread 2 s after finishedMono
};

struct alignas(64) RingHeader
{
    std::atomic<std::uint32_t> state;
    std::atomic<std::uint32_t> generation; ///< bumped last at each claim: the reader sees a ring change hands
    std::atomic<std::uint64_t> tid;
    std::atomic<std::uint64_t> seq; ///< 2 x records written into this ring ever, + 1 while one is being written
    std::atomic<std::uint64_t> seqAtClaim; ///< seq when the current owner claimed it: its records start there
    std::atomic<std::uint64_t> claimMono; ///< CLOCK_MONOTONIC at the claim
    std::atomic<std::uint64_t> finishedMono; ///< CLOCK_MONOTONIC when its thread ended (state Finished)
    std::atomic<std::uint32_t> depthAtClaim; ///< operations open on the thread at the claim, before it
    std::atomic<std::uint32_t> reserved0;
    std::atomic<std::uint64_t> reserved1;
};
static_assert(sizeof(RingHeader) == 64);

/// Where operation @p id's name is: its offset in the heap and its length; length 0 until the
/// client published it (then Header::namesPublished is above id), NameUnavailable when the heap
/// was full (counted in Header::namesDropped).
struct NameEntry
{
    std::atomic<std::uint32_t> offset;
    std::atomic<std::uint32_t> length;
};
inline constexpr std::uint32_t NameUnavailable = 0xffffffffu;

/**
 * The clock: readings flagged as counter ticks become CLOCK_MONOTONIC nanoseconds as
 * anchorMono + ((ticks - anchorTicks) x mult) / 2^32, ticks - anchorTicks taken as signed.
 * The client publishes it under clockSeq (odd while it writes) when it calibrates and on every
 * interval while profiled (500 ms), with mult measured between its last two anchors, so that the
 * conversion follows the rate of CLOCK_MONOTONIC (NTP slews it) rather than extrapolating for long.
 */
struct ClockBlock
{
    std::atomic<std::uint32_t> clockSeq;
    std::atomic<std::uint32_t> counterValid; ///< 1: the fields below convert ticks; 0: none yet
    std::atomic<std::uint64_t> mult; ///< nanoseconds per tick, 32.32 fixed point
    std::atomic<std::uint64_t> anchorTicks;
    std::atomic<std::uint64_t> anchorMono;
    std::atomic<std::uint64_t> anchors; ///< how many anchors were published
    /// The client stopped trusting the counter (the kernel fell back to another clocksource) at
    /// this CLOCK_MONOTONIC time; 0 while it trusts it. Counter readings after it are clock trouble.
    std::atomic<std::uint64_t> counterDroppedMono;
};

struct Header
{
    std::uint64_t magic;
    std::uint32_t layoutVersion;
    std::uint32_t ringEntries; ///< a power of two
    std::uint32_t maxRings; ///< MaxRings
    std::uint32_t pid;
    std::uint64_t token; ///< also in the RINGS frame: the dashboard checks it opened the right file
    std::uint64_t segmentBytes;
    std::atomic<std::uint32_t> ringsUsed; ///< rings below this index may have been claimed
    std::atomic<std::uint32_t> tracing; ///< 1 while the client records transitions
    std::atomic<std::uint64_t> sessionStartMono; ///< CLOCK_MONOTONIC when tracing last began
    std::atomic<std::uint64_t> sessionEndMono; ///< when it last stopped (0 while it runs)
    std::atomic<std::uint32_t> namesPublished; ///< names of ids below this are in NameEntry
    std::atomic<std::uint32_t> namesDropped; ///< names that did not fit the heap
    std::atomic<std::uint64_t> ringless; ///< times a thread found no free ring (its operations went untraced)
    std::atomic<std::uint64_t> untracedScopes; ///< operations that began untraced for want of a ring
    std::atomic<std::uint64_t> lateInstances; ///< LateStart/LateEnd pairs written
    alignas(64) ClockBlock clock;
    /// Records left out: a signal handler's scope on a thread interrupted in the middle of writing
    /// one (the handler's scopes go unrecorded whole; the operations are still counted)
    std::atomic<std::uint64_t> reentered;
};
static_assert(sizeof(Header) <= HeaderBytes);

inline constexpr std::uint64_t recordsBytes(std::uint32_t entries) noexcept
{
    return std::uint64_t(entries) * sizeof(Record);
}
inline constexpr std::uint64_t segmentBytes(std::uint32_t entries) noexcept
{
    return RecordsOffset + std::uint64_t(MaxRings) * recordsBytes(entries);
}
inline constexpr std::uint64_t ringHeaderOffset(std::uint32_t ring) noexcept
{
    return RingHeadersOffset + std::uint64_t(ring) * 64;
}
inline constexpr std::uint64_t recordsOffset(std::uint32_t entries, std::uint32_t ring) noexcept
{
    return RecordsOffset + std::uint64_t(ring) * recordsBytes(entries);
}
static_assert(RecordsOffset % 4096 == 0 && recordsBytes(MinRingEntries) % 4096 == 0);

/// Ticks to CLOCK_MONOTONIC with a consistent copy of the clock block's fields.
inline std::uint64_t ticksToMonotonic(
    std::uint64_t ticks, std::uint64_t anchorTicks, std::uint64_t anchorMono, std::uint64_t mult) noexcept
{
    __extension__ typedef unsigned __int128 u128;
    if (ticks >= anchorTicks)
        return anchorMono + std::uint64_t((u128(ticks - anchorTicks) * mult) >> 32);
    const std::uint64_t back = std::uint64_t((u128(anchorTicks - ticks) * mult) >> 32);
    return back < anchorMono ? anchorMono - back : 0;
}

} // namespace perfdash::rings
