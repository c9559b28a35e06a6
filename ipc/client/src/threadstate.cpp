// SPDX-License-Identifier: MIT
#include "threadstate.h"
#include "clock.h"
#include "scoperings.h"
#include "settings.h"

#include <new>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace perfdash {

__thread ThreadState* t_state __attribute__((tls_model("initial-exec"))) = nullptr;
__thread ScopeTls t_scope __attribute__((tls_model("initial-exec"))) = { nullptr, 0 };

namespace {
pthread_key_t g_key;
std::atomic<bool> g_keyReady { false };

Threads g_threads;

/// The key's destructor, run when the thread ends, after every C++ thread_local destructor:
/// one of those that records still has a state, and one that records even later gets a new
/// one, whose key destructor runs again (POSIX repeats them while values are set).
void threadGone(void* p) noexcept
{
    auto* ts = static_cast<ThreadState*>(p);
    if (t_state == ts)
        t_state = nullptr;
    // Its last operation into the histograms, and its ring to the flusher, before the flusher
    // may see it dead (and delete it).
    if (!inWindow(ts)) {
        const std::uint32_t window = openWindow(ts);
        foldPending(ts);
        closeWindow(ts, window);
    }
    releaseRing(ts);
    ts->alive.store(false, std::memory_order_release);
}

void account(ThreadState* ts, std::size_t bytes) noexcept
{
    ts->bytes.fetch_add(bytes, std::memory_order_relaxed);
    g_threads.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

template <typename T> T* allocate(ThreadState* ts, std::atomic<T*>& where) noexcept
{
    T* p = new (std::nothrow) T;
    if (p) {
        account(ts, sizeof(T));
        where.store(p, std::memory_order_release);
    }
    return p;
}
} // namespace

OpPage* allocatePage(ThreadState* ts, std::atomic<OpPage*>& where) noexcept
{
    return allocate(ts, where);
}
OpSlot* allocateSlot(ThreadState* ts, std::atomic<OpSlot*>& where) noexcept
{
    return allocate(ts, where);
}
BucketPage* allocateBuckets(ThreadState* ts, std::atomic<BucketPage*>& where) noexcept
{
    return allocate(ts, where);
}

RawEvent* allocateRing(ThreadState* ts) noexcept
{
    auto* ring = new (std::nothrow) RawEvent[RingSize];
    if (ring) {
        account(ts, sizeof(RawEvent) * RingSize);
        ts->ring.store(ring, std::memory_order_release);
    }
    return ring;
}

void dropOne(ThreadState* ts, Meta* meta) noexcept
{
    ts->droppedOperations.fetch_add(1, std::memory_order_relaxed);
    delete meta;
}

void countAfterExit(Meta* meta) noexcept
{
    g_threads.afterExit.fetch_add(1, std::memory_order_relaxed);
    delete meta;
}

std::uint64_t currentTid() noexcept
{
#if defined(SYS_gettid)
    return std::uint64_t(::syscall(SYS_gettid));
#else
    return std::uint64_t(::getpid());
#endif
}

ThreadState::ThreadState() noexcept
    : tid(currentTid())
    , rng(0x9e3779b97f4a7c15ull ^ (tid * 0xbf58476d1ce4e5b9ull) ^ clock::monotonicNs())
{
}

ThreadState::~ThreadState()
{
    for (auto& p : ops)
        delete p.load(std::memory_order_relaxed);
    if (RawEvent* r = ring.load(std::memory_order_relaxed)) {
        for (std::uint32_t i = tail.load(std::memory_order_relaxed); i != head.load(std::memory_order_relaxed); ++i)
            delete r[i % RingSize].meta;
        delete[] r;
    }
    g_threads.bytes.fetch_sub(bytes.load(std::memory_order_relaxed) + sizeof(ThreadState), std::memory_order_relaxed);
}

bool recordOnSlow(ThreadState* ts, OpId op, std::uint64_t ns, unsigned flags, std::uint64_t end, Meta* meta) noexcept
{
    const bool ok = flags & RecordOk;
    const int clock = (flags & RecordCounterClock) ? clock::Counter : clock::Monotonic;
    if (settings::g_hot.exited.load(std::memory_order_relaxed)) {
        countAfterExit(meta);
        return true;
    }
    if (inWindow(ts)) { // a signal handler interrupted a recording
        ts->reentered.fetch_add(1, std::memory_order_relaxed);
        dropOne(ts, meta);
        return true;
    }
    const std::uint32_t window = openWindow(ts);
    foldPending(ts);

    const int index = wire::bucketIndex(ns);
    OpPage* page = ts->ops[op >> 6].load(std::memory_order_relaxed);
    OpSlot* slot = nullptr;
    BucketPage* buckets = nullptr;
    const bool counted = (page || (page = allocatePage(ts, ts->ops[op >> 6])))
        && ((slot = page->slots[op & 63].load(std::memory_order_relaxed))
            || (slot = allocateSlot(ts, page->slots[op & 63])))
        && ((buckets = slot->pages[index >> 6].load(std::memory_order_relaxed))
            || (buckets = allocateBuckets(ts, slot->pages[index >> 6])));
    if (counted)
        count(slot, buckets, index, ns, ok);

    if (counted && ((flags & RecordRaw) || (!(flags & RecordDrawn) && wantsRawEvent(ts, ns)))) {
        RawEvent* ring = ts->ring.load(std::memory_order_relaxed);
        if (!ring)
            ring = allocateRing(ts);
        const std::uint32_t head = ts->head.load(std::memory_order_relaxed);
        if (!ring || head - ts->tail.load(std::memory_order_acquire) >= RingSize) {
            ts->droppedEvents.fetch_add(1, std::memory_order_relaxed);
            delete meta;
        } else {
            // end == 0: recorded without a clock reading (record()); read one only now that it is needed.
            ring[head % RingSize]
                = RawEvent { op, end ? clock : int(clock::Monotonic), end ? end : clock::monotonicNs(), ns, ok, meta };
            ts->head.store(head + 1, std::memory_order_release);
        }
    } else if (counted) {
        delete meta;
    } else {
        dropOne(ts, meta);
    }
    closeWindow(ts, window);
    return counted;
}

Threads& threads() noexcept
{
    return g_threads;
}

void initThreadKey() noexcept
{
    if (pthread_key_create(&g_key, threadGone) == 0)
        g_keyReady.store(true, std::memory_order_release);
}

ThreadState* currentState() noexcept
{
    return t_state;
}

ThreadState* newThreadState() noexcept
{
    auto* state = new (std::nothrow) ThreadState;
    if (!state)
        return nullptr;
    g_threads.bytes.fetch_add(sizeof(ThreadState), std::memory_order_relaxed);
    try {
        std::lock_guard lock(g_threads.mutex);
        g_threads.list.push_back(state);
    } catch (...) {
        delete state;
        return nullptr;
    }
    if (g_keyReady.load(std::memory_order_acquire))
        pthread_setspecific(g_key, state);
    t_state = state;
    return state;
}

} // namespace perfdash
