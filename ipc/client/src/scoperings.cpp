// SPDX-License-Identifier: MIT
#include "scoperings.h"
#include "clock.h"
#include "flusher.h"
#include "ipc/client/wire/wire.h"
#include "nametable.h"
#include "threadstate.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#endif

namespace perfdash {

extern NameTable g_ops; // api.cpp

namespace tracing {
std::atomic<unsigned> g_mode { 0 };
} // namespace tracing

namespace {
constexpr std::uint64_t FreeAfterNs = 2'000'000'000; // a finished ring waits this long for the reader
constexpr std::uint64_t LocalRateAfterNs = 100'000'000; // anchors this far apart give the rate

/// The segment; trivially destructible, so that nothing of it goes away at exit while threads
/// may still write their rings.
struct Segment
{
    std::atomic<rings::Header*> header { nullptr };
    int fd = -1;
    std::uint64_t bytes = 0;
    std::uint32_t entries = 0;
    bool dontFork = false; // madvise(MADV_DONTFORK) took: a fork child does not even have it
    std::atomic<std::uint32_t> freed { 0 }; // rings given back so far
    // The flusher's.
    bool tracingWanted = false;
    std::uint64_t heapUsed = 0;
    std::uint64_t lastTicks = 0;
    std::uint64_t lastMono = 0;
    bool counterWas = false;
};
Segment g_segment;

rings::RingHeader* ringHeader(rings::Header* h, std::uint32_t i) noexcept
{
    return reinterpret_cast<rings::RingHeader*>(reinterpret_cast<char*>(h) + rings::ringHeaderOffset(i));
}

void updateMode() noexcept
{
    const bool counter = clock::g_state.ready.load(std::memory_order_acquire) != 0;
    tracing::g_mode.store((counter ? tracing::ModeCounter : 0u) | (g_segment.tracingWanted ? tracing::ModeTracing : 0u),
        std::memory_order_release);
}

std::uint64_t randomToken() noexcept
{
    std::uint64_t token = 0;
#if __has_include(<sys/random.h>)
    if (::getrandom(&token, sizeof token, GRND_NONBLOCK) == ssize_t(sizeof token) && token)
        return token;
#endif
    // Without getrandom(): unique enough to tell this segment from another file, which is all
    // the token is for (the dashboard's permission to open it is the kernel's business).
    token = clock::monotonicNs() ^ (std::uint64_t(::getpid()) << 32) ^ reinterpret_cast<std::uintptr_t>(&token);
    return token ? token : 1;
}

int makeMemfd() noexcept
{
#if defined(SYS_memfd_create) && defined(MFD_CLOEXEC) && defined(MFD_ALLOW_SEALING)
    return int(::syscall(SYS_memfd_create, "perfdash-scope-rings", MFD_CLOEXEC | MFD_ALLOW_SEALING));
#else
    errno = ENOSYS;
    return -1;
#endif
}

/// The segment, on the first PROFILE: a sparse memfd (only what threads write takes memory),
/// sealed so that it can never shrink under the dashboard's mapping (which would SIGBUS it).
bool createSegment(std::uint32_t entries, std::string& error)
{
    if (entries == 0)
        entries = rings::DefaultRingEntries;
    entries = std::clamp(entries, rings::MinRingEntries, rings::MaxRingEntries);
    if (entries & (entries - 1)) // a power of two: the index is a mask
        entries = std::uint32_t(1) << (32 - __builtin_clz(entries));
    const std::uint64_t bytes = rings::segmentBytes(entries);
    const int fd = makeMemfd();
    if (fd < 0) {
        error = std::string("memfd_create: ") + std::strerror(errno);
        return false;
    }
    if (::ftruncate(fd, off_t(bytes)) != 0) {
        error = std::string("ftruncate: ") + std::strerror(errno);
        ::close(fd);
        return false;
    }
#if defined(F_ADD_SEALS)
    ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
#endif
    void* base = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        error = std::string("mmap: ") + std::strerror(errno);
        ::close(fd);
        return false;
    }
    g_segment.dontFork = ::madvise(base, bytes, MADV_DONTFORK) == 0;
    auto* h = new (base) rings::Header {};
    h->magic = rings::Magic;
    h->layoutVersion = rings::LayoutVersion;
    h->ringEntries = entries;
    h->maxRings = rings::MaxRings;
    h->pid = std::uint32_t(::getpid());
    h->token = randomToken();
    h->segmentBytes = bytes;
    g_segment.fd = fd;
    g_segment.bytes = bytes;
    g_segment.entries = entries;
    g_segment.heapUsed = 0;
    g_segment.lastTicks = g_segment.lastMono = 0;
    g_segment.counterWas = false;
    g_segment.header.store(h, std::memory_order_release);
    return true;
}

/// Names of operations registered since the last call, into the segment (the reader names
/// the records' ids with them).
void publishNames(rings::Header* h) noexcept
{
    auto* entries = reinterpret_cast<rings::NameEntry*>(reinterpret_cast<char*>(h) + rings::NamesOffset);
    char* heap = reinterpret_cast<char*>(h) + rings::NamesHeapOffset;
    const std::uint32_t n = std::min(g_ops.size(), rings::MaxNames);
    for (std::uint32_t id = h->namesPublished.load(std::memory_order_relaxed); id < n; ++id) {
        const char* name = g_ops.name(id);
        const std::size_t length = std::min<std::size_t>(std::strlen(name), rings::MaxNameBytes);
        if (g_segment.heapUsed + length > rings::NamesHeapBytes) {
            entries[id].length.store(rings::NameUnavailable, std::memory_order_relaxed);
            h->namesDropped.fetch_add(1, std::memory_order_relaxed);
        } else {
            std::memcpy(heap + g_segment.heapUsed, name, length);
            entries[id].offset.store(std::uint32_t(g_segment.heapUsed), std::memory_order_relaxed);
            entries[id].length.store(std::uint32_t(length), std::memory_order_relaxed);
            g_segment.heapUsed += length;
        }
        h->namesPublished.store(id + 1, std::memory_order_release);
    }
}

/// A fresh anchor: the conversion then extrapolates over one interval at most, at the rate
/// measured over the last one (CLOCK_MONOTONIC's rate moves when NTP slews it).
void publishClock(rings::Header* h) noexcept
{
    rings::ClockBlock& c = h->clock;
    const bool counter = clock::g_state.ready.load(std::memory_order_acquire) != 0;
    const std::uint32_t s = c.clockSeq.load(std::memory_order_relaxed);
    if (counter) {
        std::uint64_t ticks, mono;
        clock::readPair(ticks, mono);
        std::uint64_t mult = clock::g_state.mult.load(std::memory_order_relaxed);
        if (g_segment.lastMono && mono >= g_segment.lastMono + LocalRateAfterNs && ticks > g_segment.lastTicks)
            mult = std::uint64_t((clock::u128(mono - g_segment.lastMono) << 32) / (ticks - g_segment.lastTicks));
        g_segment.lastTicks = ticks;
        g_segment.lastMono = mono;
        c.clockSeq.store(s + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        c.mult.store(mult, std::memory_order_relaxed);
        c.anchorTicks.store(ticks, std::memory_order_relaxed);
        c.anchorMono.store(mono, std::memory_order_relaxed);
        c.counterValid.store(1, std::memory_order_relaxed);
        c.anchors.store(c.anchors.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        c.counterDroppedMono.store(0, std::memory_order_relaxed);
        c.clockSeq.store(s + 2, std::memory_order_release);
    } else if (g_segment.counterWas) {
        // The kernel stopped trusting the counter: readings from now on are CLOCK_MONOTONIC, and
        // counter readings after this time are suspect. The last anchor still converts earlier ones.
        c.clockSeq.store(s + 1, std::memory_order_relaxed);
        std::atomic_thread_fence(std::memory_order_release);
        c.counterDroppedMono.store(clock::monotonicNs(), std::memory_order_relaxed);
        c.clockSeq.store(s + 2, std::memory_order_release);
    }
    g_segment.counterWas = counter;
}

/// Rings whose thread ended at least FreeAfterNs ago: their records go back to the system and
/// the ring to the free list.
void freeFinished(rings::Header* h) noexcept
{
    const std::uint64_t now = clock::monotonicNs();
    const std::uint32_t used = h->ringsUsed.load(std::memory_order_acquire);
    for (std::uint32_t i = 0; i < used; ++i) {
        rings::RingHeader* r = ringHeader(h, i);
        if (r->state.load(std::memory_order_acquire) != rings::Finished
            || now < r->finishedMono.load(std::memory_order_relaxed) + FreeAfterNs)
            continue;
        const std::uint64_t offset = rings::recordsOffset(g_segment.entries, i);
        const std::uint64_t length = rings::recordsBytes(g_segment.entries);
#if defined(FALLOC_FL_PUNCH_HOLE) && defined(FALLOC_FL_KEEP_SIZE)
        if (::fallocate(g_segment.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(offset), off_t(length)) != 0)
#endif
            ::madvise(reinterpret_cast<char*>(h) + offset, length, MADV_REMOVE);
        r->state.store(rings::Free, std::memory_order_release);
        g_segment.freed.fetch_add(1, std::memory_order_release);
    }
}

std::string ringsFrame(wire::RingsState state, const std::string& reason)
{
    std::string out;
    wire::Writer w(out);
    rings::Header* h = g_segment.header.load(std::memory_order_relaxed);
    w.begin(wire::Rings);
    w.u8(state);
    w.u32(std::uint32_t(h ? g_segment.fd : -1));
    w.u64(h ? h->token : 0);
    w.u64(h ? g_segment.bytes : 0);
    w.str(reason);
    w.end();
    return out;
}

void stop(rings::Header* h) noexcept
{
    g_segment.tracingWanted = false;
    updateMode();
    if (h && h->tracing.load(std::memory_order_relaxed)) {
        h->tracing.store(0, std::memory_order_release);
        h->sessionEndMono.store(clock::monotonicNs(), std::memory_order_release);
    }
}
} // namespace

bool claimRing(ThreadState* ts, std::uint32_t depthBefore) noexcept
{
    rings::Header* h = g_segment.header.load(std::memory_order_acquire);
    if (!h || !tracing::on())
        return false;
    const std::uint32_t freed = g_segment.freed.load(std::memory_order_acquire);
    if (ts->ringlessAt == freed + 1) // every ring was taken, and none was given back since
        return false;
    const std::uint32_t entries = h->ringEntries;
    for (std::uint32_t i = 0; i < rings::MaxRings; ++i) {
        rings::RingHeader* r = ringHeader(h, i);
        std::uint32_t expected = rings::Free;
        if (r->state.load(std::memory_order_relaxed) != rings::Free
            || !r->state.compare_exchange_strong(expected, rings::Live, std::memory_order_acq_rel))
            continue;
        r->tid.store(ts->tid, std::memory_order_relaxed);
        r->seqAtClaim.store(r->seq.load(std::memory_order_relaxed), std::memory_order_relaxed);
        r->claimMono.store(clock::monotonicNs(), std::memory_order_relaxed);
        r->finishedMono.store(0, std::memory_order_relaxed);
        r->depthAtClaim.store(depthBefore, std::memory_order_relaxed);
        r->generation.fetch_add(1, std::memory_order_release);
        std::uint32_t used = h->ringsUsed.load(std::memory_order_relaxed);
        while (used < i + 1 && !h->ringsUsed.compare_exchange_weak(used, i + 1, std::memory_order_release)) { }
        ts->traceRing = r;
        ts->traceRecords
            = reinterpret_cast<rings::Record*>(reinterpret_cast<char*>(h) + rings::recordsOffset(entries, i));
        ts->traceMask = entries - 1;
        return true;
    }
    ts->ringlessAt = freed + 1;
    h->ringless.fetch_add(1, std::memory_order_relaxed);
    return false;
}

void releaseRing(ThreadState* ts) noexcept
{
    if (rings::RingHeader* r = ts->traceRing) {
        r->finishedMono.store(clock::monotonicNs(), std::memory_order_relaxed);
        r->state.store(rings::Finished, std::memory_order_release);
    }
    ts->traceRing = nullptr;
    ts->traceRecords = nullptr;
}

void countUntraced() noexcept
{
    if (rings::Header* h = g_segment.header.load(std::memory_order_acquire))
        h->untracedScopes.fetch_add(1, std::memory_order_relaxed);
}

void countReentered() noexcept
{
    if (rings::Header* h = g_segment.header.load(std::memory_order_acquire))
        h->reentered.fetch_add(1, std::memory_order_relaxed);
}

void countLate() noexcept
{
    if (rings::Header* h = g_segment.header.load(std::memory_order_acquire))
        h->lateInstances.fetch_add(1, std::memory_order_relaxed);
}

std::string handleProfile(Global& g, bool start, std::uint32_t entries)
{
    (void)g;
    rings::Header* h = g_segment.header.load(std::memory_order_relaxed);
    if (!start) {
        stop(h);
        return ringsFrame(wire::RingsStopped, {});
    }
    std::string error;
    if (!h && !createSegment(entries, error)) {
        std::fprintf(stderr, "perfdash: cannot record operations for the profiler: %s\n", error.c_str());
        return ringsFrame(wire::RingsUnavailable, error);
    }
    h = g_segment.header.load(std::memory_order_relaxed);
    publishNames(h);
    publishClock(h);
    h->sessionEndMono.store(0, std::memory_order_relaxed);
    h->sessionStartMono.store(clock::monotonicNs(), std::memory_order_relaxed);
    h->tracing.store(1, std::memory_order_release);
    g_segment.tracingWanted = true;
    updateMode();
    return ringsFrame(wire::RingsReady, {});
}

void tracingCycle(Global& g) noexcept
{
    (void)g;
    rings::Header* h = g_segment.header.load(std::memory_order_relaxed);
    if (!h)
        return;
    if (g_segment.tracingWanted) {
        publishNames(h);
        publishClock(h);
    }
    freeFinished(h);
}

void clockChanged() noexcept
{
    updateMode();
    if (rings::Header* h = g_segment.header.load(std::memory_order_relaxed))
        publishClock(h);
}

void stopTracing() noexcept
{
    stop(g_segment.header.load(std::memory_order_relaxed));
}

void tracingAfterFork(ThreadState* self) noexcept
{
    if (rings::Header* h = g_segment.header.load(std::memory_order_relaxed)) {
        if (!g_segment.dontFork)
            ::munmap(h, g_segment.bytes);
        ::close(g_segment.fd);
    }
    g_segment.header.store(nullptr, std::memory_order_relaxed);
    g_segment.fd = -1;
    g_segment.tracingWanted = false;
    updateMode();
    if (self) {
        self->traceRing = nullptr;
        self->traceRecords = nullptr;
        self->ringlessAt = 0;
    }
}

} // namespace perfdash
