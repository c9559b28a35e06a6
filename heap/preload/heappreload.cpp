// SPDX-License-Identifier: MIT
// libperfdash_heap.so: malloc interposition for the programs perfdash launches (docs/HEAP.md).
//
// Loaded through LD_PRELOAD, it defines malloc, free, calloc, realloc, reallocarray,
// posix_memalign, aligned_alloc, memalign, valloc, pvalloc and malloc_usable_size, forwards each
// to the next definition (dlsym(RTLD_NEXT): glibc's, or a jemalloc/tcmalloc the program links),
// defines C++'s operator new and delete on top of them (jemalloc and tcmalloc define their own,
// which would bypass the counting), and
//   - counts every block exactly (usable bytes), per thread, folding into the shared counters;
//   - samples blocks by bytes (exponential intervals, PERFDASH_HEAP_SAMPLE bytes on average),
//     records a sampled block's stack and remembers its address, reports its free();
// through the channel file named by PERFDASH_HEAP_SHM (heap/heapwire.h).
//
// A guest in someone else's program: no lock, no system call and no allocation on the paths of
// malloc and free (system calls only once per thread and on the sampled path's clock, which is the
// vDSO); nothing held across fork(); signal handlers may allocate (see enter()); no exception of
// its own (built with -fno-exceptions: a failing operator new hands over to the next one by a tail
// call); no libstdc++ at run time (the C++ used is header-only).
#include "heap/heapwire.h"
#include "heap/preload/sampledset.h"

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <new>
#include <pthread.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

// glibc declares the allocation functions __THROW (noexcept in C++); musl does not.
#ifdef __GLIBC__
#define PD_NOEXCEPT noexcept
#else
#define PD_NOEXCEPT
extern "C" void* pvalloc(size_t);
extern "C" void* reallocarray(void*, size_t, size_t);
#endif
#define PD_EXPORT extern "C" __attribute__((visibility("default")))
#define PD_LIKELY(x) __builtin_expect(!!(x), 1)
#define PD_UNLIKELY(x) __builtin_expect(!!(x), 0)

namespace hw = perfdash::heapwire;
using perfdash::heappreload::SampledSet;

namespace {

// ---- the next allocator ---------------------------------------------------------------------

using MallocFn = void* (*)(size_t);
using FreeFn = void (*)(void*);
using CallocFn = void* (*)(size_t, size_t);
using ReallocFn = void* (*)(void*, size_t);
using MemalignFn = void* (*)(size_t, size_t);
using PosixMemalignFn = int (*)(void**, size_t, size_t);
using UsableFn = size_t (*)(void*);

struct Next
{
    MallocFn malloc;
    FreeFn free;
    CallocFn calloc;
    ReallocFn realloc;
    MemalignFn memalign;
    PosixMemalignFn posixMemalign;
    MemalignFn alignedAlloc;
    MallocFn valloc;
    MallocFn pvalloc;
    UsableFn usable;
};
Next g_next;
std::atomic<int> g_resolveState { 0 }; // 0 not yet, 1 under way, 2 done
/// Unready: g_next is not complete yet. Generic: block sizes come from the next allocator's
/// malloc_usable_size. Glibc: the next allocator is glibc's, and its malloc_usable_size's arithmetic
/// on the chunk header (glibcUsable) was checked against it at start: the sizes come from there,
/// inline (a call saved twice per block: 2 ns of the 10 a malloc/free pair takes).
enum Mode : std::uint8_t { ModeUnready = 0, ModeGeneric = 1, ModeGlibc = 2 };
std::atomic<std::uint8_t> g_mode { ModeUnready };

// The allocations dlsym() makes while the next allocator is being looked up (and any other made
// meanwhile) come from here. Never freed, never counted: they are not the program's heap.
constexpr size_t ArenaBytes = 64 * 1024;
alignas(4096) char g_arena[ArenaBytes];
std::atomic<size_t> g_arenaUsed { 0 };
std::atomic<bool> g_arenaExhausted { false };

// ---- the channel and the counters -----------------------------------------------------------

hw::Counters g_early; // before the channel is mapped, and in every process that does not report
std::atomic<hw::Counters*> g_target { &g_early };
std::atomic<bool> g_reporting { false };
hw::Header* g_header = nullptr; // set before g_reporting, never cleared (a forked child keeps the mapping)
void* g_base = nullptr;
std::uint32_t g_slotMask = 0;
std::atomic<std::uint64_t> g_mean { 0 }; // 0: no sampling
std::atomic<std::uint32_t> g_epoch { 0 }; // bumped when sampling starts or stops: threads redraw
std::atomic<bool> g_exited { false };
std::atomic<std::uint32_t> g_liveThreads { 0 };
pthread_key_t g_key;
std::atomic<bool> g_keyReady { false };
std::uintptr_t g_textBegin = 0, g_textEnd = 0; // our own code, left out of stacks
char g_selfName[64]; // this library's file name ("libperfdash_heap.so"), looked for in an exec's LD_PRELOAD
SampledSet g_set;

// A thread folds its deltas into the shared counters when pending bytes + OpCost x operations
// reach FoldBytes: at most 64 KiB or 256 operations behind.
constexpr std::int64_t FoldBytes = 64 * 1024;
constexpr std::int64_t OpCost = FoldBytes / 256;
constexpr std::int64_t Never = std::int64_t(1) << 62;

/**
 * One thread's state, in initial-exec TLS (a fixed offset from the thread pointer: no
 * __tls_get_addr, which may allocate), zero-initialised: the first operation of a thread finds
 * countdown and budget at 0 and takes the slow path, which sets it up.
 */
struct ThreadState
{
    std::uint64_t allocBytes; // pending, not yet folded
    std::uint64_t allocs;
    std::uint64_t freedBytes;
    std::uint64_t frees;
    std::int64_t countdown; // bytes before the next sample point; below 0: this block is sampled
    std::int64_t budget; // fold when below 0
    std::uint64_t rng;
    std::uint32_t tid;
    std::uint32_t epoch;
    unsigned char busy; // inside our code: a nested call (signal handler, unwinder, dlsym) passes through
    unsigned char initialized;
    unsigned char keyed; // the exit destructor will run for it
    unsigned char exiting; // its destructor ran: fold at every operation from now on
};
thread_local ThreadState t_state __attribute__((tls_model("initial-exec")));

/**
 * Signals. A signal handler may allocate on a thread in the middle of the preload's own work on
 * that thread; its hooks must neither tear that work nor wait for it.
 *
 * The slow paths (thread set-up, sampling and unwinding, folding into the shared counters) run
 * between enter() and leave(), which set busy. A hook that finds busy set is nested (a signal
 * handler, or an allocation made by the unwinder or dlsym): it does not touch this thread's state
 * at all, forwards, and adds to the shared counters with atomic read-modify-writes, which nothing
 * can tear (nestedAlloc, nestedFreed). It is never sampled.
 *
 * The fast path (count a block, no sample due, no fold due) does not set busy on x86-64: each of
 * its updates is one read-modify-write instruction on memory (addTo, subBelowZero: inline assembly,
 * so that the compiler cannot split them into a load and a store), and a signal is only taken
 * between two instructions. A handler that runs between two of them completes its own updates,
 * or a whole fold (which reads the pending deltas and zeroes them under busy), before the
 * interrupted update resumes on the current value: no update is lost or counted twice. Not a
 * locked instruction: the thread is the only writer of its state, the signal runs on its CPU.
 * Elsewhere (aarch64 has no add to memory) the fast path sets busy like the slow ones: two stores.
 * The fences are compiler barriers only.
 */
inline void enter(ThreadState& t) noexcept
{
    t.busy = 1;
    std::atomic_signal_fence(std::memory_order_seq_cst);
}
inline void leave(ThreadState& t) noexcept
{
    std::atomic_signal_fence(std::memory_order_seq_cst);
    t.busy = 0;
}

#if defined(__x86_64__)
constexpr bool SignalAtomicUpdates = true;
inline void addTo(std::uint64_t& field, std::uint64_t v) noexcept
{
    asm volatile("addq %1, %0" : "+m"(field) : "er"(v) : "cc");
}
/// field -= v, in one instruction; whether the result is below zero.
inline bool subBelowZero(std::int64_t& field, std::int64_t v) noexcept
{
    bool negative;
    asm volatile("subq %2, %0" : "+m"(field), "=@ccs"(negative) : "er"(v));
    return negative;
}
#else
constexpr bool SignalAtomicUpdates = false;
inline void addTo(std::uint64_t& field, std::uint64_t v) noexcept
{
    field += v;
}
inline bool subBelowZero(std::int64_t& field, std::int64_t v) noexcept
{
    field -= v;
    return field < 0;
}
#endif

// ---- small pieces ---------------------------------------------------------------------------

std::uint64_t monotonicNs() noexcept
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1000000000ull + std::uint64_t(ts.tv_nsec);
}

std::uint64_t splitmix(std::uint64_t x) noexcept
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/// ln(u) for u in (0, 1], to ~1e-9: no libm in the preload.
double lnUnit(double u) noexcept
{
    std::uint64_t bits;
    __builtin_memcpy(&bits, &u, sizeof bits);
    int exponent = int((bits >> 52) & 0x7ff) - 1023;
    bits = (bits & 0xfffffffffffffull) | 0x3ff0000000000000ull;
    double m;
    __builtin_memcpy(&m, &bits, sizeof m); // [1, 2)
    if (m > 1.4142135623730951) {
        m *= 0.5;
        ++exponent;
    }
    const double s = (m - 1) / (m + 1); // |s| < 0.172: atanh series
    const double s2 = s * s;
    const double lnM = 2 * s * (1 + s2 * (1.0 / 3 + s2 * (1.0 / 5 + s2 * (1.0 / 7 + s2 * (1.0 / 9 + s2 / 11)))));
    return exponent * 0.6931471805599453 + lnM;
}

/// Bytes to the next sample point: exponential with mean g_mean (memoryless, so a block of s
/// bytes holds a point with probability 1 - exp(-s / mean) whatever came before).
std::int64_t drawCountdown(ThreadState& t) noexcept
{
    const std::uint64_t mean = g_mean.load(std::memory_order_relaxed);
    if (mean == 0)
        return Never;
    if (mean <= 1)
        return 0; // every block
    t.rng = t.rng * 6364136223846793005ull + 1442695040888963407ull; // PCG's LCG step...
    const std::uint64_t r = splitmix(t.rng); // ...whitened
    const double u = double((r >> 11) + 1) * 0x1p-53; // (0, 1]
    const double bytes = -lnUnit(u) * double(mean);
    return bytes >= double(Never) ? Never : std::int64_t(bytes);
}

void sweepEarly() noexcept
{
    hw::Counters* target = g_target.load(std::memory_order_acquire);
    if (target == &g_early)
        return;
    if (const std::uint64_t v = g_early.allocatedBytes.exchange(0))
        target->allocatedBytes.fetch_add(v, std::memory_order_relaxed);
    if (const std::uint64_t v = g_early.allocations.exchange(0))
        target->allocations.fetch_add(v, std::memory_order_relaxed);
    if (const std::uint64_t v = g_early.freedBytes.exchange(0))
        target->freedBytes.fetch_add(v, std::memory_order_relaxed);
    if (const std::uint64_t v = g_early.frees.exchange(0))
        target->frees.fetch_add(v, std::memory_order_relaxed);
}

void fold(ThreadState& t) noexcept
{
    hw::Counters* c = g_target.load(std::memory_order_acquire);
    if (t.allocBytes)
        c->allocatedBytes.fetch_add(t.allocBytes, std::memory_order_relaxed);
    if (t.allocs)
        c->allocations.fetch_add(t.allocs, std::memory_order_relaxed);
    if (t.freedBytes)
        c->freedBytes.fetch_add(t.freedBytes, std::memory_order_relaxed);
    if (t.frees)
        c->frees.fetch_add(t.frees, std::memory_order_relaxed);
    t.allocBytes = t.allocs = t.freedBytes = t.frees = 0;
    // Once this thread's destructor or the process's exit handler ran, nothing later folds for
    // it: every operation folds at once.
    t.budget = (t.exiting || g_exited.load(std::memory_order_relaxed)) ? 0 : FoldBytes;
    // A fold that read g_target just before the channel was mapped went to g_early.
    if (c == &g_early && g_reporting.load(std::memory_order_relaxed))
        sweepEarly();
}

void threadExit(void*) noexcept
{
    ThreadState& t = t_state;
    const unsigned char wasBusy = t.busy;
    enter(t);
    t.exiting = 1;
    fold(t);
    g_liveThreads.fetch_sub(1, std::memory_order_relaxed);
    if (!wasBusy)
        leave(t);
}

void keyThread(ThreadState& t) noexcept
{
    // Inside enter(): if this needs memory (a key past glibc's first 32), that is a nested call.
    if (!t.keyed && g_keyReady.load(std::memory_order_acquire)
        && pthread_setspecific(g_key, reinterpret_cast<void*>(1)) == 0) {
        t.keyed = 1;
        g_liveThreads.fetch_add(1, std::memory_order_relaxed);
    }
}

void initThread(ThreadState& t) noexcept
{
    t.initialized = 1;
    t.tid = std::uint32_t(syscall(SYS_gettid));
    static std::atomic<std::uint64_t> threads { 0 };
    t.rng = splitmix(std::uint64_t(reinterpret_cast<std::uintptr_t>(&t)) ^ monotonicNs() ^ (std::uint64_t(t.tid) << 32)
        ^ splitmix(threads.fetch_add(1, std::memory_order_relaxed)));
    t.epoch = g_epoch.load(std::memory_order_relaxed);
    t.countdown = drawCountdown(t);
    t.budget = FoldBytes;
    keyThread(t);
}

// ---- the ring ---------------------------------------------------------------------------------

struct Walk
{
    std::uint64_t* frames;
    std::uint32_t depth;
    std::uint32_t flags;
    bool started;
};

_Unwind_Reason_Code walkFrame(_Unwind_Context* context, void* arg)
{
    Walk& w = *static_cast<Walk*>(arg);
    int beforeInstruction = 0;
    std::uintptr_t ip = _Unwind_GetIPInfo(context, &beforeInstruction);
    if (ip == 0)
        return _URC_END_OF_STACK;
    if (!beforeInstruction)
        --ip; // a return address: the call is the instruction before it
    if (!w.started) {
        if (ip >= g_textBegin && ip < g_textEnd)
            return _URC_NO_REASON; // our own frames (the hook and the sampler)
        w.started = true;
    }
    if (w.depth == hw::MaxFrames) {
        w.flags |= hw::SlotTruncated;
        return _URC_END_OF_STACK;
    }
    w.frames[w.depth++] = ip;
    return _URC_NO_REASON;
}

/// Producers never wait: a slot the consumer has not freed yet is a full ring. The bounded retry
/// loop also keeps a corrupted file from holding a thread forever.
bool push(std::uint32_t type, std::uint32_t tid, std::uintptr_t address, std::uint64_t size,
    const std::uint64_t* frames, std::uint32_t depth, std::uint32_t flags) noexcept
{
    hw::Header* h = g_header;
    std::uint64_t pos = h->head.load(std::memory_order_relaxed);
    hw::Slot* slot = nullptr;
    for (int attempt = 0; attempt < 256; ++attempt) {
        hw::Slot* s = hw::slotAt(g_base, std::uint32_t(pos & g_slotMask));
        const std::uint64_t seq = s->seq.load(std::memory_order_acquire);
        const std::int64_t dif = std::int64_t(seq - pos);
        if (dif == 0) {
            if (h->head.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
                slot = s;
                break;
            }
        } else if (dif < 0) {
            return false; // full
        } else {
            pos = h->head.load(std::memory_order_relaxed);
        }
    }
    if (!slot)
        return false;
    slot->type = type;
    slot->depth = depth;
    slot->tid = tid;
    slot->flags = flags;
    slot->timeNs = monotonicNs();
    slot->address = address;
    slot->size = size;
    for (std::uint32_t i = 0; i < depth; ++i)
        slot->frames[i] = frames[i];
    slot->seq.store(pos + 1, std::memory_order_release);
    return true;
}

__attribute__((noinline)) void sample(ThreadState& t, void* p, size_t usable) noexcept
{
    if (!g_reporting.load(std::memory_order_acquire))
        return;
    hw::Header* h = g_header;
    h->samples.fetch_add(1, std::memory_order_relaxed);
    std::uint64_t frames[hw::MaxFrames];
    Walk walk { frames, 0, 0, false };
    _Unwind_Backtrace(walkFrame, &walk); // allocations it makes are nested: counted, not sampled
    const auto address = reinterpret_cast<std::uintptr_t>(p);
    if (!g_set.insert(address)) {
        h->untracked.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    if (!push(hw::SlotAlloc, t.tid, address, usable, frames, walk.depth, walk.flags)) {
        g_set.remove(address); // never reported: its free must not be either
        h->droppedAllocs.fetch_add(1, std::memory_order_relaxed);
    }
}

/// A block about to be freed (or reallocated): if sampled, it leaves the set and its Free record
/// is written now, before the address can be handed out again.
__attribute__((noinline)) bool forgetSampled(std::uint32_t tid, void* p, size_t usable) noexcept
{
    if (!g_set.remove(reinterpret_cast<std::uintptr_t>(p)))
        return false;
    if (g_reporting.load(std::memory_order_acquire)
        && !push(hw::SlotFree, tid, reinterpret_cast<std::uintptr_t>(p), usable, nullptr, 0, 0))
        g_header->droppedFrees.fetch_add(1, std::memory_order_relaxed);
    return true;
}

// ---- resolution and the bootstrap arena -----------------------------------------------------

template <class F> F nextSymbol(const char* name) noexcept
{
    void* symbol = dlsym(RTLD_NEXT, name);
    F f;
    static_assert(sizeof f == sizeof symbol);
    __builtin_memcpy(&f, &symbol, sizeof f);
    return f;
}

size_t pageSize() noexcept
{
    const long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? size_t(page) : 4096;
}

// What the next allocator lacks (musl has no pvalloc) is made of what it has.
void* fallbackMemalign(size_t alignment, size_t n)
{
    void* p = nullptr;
    return g_next.posixMemalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, n) == 0 ? p : nullptr;
}
void* fallbackValloc(size_t n)
{
    return g_next.memalign(pageSize(), n);
}
void* fallbackPvalloc(size_t n)
{
    const size_t page = pageSize();
    const size_t rounded = (n + page - 1) & ~(page - 1);
    if (rounded < n) {
        errno = ENOMEM;
        return nullptr;
    }
    return g_next.memalign(page, rounded ? rounded : page);
}

void die(const char* message) noexcept
{
    const ssize_t ignored = ::write(2, message, __builtin_strlen(message));
    (void)ignored;
    abort();
}

/// True once g_next is complete; false while it is being looked up (by this thread, inside
/// dlsym, or by another): then the caller serves the bootstrap arena.
bool resolve() noexcept
{
    int state = g_resolveState.load(std::memory_order_acquire);
    if (state == 2)
        return true;
    if (state != 0 || !g_resolveState.compare_exchange_strong(state, 1, std::memory_order_acq_rel))
        return false;
    Next n {};
    n.malloc = nextSymbol<MallocFn>("malloc");
    n.free = nextSymbol<FreeFn>("free");
    n.calloc = nextSymbol<CallocFn>("calloc");
    n.realloc = nextSymbol<ReallocFn>("realloc");
    n.usable = nextSymbol<UsableFn>("malloc_usable_size");
    n.posixMemalign = nextSymbol<PosixMemalignFn>("posix_memalign");
    n.memalign = nextSymbol<MemalignFn>("memalign");
    n.alignedAlloc = nextSymbol<MemalignFn>("aligned_alloc");
    n.valloc = nextSymbol<MallocFn>("valloc");
    n.pvalloc = nextSymbol<MallocFn>("pvalloc");
    if (!n.malloc || !n.free || !n.calloc || !n.realloc || !n.usable || (!n.posixMemalign && !n.memalign))
        die("libperfdash_heap: the next allocator lacks malloc, free, calloc, realloc, malloc_usable_size or "
            "memalign\n");
    g_next = n;
    if (!g_next.posixMemalign) // memalign exists: posix_memalign from it
        g_next.posixMemalign = [](void** out, size_t alignment, size_t size) -> int {
            if (alignment < sizeof(void*) || (alignment & (alignment - 1)))
                return EINVAL;
            void* p = g_next.memalign(alignment, size);
            if (!p)
                return ENOMEM;
            *out = p;
            return 0;
        };
    if (!g_next.memalign)
        g_next.memalign = fallbackMemalign;
    if (!g_next.alignedAlloc)
        g_next.alignedAlloc = g_next.memalign;
    if (!g_next.valloc)
        g_next.valloc = fallbackValloc;
    if (!g_next.pvalloc)
        g_next.pvalloc = fallbackPvalloc;
    // The hooks call malloc_usable_size on every block; tcmalloc's allocates (operator new, so
    // through us) the first time it runs, which would recurse without end. Its first run is now,
    // while every hook is still served by the bootstrap arena.
    if (void* probe = g_next.malloc(1)) {
        g_next.usable(probe);
        g_next.free(probe);
    }
    g_mode.store(ModeGeneric, std::memory_order_release);
    g_resolveState.store(2, std::memory_order_release);
    return true;
}

inline bool inArena(const void* p) noexcept
{
    return std::uintptr_t(p) - std::uintptr_t(g_arena) < ArenaBytes;
}

void* arenaAlloc(size_t n, size_t alignment) noexcept
{
    if (alignment < 16)
        alignment = 16;
    if (alignment > 4096 || (alignment & (alignment - 1)) || n > ArenaBytes) {
        errno = ENOMEM;
        return nullptr;
    }
    size_t used = g_arenaUsed.load(std::memory_order_relaxed);
    for (;;) {
        const size_t start = (used + 16 + alignment - 1) & ~(alignment - 1);
        const size_t end = start + ((n + 15) & ~size_t(15));
        if (end > ArenaBytes) {
            g_arenaExhausted.store(true, std::memory_order_relaxed);
            errno = ENOMEM;
            return nullptr;
        }
        if (g_arenaUsed.compare_exchange_weak(used, end, std::memory_order_relaxed)) {
            __builtin_memcpy(g_arena + start - sizeof n, &n, sizeof n); // its size, for realloc
            return g_arena + start;
        }
    }
}

size_t arenaSize(const void* p) noexcept
{
    size_t n;
    __builtin_memcpy(&n, static_cast<const char*>(p) - sizeof n, sizeof n);
    return n;
}

// ---- the hooks' common paths ----------------------------------------------------------------

/// glibc's malloc_usable_size(p) for a block in use (malloc.c, memsize()): the chunk's size from
/// the header word before the block, flags off, less the header; a chunk that is not mmapped also
/// has the first word of the next chunk (its prev_size, unused while this one is in use).
inline size_t glibcUsable(const void* p) noexcept
{
    size_t field;
    __builtin_memcpy(&field, static_cast<const char*>(p) - sizeof field, sizeof field);
    return (field & ~size_t(7)) - sizeof field - ((field & 2) ? sizeof field : 0);
}

inline size_t usableOf(void* p, std::uint8_t mode) noexcept
{
    return mode == ModeGlibc ? glibcUsable(p) : g_next.usable(p);
}

/// A nested call (see enter()): counted straight into the shared counters, never sampled.
__attribute__((noinline)) void* nestedAlloc(void* p) noexcept
{
    if (p) {
        hw::Counters* c = g_target.load(std::memory_order_acquire);
        c->allocatedBytes.fetch_add(usableOf(p, g_mode.load(std::memory_order_acquire)), std::memory_order_relaxed);
        c->allocations.fetch_add(1, std::memory_order_relaxed);
        if (c == &g_early && g_reporting.load(std::memory_order_relaxed))
            sweepEarly();
    }
    return p;
}

/// Counts a nested free (or the free half of a nested realloc); the caller handled the sampled set.
void nestedFreed(size_t usable) noexcept
{
    hw::Counters* c = g_target.load(std::memory_order_acquire);
    c->freedBytes.fetch_add(usable, std::memory_order_relaxed);
    c->frees.fetch_add(1, std::memory_order_relaxed);
    if (c == &g_early && g_reporting.load(std::memory_order_relaxed))
        sweepEarly();
}

/// Inside enter(). The block is counted; it may be sampled, the thread may need setting up or folding.
__attribute__((noinline)) void slowAlloc(ThreadState& t, void* p, size_t usable) noexcept
{
    const std::int64_t cost = std::int64_t(usable);
    if (!t.initialized) {
        initThread(t);
        t.countdown -= cost;
        t.budget -= cost + OpCost;
    }
    const std::uint32_t epoch = g_epoch.load(std::memory_order_relaxed);
    if (t.epoch != epoch) { // sampling started or stopped since this countdown was drawn
        t.epoch = epoch;
        t.countdown = drawCountdown(t) - cost;
    }
    if (t.countdown < 0) {
        sample(t, p, usable);
        t.countdown = drawCountdown(t);
    }
    if (t.budget < 0) {
        keyThread(t);
        fold(t);
    }
}

/// Inside enter(). The block is counted; the thread may need setting up or folding.
__attribute__((noinline)) void slowFree(ThreadState& t) noexcept
{
    if (!t.initialized) {
        const std::int64_t pendingCost = std::int64_t(t.freedBytes) + OpCost;
        initThread(t);
        t.budget -= pendingCost;
    }
    if (t.budget < 0) {
        keyThread(t);
        fold(t);
    }
}

/// The counting of an allocation on the thread's own state; whether a fold or a sample is due.
inline bool addAlloc(ThreadState& t, size_t usable) noexcept
{
    addTo(t.allocBytes, usable);
    addTo(t.allocs, 1);
    const bool sampleDue = subBelowZero(t.countdown, std::int64_t(usable));
    return subBelowZero(t.budget, std::int64_t(usable) + OpCost) || sampleDue;
}

/// Not nested: counts a block allocated on this thread.
inline void countAlloc(ThreadState& t, void* p, size_t usable) noexcept
{
    if (!SignalAtomicUpdates)
        enter(t);
    const bool due = addAlloc(t, usable);
    if (PD_UNLIKELY(due)) {
        enter(t);
        slowAlloc(t, p, usable);
    }
    if (!SignalAtomicUpdates || PD_UNLIKELY(due))
        leave(t);
}

/// Not nested: counts a block freed on this thread.
inline void countFree(ThreadState& t, size_t usable) noexcept
{
    if (!SignalAtomicUpdates)
        enter(t);
    addTo(t.freedBytes, usable);
    addTo(t.frees, 1);
    const bool due = subBelowZero(t.budget, std::int64_t(usable) + OpCost);
    if (PD_UNLIKELY(due)) {
        enter(t);
        slowFree(t);
    }
    if (!SignalAtomicUpdates || PD_UNLIKELY(due))
        leave(t);
}

/// Every allocating hook: @p real calls the next allocator; @p arena serves the bootstrap.
template <class Real, class Arena> __attribute__((always_inline)) inline void* allocate(Real real, Arena arena) noexcept
{
    std::uint8_t mode = g_mode.load(std::memory_order_acquire);
    if (PD_UNLIKELY(mode == ModeUnready)) {
        if (!resolve())
            return arena();
        mode = g_mode.load(std::memory_order_acquire);
    }
    void* p = real();
    if (PD_UNLIKELY(p == nullptr))
        return p;
    ThreadState& t = t_state;
    if (PD_UNLIKELY(t.busy))
        return nestedAlloc(p);
    countAlloc(t, p, usableOf(p, mode));
    return p;
}

/// Every free but the fast path's: any allocator, nested, a sampled block maybe, the bootstrap.
__attribute__((noinline)) void releaseSlow(void* p) noexcept
{
    if (p == nullptr || inArena(p))
        return;
    std::uint8_t mode = g_mode.load(std::memory_order_acquire);
    if (mode == ModeUnready) {
        if (!resolve())
            return; // cannot be ours to free: nothing but the arena was handed out yet
        mode = g_mode.load(std::memory_order_acquire);
    }
    ThreadState& t = t_state;
    const size_t usable = usableOf(p, mode);
    // A sampled block leaves the set before the next allocator may hand its address out again.
    if (PD_UNLIKELY(g_set.mayContain(reinterpret_cast<std::uintptr_t>(p))))
        forgetSampled(t.tid, p, usable);
    if (PD_UNLIKELY(t.busy))
        nestedFreed(usable); // a sampled block freed by a signal handler or the unwinder is still reported
    else
        countFree(t, usable);
    g_next.free(p);
}

/// The fast path's fold: the block is counted.
__attribute__((noinline)) void foldAndRelease(void* p) noexcept
{
    ThreadState& t = t_state;
    enter(t);
    slowFree(t);
    leave(t);
    g_next.free(p);
}

/// The fast path's sample or fold: the block is counted.
__attribute__((noinline)) void* slowAllocFast(void* p, size_t usable) noexcept
{
    ThreadState& t = t_state;
    enter(t);
    slowAlloc(t, p, usable);
    leave(t);
    return p;
}

/**
 * The fast paths of malloc, calloc and free, for glibc (the mode where sizes are read inline):
 * the usual case (not nested, no sample or fold due, no sampled block to look for) calls nothing
 * but the next allocator; anything else leaves through a tail call, so that they need no frame.
 */
template <class Real, class Generic>
__attribute__((always_inline)) inline void* allocateFast(Real real, Generic generic) noexcept
{
    if (PD_UNLIKELY(g_mode.load(std::memory_order_acquire) != ModeGlibc))
        return generic();
    void* p = real();
    ThreadState& t = t_state;
    if (PD_UNLIKELY(p == nullptr || t.busy))
        return p ? nestedAlloc(p) : p;
    const size_t usable = glibcUsable(p);
    if (!SignalAtomicUpdates)
        enter(t);
    const bool due = addAlloc(t, usable);
    if (!SignalAtomicUpdates)
        leave(t);
    if (PD_UNLIKELY(due))
        return slowAllocFast(p, usable);
    return p;
}

__attribute__((always_inline)) inline void releaseFast(void* p) noexcept
{
    if (PD_UNLIKELY(p == nullptr || inArena(p) || g_mode.load(std::memory_order_acquire) != ModeGlibc))
        return releaseSlow(p);
    ThreadState& t = t_state;
    if (PD_UNLIKELY(t.busy || g_set.mayContain(reinterpret_cast<std::uintptr_t>(p))))
        return releaseSlow(p);
    const size_t usable = glibcUsable(p);
    if (!SignalAtomicUpdates)
        enter(t);
    addTo(t.freedBytes, usable);
    addTo(t.frees, 1);
    const bool due = subBelowZero(t.budget, std::int64_t(usable) + OpCost);
    if (!SignalAtomicUpdates)
        leave(t);
    if (PD_UNLIKELY(due))
        return foldAndRelease(p);
    g_next.free(p);
}

__attribute__((noinline)) void* mallocGeneric(size_t n) noexcept
{
    return allocate([n] { return g_next.malloc(n); }, [n] { return arenaAlloc(n, 16); });
}

__attribute__((noinline)) void* callocGeneric(size_t count, size_t size) noexcept
{
    return allocate([count, size] { return g_next.calloc(count, size); },
        [count, size]() -> void* {
            size_t bytes;
            if (__builtin_mul_overflow(count, size, &bytes)) {
                errno = ENOMEM;
                return nullptr;
            }
            return arenaAlloc(bytes, 16); // never used before: zero
        });
}

void* reallocate(void* old, size_t n) noexcept
{
    if (old == nullptr)
        return allocate([n] { return g_next.malloc(n); }, [n] { return arenaAlloc(n, 16); });
    if (PD_UNLIKELY(inArena(old))) { // a block from the bootstrap: move it out (it stays where it is)
        const size_t oldSize = arenaSize(old);
        void* p = allocate([n] { return g_next.malloc(n ? n : 1); }, [n] { return arenaAlloc(n, 16); });
        if (p)
            __builtin_memcpy(p, old, oldSize < n ? oldSize : n);
        return p;
    }
    std::uint8_t mode = g_mode.load(std::memory_order_acquire);
    if (PD_UNLIKELY(mode == ModeUnready)) {
        if (!resolve()) {
            errno = ENOMEM;
            return nullptr;
        }
        mode = g_mode.load(std::memory_order_acquire);
    }
    ThreadState& t = t_state;
    const size_t oldUsable = usableOf(old, mode);
    // realloc is free(old) + malloc(new). The old block's Free record goes first, before its
    // address can be reused by another thread.
    const bool sampled
        = g_set.mayContain(reinterpret_cast<std::uintptr_t>(old)) && forgetSampled(t.tid, old, oldUsable);
    void* p = g_next.realloc(old, n);
    if (p == nullptr && n != 0) { // failed: the old block lives on, but its Free record is out
        if (sampled)
            g_header->untracked.fetch_add(1, std::memory_order_relaxed);
        return p;
    }
    // (realloc(old, 0) that returns null freed old: glibc's behaviour.)
    if (PD_UNLIKELY(t.busy)) {
        nestedFreed(oldUsable);
        return nestedAlloc(p);
    }
    countFree(t, oldUsable);
    if (p)
        countAlloc(t, p, usableOf(p, mode));
    return p;
}

// ---- life cycle -------------------------------------------------------------------------------

extern "C" const ElfW(Ehdr) __ehdr_start __attribute__((visibility("hidden")));

void findOwnText() noexcept
{
    const auto* ehdr = &__ehdr_start;
    const auto* base = reinterpret_cast<const char*>(ehdr);
    const auto* phdr = reinterpret_cast<const ElfW(Phdr)*>(base + ehdr->e_phoff);
    std::uintptr_t bias = 0;
    bool haveBias = false;
    for (int i = 0; i < ehdr->e_phnum; ++i) {
        if (phdr[i].p_type == PT_LOAD && phdr[i].p_offset == 0) {
            bias = std::uintptr_t(base) - phdr[i].p_vaddr;
            haveBias = true;
            break;
        }
    }
    if (!haveBias)
        return;
    for (int i = 0; i < ehdr->e_phnum; ++i) {
        if (phdr[i].p_type != PT_LOAD || !(phdr[i].p_flags & PF_X))
            continue;
        const std::uintptr_t begin = bias + phdr[i].p_vaddr, end = begin + phdr[i].p_memsz;
        if (g_textBegin == 0 || begin < g_textBegin)
            g_textBegin = begin;
        if (end > g_textEnd)
            g_textEnd = end;
    }
}

std::uint64_t parseBytes(const char* text) noexcept
{
    if (!text || !*text)
        return 0;
    std::uint64_t v = 0;
    for (; *text; ++text) {
        if (*text < '0' || *text > '9' || v > (~std::uint64_t(0) - 9) / 10)
            return 0;
        v = v * 10 + std::uint64_t(*text - '0');
    }
    return v;
}

/// Whether the program's malloc is someone else's (the executable defines one: our hooks never
/// run): the definition "malloc" resolves to is not in this library. A non-PIE executable that
/// takes malloc's address (python3, for one) has an undefined "malloc" whose value is its PLT
/// entry (a canonical PLT): dlsym and dladdr both answer with that; only a real definition counts.
bool programHasOwnMalloc() noexcept
{
    void* global = dlsym(RTLD_DEFAULT, "malloc");
    Dl_info info {};
#ifdef __GLIBC__
    void* entry = nullptr; // an ElfW(Sym)*
    if (!global || !dladdr1(global, &info, &entry, RTLD_DL_SYMENT))
        return false;
    if (info.dli_fbase == static_cast<const void*>(&__ehdr_start))
        return false; // ours
    const auto* symbol = static_cast<const ElfW(Sym)*>(entry);
    return symbol && symbol->st_shndx != SHN_UNDEF && info.dli_saddr == global
        && __builtin_strcmp(info.dli_sname, "malloc") == 0;
#else
    if (!global || !dladdr(global, &info))
        return false;
    if (info.dli_fbase == static_cast<const void*>(&__ehdr_start))
        return false; // ours
    return info.dli_sname && info.dli_saddr == global && __builtin_strcmp(info.dli_sname, "malloc") == 0;
#endif
}

void writeAllocatorName(hw::Header* h) noexcept
{
    char name[hw::AllocatorNameBytes] = {};
    void* next;
    __builtin_memcpy(&next, &g_next.malloc, sizeof next);
    Dl_info info {};
    const char* file = (dladdr(next, &info) && info.dli_fname && *info.dli_fname) ? info.dli_fname : "unknown";
    const char* slash = __builtin_strrchr(file, '/');
    const char* base = slash ? slash + 1 : file;
    for (size_t i = 0; i + 1 < sizeof name && base[i]; ++i)
        name[i] = base[i];
    __builtin_memcpy(h->allocator, name, sizeof name);
}

/// The previous image of this process (before its exec) left the channel: its heap is gone, all
/// of it (the counters say so, and a Reset record tells the reader to forget its samples), and its
/// threads vanished, maybe in the middle of a record: such a slot is published as abandoned, or
/// the reader would wait for it forever. Nothing else writes the ring now.
void forgetPreviousImage(hw::Header* h) noexcept
{
    hw::Counters& c = h->counters;
    c.freedBytes.store(c.allocatedBytes.load(std::memory_order_relaxed), std::memory_order_relaxed);
    c.frees.store(c.allocations.load(std::memory_order_relaxed), std::memory_order_relaxed);
    const std::uint64_t head = h->head.load(std::memory_order_acquire);
    const std::uint64_t tail = h->tail.load(std::memory_order_acquire);
    const std::uint64_t slots = std::uint64_t(g_slotMask) + 1;
    for (std::uint64_t pos = head - tail > slots ? head - slots : tail; pos < head; ++pos) {
        hw::Slot* slot = hw::slotAt(g_base, std::uint32_t(pos & g_slotMask));
        if (slot->seq.load(std::memory_order_acquire) == pos) {
            slot->type = hw::SlotAbandoned;
            slot->depth = 0;
            slot->seq.store(pos + 1, std::memory_order_release);
        }
    }
    if (!push(hw::SlotReset, t_state.tid, 0, 0, nullptr, 0, 0))
        h->droppedFrees.fetch_add(1, std::memory_order_relaxed); // the old samples will look live
}

/// Maps the channel and claims it; quietly stays a pass-through when anything is off.
void openChannel(bool ownAllocator) noexcept
{
    const char* path = getenv(hw::ShmEnv);
    if (!path || !*path)
        return;
    const int fd = ::open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid()
        || st.st_size < off_t(hw::fileBytes(hw::MinRingSlots)) || st.st_size > off_t(hw::fileBytes(hw::MaxRingSlots))) {
        ::close(fd);
        return;
    }
    const size_t bytes = size_t(st.st_size);
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (base == MAP_FAILED)
        return;
    auto* h = static_cast<hw::Header*>(base);
    if (h->magic != hw::Magic || h->version != hw::Version || h->headerBytes != hw::HeaderBytes
        || h->slotBytes != hw::SlotBytes || h->maxFrames != hw::MaxFrames || !hw::validRingSlots(h->ringSlots)
        || h->totalBytes != hw::fileBytes(h->ringSlots) || h->totalBytes != bytes) {
        ::munmap(base, bytes);
        return;
    }
    const auto self = std::uint32_t(::getpid());
    std::uint32_t owner = 0;
    bool takeover = false;
    if (!h->ownerPid.compare_exchange_strong(owner, self)) {
        if (owner != self) { // another process reports (we are an exec'd descendant): a pass-through
            ::munmap(base, bytes);
            return;
        }
        takeover = true; // the owner exec'd (a wrapper script's "exec prog"): this image reports now
    }
    std::uint64_t mean = parseBytes(getenv(hw::SampleEnv));
    if (mean == 0)
        mean = h->sampleMean.load(std::memory_order_relaxed);
    if (mean == 0)
        mean = hw::DefaultSampleMean;
    h->sampleMean.store(mean, std::memory_order_relaxed);
    writeAllocatorName(h);
    g_header = h;
    g_base = base;
    g_slotMask = h->ringSlots - 1;
    if (takeover)
        forgetPreviousImage(h);
    g_mean.store(mean, std::memory_order_relaxed);
    g_target.store(&h->counters, std::memory_order_release);
    sweepEarly();
    std::uint32_t status = hw::Reporting;
    if (ownAllocator)
        status |= hw::OwnAllocator;
    if (g_arenaExhausted.load(std::memory_order_relaxed))
        status |= hw::BootstrapExhausted;
    h->status.store(status, std::memory_order_release);
    g_reporting.store(true, std::memory_order_release);
    g_epoch.fetch_add(1, std::memory_order_relaxed);
}

/// The child of fork() reports nothing: the channel is its parent's. It keeps the mapping (a
/// handler interrupted inside our code would still write to it) and keeps counting, privately.
void atForkChild() noexcept
{
    g_reporting.store(false, std::memory_order_relaxed);
    g_target.store(&g_early, std::memory_order_relaxed);
    g_early.allocatedBytes.store(0, std::memory_order_relaxed);
    g_early.allocations.store(0, std::memory_order_relaxed);
    g_early.freedBytes.store(0, std::memory_order_relaxed);
    g_early.frees.store(0, std::memory_order_relaxed);
    g_mean.store(0, std::memory_order_relaxed);
    g_epoch.fetch_add(1, std::memory_order_relaxed);
    g_set.forgetAll();
    g_liveThreads.store(0, std::memory_order_relaxed);
    ThreadState& t = t_state;
    t.tid = std::uint32_t(syscall(SYS_gettid));
    t.countdown = Never;
    if (t.keyed)
        g_liveThreads.store(1, std::memory_order_relaxed);
}

/// The reporting process started a child process (fork, posix_spawn): the channel counts it, so that
/// the dashboard can say that the child's heap is not tracked (the child reports nothing).
void childStarted() noexcept
{
    if (g_reporting.load(std::memory_order_acquire))
        g_header->children.fetch_add(1, std::memory_order_relaxed);
}

void atForkParent() noexcept
{
    childStarted();
}

/// Whether the LD_PRELOAD value @p list (names separated by spaces or colons) names this library.
bool listsThisLibrary(const char* list) noexcept
{
    const size_t selfLength = __builtin_strlen(g_selfName);
    if (selfLength == 0)
        return false;
    while (*list) {
        while (*list == ' ' || *list == ':')
            ++list;
        const char* end = list;
        while (*end && *end != ' ' && *end != ':')
            ++end;
        const char* base = list;
        for (const char* c = list; c < end; ++c) {
            if (*c == '/')
                base = c + 1;
        }
        if (size_t(end - base) == selfLength && __builtin_memcmp(base, g_selfName, selfLength) == 0)
            return true;
        list = end;
    }
    return false;
}

/// Whether a new image started with @p envp loads this library and finds the channel: LD_PRELOAD
/// names it and PERFDASH_HEAP_SHM is set.
bool environmentKeepsPreload(char* const* envp) noexcept
{
    if (!envp)
        return false;
    const size_t shmLength = __builtin_strlen(hw::ShmEnv);
    bool preload = false, channel = false;
    for (; *envp; ++envp) {
        const char* entry = *envp;
        if (__builtin_strncmp(entry, "LD_PRELOAD=", 11) == 0)
            preload = listsThisLibrary(entry + 11);
        else if (__builtin_strncmp(entry, hw::ShmEnv, shmLength) == 0 && entry[shmLength] == '='
            && entry[shmLength + 1] != '\0')
            channel = true;
    }
    return preload && channel;
}

/// The reporting process is about to exec @p path: the channel says so (Exec, and
/// ExecWithoutPreload when @p envp drops the preload), so that the dashboard can tell that the
/// new image's heap is not tracked when it never takes the channel over.
void beforeExec(const char* path, char* const* envp) noexcept
{
    if (!g_reporting.load(std::memory_order_acquire))
        return;
    hw::Header* h = g_header;
    const std::uint32_t self = std::uint32_t(::getpid());
    if (self != h->ownerPid.load(std::memory_order_relaxed)) {
        // The child of a vfork (a shell's, dash's, Python's subprocess): it shares this memory, no
        // fork handler ran in it; it is a child process, and the program it execs finds the
        // channel taken. Counted once however many execs it tries (a search along PATH).
        static std::atomic<std::uint32_t> lastCounted { 0 };
        if (lastCounted.exchange(self, std::memory_order_relaxed) != self)
            h->children.fetch_add(1, std::memory_order_relaxed);
        return;
    }
    char copy[hw::ExecPathBytes] = {};
    for (size_t i = 0; path && i + 1 < sizeof copy && path[i]; ++i)
        copy[i] = path[i];
    __builtin_memcpy(h->execPath, copy, sizeof copy);
    const std::uint32_t bits = hw::Exec | (environmentKeepsPreload(envp) ? 0u : std::uint32_t(hw::ExecWithoutPreload));
    h->status.fetch_or(bits, std::memory_order_release);
}

/// The exec returned: it failed, this image goes on reporting.
void execFailed() noexcept
{
    if (g_reporting.load(std::memory_order_acquire)
        && std::uint32_t(::getpid()) == g_header->ownerPid.load(std::memory_order_relaxed))
        g_header->status.fetch_and(~std::uint32_t(hw::Exec | hw::ExecWithoutPreload), std::memory_order_release);
}

void findSelfName() noexcept
{
    Dl_info info {};
    if (!dladdr(reinterpret_cast<void*>(&findSelfName), &info) || !info.dli_fname)
        return;
    const char* slash = __builtin_strrchr(info.dli_fname, '/');
    const char* base = slash ? slash + 1 : info.dli_fname;
    for (size_t i = 0; i + 1 < sizeof g_selfName && base[i]; ++i)
        g_selfName[i] = base[i];
}

/// Whether glibcUsable() may stand for the next allocator's malloc_usable_size: the next malloc is
/// glibc's (in libc.so.*) and the two agree on blocks of every kind (small, large, mmapped,
/// aligned, reallocated). A glibc that tags memory (aarch64 MTE) or changes its chunks fails this,
/// and the function is called as everywhere else.
bool glibcChunksVerified() noexcept
{
#ifdef __GLIBC__
    void* next;
    __builtin_memcpy(&next, &g_next.malloc, sizeof next);
    Dl_info info {};
    if (!dladdr(next, &info) || !info.dli_fname)
        return false;
    const char* slash = __builtin_strrchr(info.dli_fname, '/');
    if (__builtin_strncmp(slash ? slash + 1 : info.dli_fname, "libc.so", 7) != 0)
        return false;
    static const size_t sizes[] = { 0, 1, 8, 24, 25, 40, 100, 1000, 4000, 70000, 140000, 1u << 20, 5u << 20 };
    bool agree = true;
    const auto check = [&agree](void* p) {
        if (p && glibcUsable(p) != g_next.usable(p))
            agree = false;
    };
    for (const size_t n : sizes) {
        void* blocks[4] = { g_next.malloc(n), g_next.calloc(1, n), g_next.memalign(64, n), g_next.memalign(4096, n) };
        for (void* p : blocks)
            check(p);
        if (void* grown = g_next.realloc(blocks[0], 2 * n + 10)) {
            check(grown);
            blocks[0] = grown;
        }
        for (void* p : blocks)
            g_next.free(p);
    }
    return agree;
#else
    return false;
#endif
}

_Unwind_Reason_Code warmFrame(_Unwind_Context*, void*)
{
    return _URC_NO_REASON;
}

void resolveExecFunctions() noexcept;

__attribute__((constructor)) void start() noexcept
{
    // Before any exec: its wrappers only read these (a vfork child must not run dlsym).
    resolveExecFunctions();
    if (!resolve())
        return; // cannot happen: the constructor runs once, on one thread, outside dlsym
    ThreadState& t = t_state;
    enter(t);
    if (!t.initialized)
        initThread(t);
    if (pthread_key_create(&g_key, threadExit) == 0)
        g_keyReady.store(true, std::memory_order_release);
    keyThread(t);
    pthread_atfork(nullptr, atForkParent, atForkChild);
    findOwnText();
    findSelfName();
    if (glibcChunksVerified())
        g_mode.store(ModeGlibc, std::memory_order_release);
    // The unwinder sets itself up at its first use (a pthread_once): do it now, not inside the
    // first sampled malloc, which may be in a signal handler.
    _Unwind_Backtrace(warmFrame, nullptr);
    const bool ownAllocator = programHasOwnMalloc();
    openChannel(ownAllocator);
    t.epoch = g_epoch.load(std::memory_order_relaxed);
    t.countdown = drawCountdown(t);
    leave(t);
}

__attribute__((destructor)) void finish() noexcept
{
    ThreadState& t = t_state;
    const unsigned char wasBusy = t.busy;
    enter(t);
    g_exited.store(true, std::memory_order_relaxed);
    fold(t);
    if (g_reporting.load(std::memory_order_acquire)) {
        const std::uint32_t live = g_liveThreads.load(std::memory_order_relaxed);
        g_header->threadsAtExit.store(live > 0 ? live - 1 : 0, std::memory_order_relaxed);
        g_header->status.fetch_or(hw::Exited, std::memory_order_release);
    }
    if (!wasBusy)
        leave(t);
}

} // namespace

// ---- the interposed functions -----------------------------------------------------------------

PD_EXPORT void* malloc(size_t n) PD_NOEXCEPT
{
    return allocateFast([n] { return g_next.malloc(n); }, [n] { return mallocGeneric(n); });
}

PD_EXPORT void free(void* p) PD_NOEXCEPT
{
    releaseFast(p);
}

PD_EXPORT void* calloc(size_t count, size_t size) PD_NOEXCEPT
{
    return allocateFast(
        [count, size] { return g_next.calloc(count, size); }, [count, size] { return callocGeneric(count, size); });
}

PD_EXPORT void* realloc(void* p, size_t n) PD_NOEXCEPT
{
    return reallocate(p, n);
}

PD_EXPORT void* reallocarray(void* p, size_t count, size_t size) PD_NOEXCEPT
{
    size_t bytes;
    if (__builtin_mul_overflow(count, size, &bytes)) {
        errno = ENOMEM;
        return nullptr;
    }
    return reallocate(p, bytes);
}

PD_EXPORT int posix_memalign(void** out, size_t alignment, size_t n) PD_NOEXCEPT
{
    int result = 0;
    void* p = allocate(
        [&] {
            void* q = nullptr;
            result = g_next.posixMemalign(&q, alignment, n);
            return result == 0 ? q : nullptr;
        },
        [&] {
            void* q = arenaAlloc(n, alignment);
            result = q ? 0 : ENOMEM;
            return q;
        });
    if (result == 0)
        *out = p;
    return result;
}

PD_EXPORT void* aligned_alloc(size_t alignment, size_t n) PD_NOEXCEPT
{
    return allocate([=] { return g_next.alignedAlloc(alignment, n); }, [=] { return arenaAlloc(n, alignment); });
}

PD_EXPORT void* memalign(size_t alignment, size_t n) PD_NOEXCEPT
{
    return allocate([=] { return g_next.memalign(alignment, n); }, [=] { return arenaAlloc(n, alignment); });
}

PD_EXPORT void* valloc(size_t n) PD_NOEXCEPT
{
    return allocate([n] { return g_next.valloc(n); }, [n] { return arenaAlloc(n, 4096); });
}

PD_EXPORT void* pvalloc(size_t n) PD_NOEXCEPT
{
    return allocate([n] { return g_next.pvalloc(n); }, [n] { return arenaAlloc((n + 4095) & ~size_t(4095), 4096); });
}

PD_EXPORT size_t malloc_usable_size(void* p) PD_NOEXCEPT
{
    if (p == nullptr)
        return 0;
    if (inArena(p))
        return arenaSize(p);
    const std::uint8_t mode = g_mode.load(std::memory_order_acquire);
    if (mode == ModeUnready && !resolve())
        return 0;
    return g_next.usable(p);
}

// ---- C++: operator new and delete -------------------------------------------------------------
// On top of the functions above, as libstdc++'s are, and called through the PLT (a program that
// defines its own malloc keeps getting C++'s allocations). Defined here because jemalloc and
// tcmalloc define their own, which would not go through malloc: C++'s allocations would not be
// counted. When an allocation fails, the next definition (libstdc++'s, or the allocator's) is
// called, as a tail call: it runs the new-handler and throws std::bad_alloc, which this library,
// built without exceptions, does not; no frame of ours is left for the exception to cross.

namespace {

using NewFn = void* (*)(std::size_t);
using AlignedNewFn = void* (*)(std::size_t, std::align_val_t);
using NothrowNewFn = void* (*)(std::size_t, const std::nothrow_t&);
using AlignedNothrowNewFn = void* (*)(std::size_t, std::align_val_t, const std::nothrow_t&);

template <class F> F nextOperator(std::atomic<F>& cache, const char* mangled) noexcept
{
    F f = cache.load(std::memory_order_acquire);
    if (!f) {
        f = nextSymbol<F>(mangled);
        if (!f)
            die("libperfdash_heap: operator new failed, and no other definition of it is loaded\n");
        cache.store(f, std::memory_order_release);
    }
    return f;
}

inline void* alignedBlock(std::size_t n, std::align_val_t alignment) noexcept
{
    void* p = nullptr;
    const std::size_t a = std::size_t(alignment) < sizeof(void*) ? sizeof(void*) : std::size_t(alignment);
    return ::posix_memalign(&p, a, n ? n : 1) == 0 ? p : nullptr;
}

// size_t is unsigned long ("m") on LP64, unsigned int ("j") elsewhere.
constexpr bool Lp64 = sizeof(std::size_t) == sizeof(unsigned long) && sizeof(unsigned long) == 8;

} // namespace

#define PD_CXX_EXPORT __attribute__((visibility("default")))

PD_CXX_EXPORT void* operator new(std::size_t n)
{
    if (void* p = ::malloc(n ? n : 1))
        return p;
    static std::atomic<NewFn> next;
    return nextOperator(next, Lp64 ? "_Znwm" : "_Znwj")(n);
}

PD_CXX_EXPORT void* operator new[](std::size_t n)
{
    if (void* p = ::malloc(n ? n : 1))
        return p;
    static std::atomic<NewFn> next;
    return nextOperator(next, Lp64 ? "_Znam" : "_Znaj")(n);
}

PD_CXX_EXPORT void* operator new(std::size_t n, const std::nothrow_t& tag) noexcept
{
    if (void* p = ::malloc(n ? n : 1))
        return p;
    static std::atomic<NothrowNewFn> next;
    return nextOperator(next, Lp64 ? "_ZnwmRKSt9nothrow_t" : "_ZnwjRKSt9nothrow_t")(n, tag);
}

PD_CXX_EXPORT void* operator new[](std::size_t n, const std::nothrow_t& tag) noexcept
{
    if (void* p = ::malloc(n ? n : 1))
        return p;
    static std::atomic<NothrowNewFn> next;
    return nextOperator(next, Lp64 ? "_ZnamRKSt9nothrow_t" : "_ZnajRKSt9nothrow_t")(n, tag);
}

PD_CXX_EXPORT void* operator new(std::size_t n, std::align_val_t alignment)
{
    if (void* p = alignedBlock(n, alignment))
        return p;
    static std::atomic<AlignedNewFn> next;
    return nextOperator(next, Lp64 ? "_ZnwmSt11align_val_t" : "_ZnwjSt11align_val_t")(n, alignment);
}

PD_CXX_EXPORT void* operator new[](std::size_t n, std::align_val_t alignment)
{
    if (void* p = alignedBlock(n, alignment))
        return p;
    static std::atomic<AlignedNewFn> next;
    return nextOperator(next, Lp64 ? "_ZnamSt11align_val_t" : "_ZnajSt11align_val_t")(n, alignment);
}

PD_CXX_EXPORT void* operator new(std::size_t n, std::align_val_t alignment, const std::nothrow_t& tag) noexcept
{
    if (void* p = alignedBlock(n, alignment))
        return p;
    static std::atomic<AlignedNothrowNewFn> next;
    return nextOperator(next, Lp64 ? "_ZnwmSt11align_val_tRKSt9nothrow_t" : "_ZnwjSt11align_val_tRKSt9nothrow_t")(
        n, alignment, tag);
}

PD_CXX_EXPORT void* operator new[](std::size_t n, std::align_val_t alignment, const std::nothrow_t& tag) noexcept
{
    if (void* p = alignedBlock(n, alignment))
        return p;
    static std::atomic<AlignedNothrowNewFn> next;
    return nextOperator(next, Lp64 ? "_ZnamSt11align_val_tRKSt9nothrow_t" : "_ZnajSt11align_val_tRKSt9nothrow_t")(
        n, alignment, tag);
}

// Every delete is free(): sizes and alignments are hints the next allocator's free does not need.
PD_CXX_EXPORT void operator delete(void* p) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete[](void* p) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete(void* p, std::size_t) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete[](void* p, std::size_t) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete(void* p, const std::nothrow_t&) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete[](void* p, const std::nothrow_t&) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete(void* p, std::align_val_t) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete[](void* p, std::align_val_t) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete(void* p, std::size_t, std::align_val_t) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete[](void* p, std::size_t, std::align_val_t) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    ::free(p);
}
PD_CXX_EXPORT void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept
{
    ::free(p);
}

// ---- exec and child processes ------------------------------------------------------------------
// The reporting process's execs say in the channel which program they start and whether its
// environment keeps the preload (a wrapper such as env or a shell may replace or clear
// LD_PRELOAD: the new image would not report, and the dashboard would show the wrapper's heap as
// the program's); its posix_spawn children are counted, as fork's are (atForkParent). Each calls
// the next definition; glibc's exec functions call its internal execve, not this one, so each is
// defined here.

namespace {

using ExecveFn = int (*)(const char*, char* const*, char* const*);
using ExecvFn = int (*)(const char*, char* const*);
using FexecveFn = int (*)(int, char* const*, char* const*);
using SpawnFn = int (*)(
    pid_t*, const char*, const posix_spawn_file_actions_t*, const posix_spawnattr_t*, char* const*, char* const*);

// The next definitions, looked up in the library's constructor (resolveExecFunctions()), so that
// an exec in a vfork child never runs dlsym (not async-signal-safe, and it would touch the
// parent's memory).
std::atomic<ExecveFn> g_nextExecve;
std::atomic<ExecveFn> g_nextExecvpe;
std::atomic<FexecveFn> g_nextFexecve;
std::atomic<SpawnFn> g_nextSpawn;
std::atomic<SpawnFn> g_nextSpawnp;

/// The next definition of @p name (looked up now if the constructor has not run yet: an exec from
/// another library's constructor); null (and errno ENOSYS) when there is none.
template <class F> F nextFunction(std::atomic<F>& cache, const char* name) noexcept
{
    F f = cache.load(std::memory_order_acquire);
    if (!f) {
        f = nextSymbol<F>(name);
        cache.store(f, std::memory_order_release);
    }
    if (!f)
        errno = ENOSYS;
    return f;
}

/// execve without a next definition: the system call itself.
int rawExecve(const char* path, char* const* argv, char* const* envp) noexcept
{
    return int(::syscall(SYS_execve, path, argv, envp));
}

/// Calls the next execve (or, with @p search, execvpe: a file looked for in PATH), said in the
/// channel before it, undone when it fails.
int execWith(bool search, const char* path, char* const* argv, char* const* envp) noexcept
{
    ExecveFn next = search ? nextFunction(g_nextExecvpe, "execvpe") : nextFunction(g_nextExecve, "execve");
    if (!next && !search)
        next = rawExecve; // the program keeps its exec whatever happens to the lookup
    if (!next)
        return -1;
    beforeExec(path, envp);
    const int result = next(path, argv, envp);
    execFailed();
    return result;
}

/// execl's arguments, @p first up to its null pointer, as an argv on the stack. Leaves the va_list
/// `args` after the null pointer (execle's envp follows it): the caller ends it.
#define PD_COLLECT_ARGS(first, argv)                                                                                   \
    va_list args;                                                                                                      \
    va_start(args, first);                                                                                             \
    size_t count = 1;                                                                                                  \
    while (va_arg(args, char*))                                                                                        \
        ++count;                                                                                                       \
    va_end(args);                                                                                                      \
    char** argv = static_cast<char**>(__builtin_alloca((count + 1) * sizeof(char*)));                                  \
    argv[0] = const_cast<char*>(first);                                                                                \
    va_start(args, first);                                                                                             \
    for (size_t i = 1; i <= count; ++i)                                                                                \
    argv[i] = va_arg(args, char*)

/// argv[0], or @p otherwise when there is none (Linux accepts a null argv; glibc's declaration
/// says it is never null, so it is tested here, in a function of its own).
const char* programName(char* const* argv, const char* otherwise) noexcept
{
    return argv && argv[0] ? argv[0] : otherwise;
}

void resolveExecFunctions() noexcept
{
    nextFunction(g_nextExecve, "execve");
    nextFunction(g_nextExecvpe, "execvpe");
    nextFunction(g_nextFexecve, "fexecve");
    nextFunction(g_nextSpawn, "posix_spawn");
    nextFunction(g_nextSpawnp, "posix_spawnp");
}

} // namespace

PD_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) PD_NOEXCEPT
{
    return execWith(false, path, argv, envp);
}

PD_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) PD_NOEXCEPT
{
    return execWith(true, file, argv, envp);
}

PD_EXPORT int execv(const char* path, char* const argv[]) PD_NOEXCEPT
{
    return execWith(false, path, argv, environ);
}

PD_EXPORT int execvp(const char* file, char* const argv[]) PD_NOEXCEPT
{
    return execWith(true, file, argv, environ);
}

PD_EXPORT int execl(const char* path, const char* arg, ...) PD_NOEXCEPT
{
    PD_COLLECT_ARGS(arg, argv);
    va_end(args);
    return execWith(false, path, argv, environ);
}

PD_EXPORT int execlp(const char* file, const char* arg, ...) PD_NOEXCEPT
{
    PD_COLLECT_ARGS(arg, argv);
    va_end(args);
    return execWith(true, file, argv, environ);
}

PD_EXPORT int execle(const char* path, const char* arg, ...) PD_NOEXCEPT
{
    PD_COLLECT_ARGS(arg, argv);
    char** envp = va_arg(args, char**);
    va_end(args);
    return execWith(false, path, argv, envp);
}

PD_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) PD_NOEXCEPT
{
    const FexecveFn f = nextFunction(g_nextFexecve, "fexecve");
    if (!f)
        return -1;
    beforeExec(programName(argv, "(a file descriptor)"), envp);
    const int result = f(fd, argv, envp);
    execFailed();
    return result;
}

PD_EXPORT int posix_spawn(pid_t* pid, const char* path, const posix_spawn_file_actions_t* actions,
    const posix_spawnattr_t* attributes, char* const argv[], char* const envp[])
{
    const SpawnFn f = nextFunction(g_nextSpawn, "posix_spawn");
    if (!f)
        return ENOSYS;
    const int result = f(pid, path, actions, attributes, argv, envp);
    if (result == 0)
        childStarted();
    return result;
}

PD_EXPORT int posix_spawnp(pid_t* pid, const char* file, const posix_spawn_file_actions_t* actions,
    const posix_spawnattr_t* attributes, char* const argv[], char* const envp[])
{
    const SpawnFn f = nextFunction(g_nextSpawnp, "posix_spawnp");
    if (!f)
        return ENOSYS;
    const int result = f(pid, file, actions, attributes, argv, envp);
    if (result == 0)
        childStarted();
    return result;
}
