// SPDX-License-Identifier: MIT
// A scope's begin and end: the library's hottest code. The common case (the counter calibrated,
// not traced, nothing unusual) is a return or a jump to a function of at most six arguments, so
// that it needs no frame of its own; everything else is out of line.
//
// On x86 an empty scope costs about its two rdtsc: work after the end's rdtsc that does not
// depend on its result runs in its shadow, and what does depend on it is kept to registers and to
// stores whose address is known before (the histogram's bucket is folded in at the next recording,
// see threadstate.h).
#include "scope.h"
#include "api.h"
#include "clock.h"
#include "flusher.h"
#include "scoperings.h"
#include "settings.h"
#include "threadstate.h"

#include <cxxabi.h>

namespace perfdash {

namespace {
__attribute__((noinline)) const unsigned* initUncaught() noexcept
{
    t_scope.uncaught
        = reinterpret_cast<const unsigned*>(reinterpret_cast<const char*>(abi::__cxa_get_globals()) + sizeof(void*));
    return t_scope.uncaught;
}

unsigned uncaughtExceptions() noexcept
{
    const unsigned* u = t_scope.uncaught;
    return *(u ? u : initUncaught());
}

/// The id a ring record carries: NoOp for none (FullOp, or a begin that was not told).
std::uint32_t recordOp(OpId op) noexcept
{
    return op < MaxOps ? op : rings::NoOp;
}

/// begin() for everything but the common case: CLOCK_MONOTONIC (not calibrated, or not
/// trusted), or tracing, when the scope writes its Enter. Tracing with the counter, on a thread
/// that has its ring already, comes first: it is what every scope of a profiled process does.
/// The thread's depth goes up here (inside the Enter's window when there is one).
__attribute__((noinline)) std::uint64_t beginSlow(std::uint32_t op, int& which) noexcept
{
    const unsigned mode = tracing::g_mode.load(std::memory_order_relaxed);
    const rings::Kind enter = op == rings::NoOp ? rings::EnterUnnamed : rings::Enter;
    const std::uint32_t depth = t_scope.depth + 1;
    std::uint64_t now;
    ThreadState* ts = t_state;
    if (__builtin_expect(mode == (tracing::ModeCounter | tracing::ModeTracing) && ts && ts->traceRing, 1)) {
        which = traceNow(ts, op, enter, depth, depth, clock::Counter, 0, now) ? clock::Counter | tracing::Traced
                                                                              : clock::Counter;
        return now;
    }
    const int kind = (mode & tracing::ModeCounter) ? clock::Counter : clock::Monotonic;
    if (mode & tracing::ModeTracing) {
        ts = threadState();
        if (ts && (ts->traceRing || claimRing(ts, depth - 1))) {
            which = traceNow(ts, op, enter, depth, depth, kind, 0, now) ? kind | tracing::Traced : kind;
            return now;
        }
        countUntraced();
    }
    t_scope.depth = depth;
    which = kind;
    return clock::read(kind);
}

__attribute__((always_inline)) inline std::uint64_t beginImpl(
    std::uint32_t op, int& which, unsigned& exceptions) noexcept
{
    const unsigned* u = t_scope.uncaught;
    if (__builtin_expect(u == nullptr, 0))
        u = initUncaught();
    exceptions = *u;
    if (__builtin_expect(tracing::g_mode.load(std::memory_order_relaxed) == tracing::ModeCounter, 1)) {
        t_scope.depth = t_scope.depth + 1;
        which = clock::Counter;
        return clock::ticks();
    }
    return beginSlow(op, which);
}

/// The end's clock reading, and the ring's record of it: an Exit for a traced scope; for an
/// untraced one while tracing (it began before, or without a ring), its whole instance. The
/// thread's depth goes down from @p depth here (inside the record's window when there is one).
/// @p ts becomes the thread's state when a ring had to be claimed.
std::uint64_t endReading(ThreadState*& ts, OpId op, std::uint64_t start, int which, std::uint32_t depth) noexcept
{
    const int kind = which & clock::Counter;
    std::uint64_t stop;
    if ((which & tracing::Traced) && ts && ts->traceRing) {
        traceNow(ts, recordOp(op), rings::Exit, depth, depthAfterEnd(depth), kind, start, stop);
        return stop;
    }
    stop = clock::read(kind); // (traced in a fork() child, where the parent's ring is not: nothing to write)
    if (!(which & tracing::Traced) && tracing::on()) {
        if (!ts)
            ts = threadState();
        if (ts && (ts->traceRing || claimRing(ts, depth))) {
            traceLate(ts, recordOp(op), depth, kind, start, stop);
            return stop;
        }
    }
    t_scope.depth = depthAfterEnd(depth);
    return stop;
}

/// Counts a scope's operation: deferred into the thread's pending bucket when it can be (see
/// threadstate.h), else as any recording.
int countScope(ThreadState* ts, OpId op, std::uint64_t ns, bool ok, int kind, std::uint64_t stop) noexcept
{
    if (ts && internal::registered(op) && ok && !inWindow(ts)
        && !settings::g_hot.exited.load(std::memory_order_relaxed)) {
        const int index = wire::bucketIndex(ns);
        OpPage* page = ts->ops[op >> 6].load(std::memory_order_relaxed);
        OpSlot* slot = page ? page->slots[op & 63].load(std::memory_order_relaxed) : nullptr;
        BucketPage* buckets = slot ? slot->pages[index >> 6].load(std::memory_order_relaxed) : nullptr;
        if (buckets) {
            if (wantsRawEvent(ts, ns))
                return recordOnSlow(ts, op, ns, recordFlags(ok, kind) | RecordRaw, stop, nullptr) ? PERFDASH_OK
                                                                                                  : PERFDASH_ENOMEM;
            const std::uint32_t window = openWindow(ts);
            foldPending(ts);
            ts->pendingBucket.store(&buckets->counts[index & 63], std::memory_order_relaxed);
            ts->pendingSlot.store(slot, std::memory_order_relaxed);
            ts->pendingNs.store(ns, std::memory_order_relaxed);
            closeWindow(ts, window);
            return PERFDASH_OK;
        }
    }
    return internal::record(op, ns, ok, kind, stop, nullptr);
}

/// end() for every case but the common one and the traced one: CLOCK_MONOTONIC, tracing on (an
/// untraced scope then writes its instance), failed, first use, a scope begun on another thread...
__attribute__((noinline)) int endGeneral(
    OpId op, std::uint64_t start, int which, unsigned exceptions, bool failed, std::uint32_t depth) noexcept
{
    ThreadState* ts = t_state;
    const std::uint64_t stop = endReading(ts, op, start, which, depth);
    const int kind = which & clock::Counter;
    const bool ok = !failed && uncaughtExceptions() <= exceptions;
    return countScope(ts, op, clock::elapsedNs(start, stop, kind), ok, kind, stop);
}

/// The end of a scope on the counter, in the thread's window, after the reading @p stop. A long one
/// (over @p fastTicks), or one whose counter went backwards, is recorded on the slow path with its
/// exact duration; otherwise its reading and the end's are near enough to convert with one
/// multiply: the bucket's page found from the exponent alone, the operation left pending
/// (threadstate.h).
__attribute__((always_inline)) inline int finishCounted(ThreadState* ts, OpId op, OpSlot* slot,
    std::atomic<std::uint32_t>* pending, std::uint64_t start, std::uint64_t stop, std::uint64_t fastTicks,
    std::uint64_t mult, std::uint32_t window) noexcept
{
    if (__builtin_expect(stop - start > fastTicks, 0)) {
        closeWindow(ts, window);
        return recordOnSlow(
                   ts, op, clock::elapsedNs(start, stop, clock::Counter), RecordOk | RecordCounterClock, stop, nullptr)
            ? PERFDASH_OK
            : PERFDASH_ENOMEM;
    }
    const std::uint64_t ns = ((stop - start) * mult) >> 32;
    // wire::bucketIndex(), with the page found from the exponent alone: its load does not
    // wait for the shift that gives the bucket within it.
    int pageIndex, index;
    if (ns < 128) {
        pageIndex = int(ns >> 6);
        index = int(ns);
    } else {
        const int m = 63 - __builtin_clzll(ns);
        pageIndex = m - 5;
        index = int(ns >> (m - 6));
    }
    BucketPage* buckets = slot->pages[pageIndex].load(std::memory_order_relaxed);
    if (__builtin_expect(!buckets, 0)) { // a duration in a range of buckets this thread never used
        closeWindow(ts, window);
        return recordOnSlow(ts, op, ns, RecordOk | RecordCounterClock, stop, nullptr) ? PERFDASH_OK : PERFDASH_ENOMEM;
    }
    if (__builtin_expect(wantsRawEvent(ts, ns), 0)) {
        closeWindow(ts, window);
        return recordOnSlow(ts, op, ns, RecordOk | RecordCounterClock | RecordRaw, stop, nullptr) ? PERFDASH_OK
                                                                                                  : PERFDASH_ENOMEM;
    }
    if (pending)
        foldPending(ts, pending);
    ts->pendingBucket.store(&buckets->counts[index & 63], std::memory_order_relaxed);
    ts->pendingSlot.store(slot, std::memory_order_relaxed);
    ts->pendingNs.store(ns, std::memory_order_relaxed);
    closeWindow(ts, window);
    return PERFDASH_OK;
}

/// end() of a traced scope (its Enter is in the ring) on the counter: the common case while
/// profiled, as the untraced fast path with the Exit written around the end's reading (the
/// record's address is known before it, so its stores cost little). @p depth: the thread's depth
/// with this scope open; it goes down in the Exit's window (in endGeneral() otherwise).
__attribute__((noinline)) int endSlow(
    OpId op, std::uint64_t start, int which, unsigned exceptions, bool failed, std::uint32_t depth) noexcept
{
    ThreadState* ts = t_state;
    const unsigned* uncaught = t_scope.uncaught;
    if (__builtin_expect(which != (clock::Counter | tracing::Traced) || !ts || !ts->traceRing || !uncaught
                || !internal::registered(op),
            0))
        return endGeneral(op, start, which, exceptions, failed, depth);
    OpPage* page = ts->ops[op >> 6].load(std::memory_order_relaxed);
    OpSlot* slot = page ? page->slots[op & 63].load(std::memory_order_relaxed) : nullptr;
    rings::RingHeader* ring = ts->traceRing;
    if (__builtin_expect(!slot || failed || *uncaught > exceptions || inWindow(ts)
                || (ring->seq.load(std::memory_order_relaxed) & 1)
                || settings::g_hot.exited.load(std::memory_order_relaxed),
            0))
        return endGeneral(op, start, which, exceptions, failed, depth);
    const std::uint64_t fastTicks = clock::g_state.fastTicks.load(std::memory_order_relaxed);
    const std::uint64_t mult = clock::g_state.mult.load(std::memory_order_relaxed);
    const std::uint64_t word = rings::recordWord(op, rings::Exit, false, depth, std::uint32_t(start));
    const std::uint32_t window = openWindow(ts);
    // Read in the window: a signal handler's scope before it may have left its own pending.
    std::atomic<std::uint32_t>* pending = ts->pendingBucket.load(std::memory_order_relaxed);
    // Even: a signal handler between the check above and here ran whole.
    const std::uint64_t s = openRecord(ring);
    rings::Record& r = ts->traceRecords[(s >> 1) & ts->traceMask];
    t_scope.depth = depthAfterEnd(depth);
    const std::uint64_t stop = clock::ticks();
    r.time.store(stop, std::memory_order_relaxed);
    r.word.store(word, std::memory_order_relaxed);
    ring->seq.store(s + 2, std::memory_order_release);
    return finishCounted(ts, op, slot, pending, start, stop, fastTicks, mult, window);
}

__attribute__((always_inline)) inline int endImpl(
    OpId op, std::uint64_t start, int which, unsigned exceptions, bool failed) noexcept
{
    // The depth goes down on this path alone: the others do it inside their ring record's window.
    const std::uint32_t depth = t_scope.depth;
    const unsigned* uncaught = t_scope.uncaught;
    ThreadState* ts = t_state;
    if (__builtin_expect(
            which != clock::Counter || uncaught == nullptr || ts == nullptr || !internal::registered(op), 0))
        return endSlow(op, start, which, exceptions, failed, depth);
    // Everything that does not need the clock, before reading it.
    OpPage* page = ts->ops[op >> 6].load(std::memory_order_relaxed);
    OpSlot* slot = page ? page->slots[op & 63].load(std::memory_order_relaxed) : nullptr;
    if (__builtin_expect(!slot || failed || *uncaught > exceptions || inWindow(ts)
                || settings::g_hot.exited.load(std::memory_order_relaxed)
                || (tracing::g_mode.load(std::memory_order_relaxed) & tracing::ModeTracing),
            0))
        return endSlow(op, start, which, exceptions, failed, depth);
    t_scope.depth = depthAfterEnd(depth);
    const std::uint64_t fastTicks = clock::g_state.fastTicks.load(std::memory_order_relaxed);
    const std::uint64_t mult = clock::g_state.mult.load(std::memory_order_relaxed);
    // Opened before the reading: a signal handler that records in between is dropped (counted).
    const std::uint32_t window = openWindow(ts);
    // Read in the window: a signal handler's scope before it may have left its own pending (read
    // before, a null there overwrote the handler's operation).
    std::atomic<std::uint32_t>* pending = ts->pendingBucket.load(std::memory_order_relaxed);
    const std::uint64_t stop = clock::ticks();
    return finishCounted(ts, op, slot, pending, start, stop, fastTicks, mult, window);
}
} // namespace

namespace internal {
int endScope(OpId op, std::uint64_t start, int which, unsigned exceptions, bool failed) noexcept
{
    return endImpl(op, start, which, exceptions, failed);
}
} // namespace internal

namespace detail {
std::uint64_t begin(int& which, unsigned& exceptions) noexcept
{
    return beginImpl(rings::NoOp, which, exceptions);
}

std::uint64_t beginOp(OpId op, int& which, unsigned& exceptions) noexcept
{
    return beginImpl(recordOp(op), which, exceptions);
}

void end(OpId op, std::uint64_t start, int which, unsigned exceptions, bool failed) noexcept
{
    endImpl(op, start, which, exceptions, failed);
}

void endWithMeta(OpId op, std::uint64_t start, int which, unsigned exceptions, bool failed, const char* meta,
    std::uint32_t bytes, std::uint32_t lost) noexcept
{
    const std::uint32_t depth = t_scope.depth; // down in endReading()
    if (lost)
        global().truncatedMeta.fetch_add(lost, std::memory_order_relaxed);
    ThreadState* ts = t_state;
    const std::uint64_t stop = endReading(ts, op, start, which, depth);
    const int kind = which & clock::Counter;
    const bool ok = !failed && uncaughtExceptions() <= exceptions;
    const std::uint64_t ns = clock::elapsedNs(start, stop, kind);
    if (!ts || !internal::registered(op)) {
        internal::record(op, ns, ok, kind, stop, internal::unpack(meta, bytes));
        return;
    }
    // The pairs become an allocation only when the event is kept (slow or sampled): draw first.
    if (!wantsRawEvent(ts, ns)) {
        recordOnSlow(ts, op, ns, recordFlags(ok, kind) | RecordDrawn, stop, nullptr);
        return;
    }
    recordOnSlow(ts, op, ns, recordFlags(ok, kind) | RecordRaw, stop, internal::unpack(meta, bytes));
}
} // namespace detail

} // namespace perfdash
