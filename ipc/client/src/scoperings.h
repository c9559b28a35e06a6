// SPDX-License-Identifier: MIT
// Scope transitions for a dashboard that profiles this process: while it asks (PROFILE), each
// thread writes the enter and exit of its scopes, with clock readings and nesting, into a ring of
// its own in a shared memory segment the dashboard maps read-only (scoperingformat.h,
// docs/PROTOCOL.md). Nothing of it runs, and no memory is taken, until a dashboard asks.
//
// Threads: the recording threads claim, write and finish their rings (lock-free, no system call);
// the flusher thread creates the segment, answers PROFILE, publishes the clock and the names, and
// frees the rings of threads that ended.
#pragma once

#include "clock.h"
#include "ipc/client/wire/scoperingformat.h"
#include "threadstate.h"

#include <atomic>
#include <cstdint>
#include <string>

namespace perfdash {

struct Global;

namespace tracing {
/// What a scope's begin looks at: ModeCounter alone is the common case (counter readings, no
/// tracing); anything else goes the slow way.
enum Mode : unsigned { ModeCounter = 1, ModeTracing = 2 };
extern std::atomic<unsigned> g_mode;
/// A scope's clock word (Scope::m_clock, perfdash_scope::clock) with this bit wrote an Enter.
inline constexpr int Traced = 2;

inline bool on() noexcept
{
    return g_mode.load(std::memory_order_relaxed) & ModeTracing;
}
} // namespace tracing

/// Gives @p ts a ring of its own; false when there is no segment, tracing is off, or every ring is
/// taken (then counted in the segment's header, and not tried again until a ring is freed).
/// @p depthBefore: the scopes open on the thread, not counting the one being begun or ended.
bool claimRing(ThreadState* ts, std::uint32_t depthBefore) noexcept;
/// The thread ends: its ring is finished and freed by the flusher 2 s later (the dashboard reads it
/// meanwhile).
void releaseRing(ThreadState* ts) noexcept;
/// Counts an operation that began untraced because its thread had no ring.
void countUntraced() noexcept;
/// Counts a LateStart/LateEnd pair.
void countLate() noexcept;

/// Counts a record left out because its thread was writing another one (a signal handler's scope).
void countReentered() noexcept;

/// Opens @p ring's record window (seq odd) and returns seq before it, even; or 1 when the window
/// was open already: a signal handler interrupted its thread's own write, whose record this one
/// would overwrite while moving seq back. The check comes first and the increment is one
/// instruction that returns the value it incremented (xadd, not locked: only this thread writes the
/// ring, and a signal lands between instructions), so that a handler that runs between the two,
/// whole, only moves the record this one gets.
__attribute__((always_inline)) inline std::uint64_t openRecord(rings::RingHeader* ring) noexcept
{
    if (ring->seq.load(std::memory_order_relaxed) & 1)
        return 1;
#if defined(__x86_64__) && !defined(__SANITIZE_THREAD__) && !defined(PERFDASH_TSAN)
    std::uint64_t s = 1;
    __asm__ __volatile__("xaddq %0, %1" : "+r"(s), "+m"(ring->seq) : : "memory");
#else
    const std::uint64_t s = ring->seq.fetch_add(1, std::memory_order_relaxed);
#endif
    std::atomic_thread_fence(std::memory_order_release);
    return s;
}

/// Writes a record of @p kind into @p ts's ring (which it has), reading the clock inside the
/// record's window so that a reader who finds no window open has every record up to its own time.
/// The thread's depth becomes @p depthAfter inside the window too, so that a signal handler's
/// scope finds the depth and the ring agreeing. Sets @p now to the reading. False, with nothing
/// written (counted), when the window is open already (see openRecord()): a signal handler's
/// scopes are then left out whole, Enter and Exit alike, since the window stays open until the
/// handler returns. @p which: clock::Counter or clock::Monotonic; @p start: an Exit's start.
__attribute__((always_inline)) inline bool traceNow(ThreadState* ts, std::uint32_t op, rings::Kind kind,
    std::uint32_t depth, std::uint32_t depthAfter, int which, std::uint64_t start, std::uint64_t& now) noexcept
{
    rings::RingHeader* ring = ts->traceRing;
    const std::uint64_t s = openRecord(ring);
    t_scope.depth = depthAfter;
    if (__builtin_expect(s & 1, 0)) {
        now = clock::read(which);
        countReentered();
        return false;
    }
    rings::Record& r = ts->traceRecords[(s >> 1) & ts->traceMask];
    now = clock::read(which);
    r.time.store(now, std::memory_order_relaxed);
    r.word.store(
        rings::recordWord(op, kind, which != clock::Counter, depth, std::uint32_t(start)), std::memory_order_relaxed);
    ring->seq.store(s + 2, std::memory_order_release);
    return true;
}

/// Writes an operation that began before tracing (so wrote no Enter) and ends now, at @p depth:
/// LateStart and LateEnd in one window, in which the thread's depth goes down (left out
/// and counted as traceNow() says).
inline void traceLate(
    ThreadState* ts, std::uint32_t op, std::uint32_t depth, int which, std::uint64_t start, std::uint64_t end) noexcept
{
    rings::RingHeader* ring = ts->traceRing;
    const std::uint64_t s = openRecord(ring);
    t_scope.depth = depthAfterEnd(depth);
    if (s & 1) {
        countReentered();
        return;
    }
    const bool monotonic = which != clock::Counter;
    rings::Record& a = ts->traceRecords[(s >> 1) & ts->traceMask];
    a.time.store(start, std::memory_order_relaxed);
    a.word.store(rings::recordWord(op, rings::LateStart, monotonic, depth, 0), std::memory_order_relaxed);
    rings::Record& b = ts->traceRecords[((s >> 1) + 1) & ts->traceMask];
    b.time.store(end, std::memory_order_relaxed);
    b.word.store(rings::recordWord(op, rings::LateEnd, monotonic, depth, 0), std::memory_order_relaxed);
    ring->seq.store(s + 4, std::memory_order_release);
    countLate();
}

// The flusher's side (under Global::cycleMutex).
/// PROFILE from the dashboard: starts (creating the segment on first use) or stops tracing, and
/// returns the RINGS frame that answers it.
std::string handleProfile(Global& g, bool start, std::uint32_t entries);
/// Once a cycle: the clock, new names, rings of ended threads given back.
void tracingCycle(Global& g) noexcept;
/// After a calibration step: the scopes' clock mode, and the clock the dashboard converts with.
void clockChanged() noexcept;
/// The connection ended: nobody reads the rings any more, so stop writing them.
void stopTracing() noexcept;
/// In a fork() child: the segment is the parent's (not even mapped here: MADV_DONTFORK).
void tracingAfterFork(ThreadState* self) noexcept;

} // namespace perfdash
