// SPDX-License-Identifier: MIT
// Per-thread recording: sparse histograms written by their thread alone, without a lock, and read
// by the flusher. Memory follows use: a page of 64 operation slots when one of them is first used,
// a page of 64 buckets when a duration first falls in it, the raw-event ring at the first raw
// event. A thread that used a few operations with a few distinct durations costs a few kilobytes.
//
// A scope's end defers its histogram update to the thread's next recording: it only notes which
// bucket to add to (pendingBucket, pendingSlot, pendingNs). A store whose address comes from the
// clock reading just taken costs about 4 ns on x86 (the next rdtsc waits for it), one to a known
// address nothing; folding the previous operation in costs stores to addresses known long before.
// The flusher counts a pending operation itself when the thread has been still (see collect()).
#pragma once

#include "ipc/client/wire/scoperingformat.h"
#include "ipc/client/wire/wire.h"
#include "perfdash/perfdash.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace perfdash {

using Meta = std::vector<std::pair<std::string, std::string>>;

inline constexpr std::uint32_t MaxOps = 4096;
inline constexpr std::uint32_t RingSize = 1024; // raw events per thread between two flushes

/// 64 adjacent histogram buckets. counts only grow; the flusher sends the difference to sent.
struct BucketPage
{
    std::atomic<std::uint32_t> counts[64] {};
    std::uint32_t sent[64] {};
};
inline constexpr int BucketPages = (wire::BucketCount + 1 + 63) / 64;

/// One operation on one thread.
struct OpSlot
{
    std::atomic<BucketPage*> pages[BucketPages] {};
    std::atomic<std::uint64_t> count { 0 }; // written last (release): the flusher skips a slot it did not move
    std::atomic<std::uint64_t> sum { 0 };
    std::atomic<std::uint64_t> errors { 0 };
    std::atomic<std::uint64_t> min { ~std::uint64_t(0) }; // of the interval; reset by the flusher
    std::atomic<std::uint64_t> max { 0 };
    // The flusher's side.
    std::uint64_t sentCount = 0;
    std::uint64_t sentSum = 0;
    std::uint64_t sentErrors = 0;

    OpSlot() = default;
    OpSlot(const OpSlot&) = delete;
    OpSlot& operator=(const OpSlot&) = delete;
    ~OpSlot()
    {
        for (auto& p : pages)
            delete p.load(std::memory_order_relaxed);
    }
};

struct OpPage
{
    std::atomic<OpSlot*> slots[64] {};
    ~OpPage()
    {
        for (auto& s : slots)
            delete s.load(std::memory_order_relaxed);
    }
};
inline constexpr int OpPages = MaxOps / 64;

struct RawEvent
{
    OpId op;
    int clock;
    std::uint64_t end;
    std::uint64_t durationNs;
    bool ok;
    Meta* meta;
};

struct ThreadState
{
    std::atomic<OpPage*> ops[OpPages] {};
    std::atomic<RawEvent*> ring { nullptr };
    std::atomic<std::uint32_t> head { 0 }; // written by the thread
    std::atomic<std::uint32_t> tail { 0 }; // written by the flusher
    std::atomic<std::uint64_t> droppedEvents { 0 }; // the ring was full
    std::atomic<std::uint64_t> droppedOperations {
        0
    }; // no memory for a slot or page, or reentered from a signal handler
    std::atomic<std::uint64_t> reentered { 0 }; // of those: recorded by a signal handler that interrupted a recording
    std::atomic<bool> alive { true };
    // Odd while this thread writes its histograms (a window, see openWindow()): a signal handler
    // that interrupts it sees that and drops its own operation (counted); the flusher sees whether
    // the pending operation below stayed the same while it read.
    std::atomic<std::uint32_t> seq { 0 };
    // The last operation a scope recorded, not yet in the histograms: folded in by the thread's
    // next recording, or counted ahead by the flusher when the thread stays still.
    std::atomic<std::atomic<std::uint32_t>*> pendingBucket { nullptr };
    std::atomic<OpSlot*> pendingSlot { nullptr };
    std::atomic<std::uint64_t> pendingNs { 0 };
    std::uint32_t countedAhead = 1; // the flusher's: the seq at which it counted the pending one ahead; odd: none
    // Scope transitions while profiled (scoperings.h): the ring this thread writes, or none.
    rings::RingHeader* traceRing = nullptr;
    rings::Record* traceRecords = nullptr;
    std::uint32_t traceMask = 0;
    std::uint32_t ringlessAt = 0; // the segment's count of freed rings when a claim last failed, + 1
    std::uint64_t tid;
    std::uint64_t rng;

    ThreadState() noexcept;
    ThreadState(const ThreadState&) = delete;
    ThreadState& operator=(const ThreadState&) = delete;
    ~ThreadState();
    std::atomic<std::uint64_t> bytes { 0 }; // what this state holds (pages, slots, ring)
};

std::uint64_t currentTid() noexcept;

// Trivial, initial-exec: the hot path reads it with one instruction and no guard.
// __thread, not thread_local: a thread_local defined in another file is read through its TLS
// wrapper's check, one more load and branch a recording.
extern __thread ThreadState* t_state __attribute__((tls_model("initial-exec")));

/// What a scope's begin and end keep per thread besides the state: found with one TLS offset.
struct ScopeTls
{
    /// This thread's __cxa_eh_globals' count of uncaught exceptions (the Itanium C++ ABI fixes the
    /// layout: { __cxa_exception* caughtExceptions; unsigned int uncaughtExceptions; });
    /// std::uncaught_exceptions() reads the same through a call and a TLS lookup. Null until the
    /// thread's first scope.
    const unsigned* uncaught;
    /// Scopes open on this thread, traced or not: what a ring record says of its nesting, so that
    /// the dashboard knows how many operations began before tracing and are still open. Written
    /// by this thread; read by it and its signal handlers only.
    std::uint32_t depth;
};
extern __thread ScopeTls t_scope __attribute__((tls_model("initial-exec")));
/// The depth after a scope at @p depth ends; never below 0: a scope ended on another thread than
/// the one it began on leaves that thread's depth one too high, and this one's right.
inline std::uint32_t depthAfterEnd(std::uint32_t depth) noexcept
{
    return depth - (depth != 0);
}
ThreadState* newThreadState() noexcept;
/// The calling thread's state, created and registered on its first recording; null without memory.
inline ThreadState* threadState() noexcept
{
    ThreadState* ts = t_state;
    return __builtin_expect(ts != nullptr, 1) ? ts : newThreadState();
}

// The rare paths of recordOn(), out of line.
OpPage* allocatePage(ThreadState* ts, std::atomic<OpPage*>& where) noexcept;
OpSlot* allocateSlot(ThreadState* ts, std::atomic<OpSlot*>& where) noexcept;
BucketPage* allocateBuckets(ThreadState* ts, std::atomic<BucketPage*>& where) noexcept;
RawEvent* allocateRing(ThreadState* ts) noexcept;
void dropOne(ThreadState* ts, Meta* meta) noexcept;
void countAfterExit(Meta* meta) noexcept;

} // namespace perfdash

#include "clock.h"
#include "settings.h"

namespace perfdash {

/// Whether this operation also travels as a raw event: slow, or drawn by the sampling rate. One
/// draw an operation (the thread's xorshift; a signal handler's draw in between only reorders them).
inline bool wantsRawEvent(ThreadState* ts, std::uint64_t ns) noexcept
{
    const std::uint64_t slow = settings::g_hot.slowNs.load(std::memory_order_relaxed);
    if (slow && ns >= slow)
        return true;
    const std::uint64_t threshold = settings::g_hot.sampleThreshold.load(std::memory_order_relaxed);
    if (__builtin_expect(threshold == 0, 1))
        return false;
    std::uint64_t r = ts->rng;
    r ^= r << 13;
    r ^= r >> 7;
    r ^= r << 17;
    ts->rng = r;
    return r < threshold;
}

/// What recordOnSlow() is told besides the operation: bits, so that it takes six arguments and the
/// hot path can jump to it without a frame of its own.
enum RecordFlags : unsigned {
    RecordOk = 1, ///< the operation succeeded
    RecordCounterClock = 2, ///< @p end is a counter reading (else CLOCK_MONOTONIC, or 0: none)
    RecordRaw = 4, ///< it was drawn (or is slow) to travel as a raw event too: do not draw again
    RecordDrawn = 8, ///< it was drawn and stays in the histogram only: do not draw again
};

/// recordOn() for every case but the common one: a first use (slot or bucket page to allocate), a
/// raw event, metadata, the library's exit, a signal handler interrupting a recording.
bool recordOnSlow(ThreadState* ts, OpId op, std::uint64_t ns, unsigned flags, std::uint64_t end, Meta* meta) noexcept;

/// Opens this thread's recording window (seq odd) and returns the value to close it with. The
/// release fence orders the odd seq before the window's stores for the flusher's reading of the
/// pending operation (a seqlock); on x86 it costs nothing.
inline std::uint32_t openWindow(ThreadState* ts) noexcept
{
    const std::uint32_t s = ts->seq.load(std::memory_order_relaxed);
    ts->seq.store(s + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
    return s;
}

inline void closeWindow(ThreadState* ts, std::uint32_t s) noexcept
{
    ts->seq.store(s + 2, std::memory_order_release);
}

inline bool inWindow(const ThreadState* ts) noexcept
{
    return ts->seq.load(std::memory_order_relaxed) & 1;
}

/// Adds @p ns to @p slot's sum, min and max.
inline void addStats(OpSlot* slot, std::uint64_t ns) noexcept
{
    slot->sum.store(slot->sum.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
    if (ns > slot->max.load(std::memory_order_relaxed))
        slot->max.store(ns, std::memory_order_relaxed);
    if (ns < slot->min.load(std::memory_order_relaxed))
        slot->min.store(ns, std::memory_order_relaxed);
}

/// pendingNs' bit set by the flusher when it counted the pending operation ahead, extremes
/// included: the fold then leaves min and max alone (they belong to the interval it went with).
inline constexpr std::uint64_t CountedAhead = std::uint64_t(1) << 63;

/// Folds the pending operation of an earlier scope into its histogram; in the window. Every path
/// that adds to a histogram folds first, so that the next change to any bucket of this thread is
/// that fold (what the flusher relies on when it counted it ahead).
inline void foldPending(ThreadState* ts, std::atomic<std::uint32_t>* bucket) noexcept
{
    OpSlot* slot = ts->pendingSlot.load(std::memory_order_relaxed);
    const std::uint64_t ns = ts->pendingNs.load(std::memory_order_relaxed);
    bucket->store(bucket->load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (__builtin_expect(ns & CountedAhead, 0))
        slot->sum.store(slot->sum.load(std::memory_order_relaxed) + (ns & ~CountedAhead), std::memory_order_relaxed);
    else
        addStats(slot, ns);
    slot->count.store(slot->count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

inline void foldPending(ThreadState* ts) noexcept
{
    if (auto* bucket = ts->pendingBucket.load(std::memory_order_relaxed)) {
        foldPending(ts, bucket);
        ts->pendingBucket.store(nullptr, std::memory_order_relaxed);
    }
}

/// Adds one operation to @p slot's histogram; in the window, after foldPending().
inline void count(OpSlot* slot, BucketPage* buckets, int index, std::uint64_t ns, bool ok) noexcept
{
    auto& bucket = buckets->counts[index & 63];
    bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    addStats(slot, ns);
    if (!ok) // release: a flusher that sees the error also sees its bucket
        slot->errors.store(slot->errors.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    slot->count.store(slot->count.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

enum class Fast { Counted, Slow, Raw };

/// The common case of a recording without metadata, with no call: a slot and bucket page already
/// there, not after the exit handler, not inside another recording (a signal handler), no raw
/// event. Slow: nothing was done (nor drawn); Raw: nothing was counted, the draw said raw event.
__attribute__((always_inline)) inline Fast countFast(ThreadState* ts, OpId op, std::uint64_t ns, bool ok) noexcept
{
    const int index = wire::bucketIndex(ns);
    OpPage* page = ts->ops[op >> 6].load(std::memory_order_relaxed);
    OpSlot* slot = page ? page->slots[op & 63].load(std::memory_order_relaxed) : nullptr;
    BucketPage* buckets = slot ? slot->pages[index >> 6].load(std::memory_order_relaxed) : nullptr;
    if (__builtin_expect(!buckets || inWindow(ts) || settings::g_hot.exited.load(std::memory_order_relaxed), 0))
        return Fast::Slow;
    if (__builtin_expect(wantsRawEvent(ts, ns), 0))
        return Fast::Raw;
    // A signal handler that records while this thread is in count() would lose one of the two
    // increments (plain load + store, not atomic read-modify-writes, to stay cheap): the handler
    // sees the window open and its operation is counted as dropped instead.
    const std::uint32_t window = openWindow(ts);
    foldPending(ts);
    count(slot, buckets, index, ns, ok);
    closeWindow(ts, window);
    return Fast::Counted;
}

inline unsigned recordFlags(bool ok, int clock) noexcept
{
    return (ok ? RecordOk : 0u) | (clock == clock::Counter ? RecordCounterClock : 0u);
}

/// Records one operation on @p ts; false when it could not be counted (no memory; counted as dropped).
// Always inlined: the recording functions jump to it without a frame (a call with its seventh
// argument on the stack doubled the cost of record()).
__attribute__((always_inline)) inline bool recordOn(
    ThreadState* ts, OpId op, std::uint64_t ns, bool ok, int clock, std::uint64_t end, Meta* meta) noexcept
{
    if (!meta) {
        const Fast fast = countFast(ts, op, ns, ok);
        if (fast == Fast::Counted)
            return true;
        return recordOnSlow(ts, op, ns, recordFlags(ok, clock) | (fast == Fast::Raw ? RecordRaw : 0u), end, nullptr);
    }
    return recordOnSlow(ts, op, ns, recordFlags(ok, clock), end, meta);
}

/// The states of every thread that recorded, for the flusher (under mutex()).
struct Threads
{
    std::mutex mutex;
    std::vector<ThreadState*> list;
    std::atomic<std::uint64_t> deadDroppedEvents { 0 }; // of the states already deleted
    std::atomic<std::uint64_t> deadDroppedOperations { 0 };
    std::atomic<std::uint64_t> deadReentered { 0 };
    std::atomic<std::uint64_t> afterExit { 0 }; // recorded after the exit handler shipped the last interval
    std::atomic<std::uint64_t> bytes { 0 }; // what every live state holds
};
Threads& threads() noexcept;
/// Called once at start: the key whose destructor tells the flusher that a thread is gone.
void initThreadKey() noexcept;
/// The calling thread's state, or null: for the fork child, which keeps only its own thread.
ThreadState* currentState() noexcept;

} // namespace perfdash
