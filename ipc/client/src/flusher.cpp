// SPDX-License-Identifier: MIT
// The flusher: collects what the threads recorded into frames, and keeps the connection.
#include "flusher.h"
#include "ipc/client/wire/wire.h"
#include "metrics.h"
#include "nametable.h"
#include "scoperings.h"
#include "settings.h"
#include "threadstate.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define PERFDASH_HAVE_MALLINFO2 1
#endif

namespace perfdash {

extern NameTable g_ops; // api.cpp

namespace {
constexpr auto Interval = std::chrono::milliseconds(500);
constexpr std::uint64_t HeapEveryMs = 10'000; // mallinfo2 walks the heap: rarely, and only when asked
constexpr std::uint64_t NoHeap = ~std::uint64_t(0); // the MEMORY frame's "not reported" (-1)

std::uint64_t nowMs() noexcept
{
    return clock::monotonicNs() / 1'000'000;
}
std::uint64_t toWall(const Global& g, std::uint64_t mono) noexcept
{
    return g.originWall + (mono - g.originMono);
}

std::uint64_t residentBytes()
{
    char buffer[128];
    const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    const ssize_t n = ::read(fd, buffer, sizeof buffer - 1);
    ::close(fd);
    if (n <= 0)
        return 0;
    buffer[n] = '\0';
    unsigned long long pages = 0, resident = 0;
    if (std::sscanf(buffer, "%llu %llu", &pages, &resident) != 2)
        return 0;
    return std::uint64_t(resident) * std::uint64_t(sysconf(_SC_PAGESIZE));
}

std::uint64_t heapBytes(Global& g)
{
#ifdef PERFDASH_HAVE_MALLINFO2
    if (!g.heap)
        return NoHeap;
    const std::uint64_t now = nowMs();
    if (now >= g.nextHeapMs) {
        const struct mallinfo2 info = mallinfo2();
        g.lastHeap = info.uordblks + info.hblkhd;
        g.nextHeapMs = now + HeapEveryMs;
    }
    return g.lastHeap;
#else
    (void)g;
    return NoHeap;
#endif
}

void defineOps(Global& g, std::string& out)
{
    wire::Writer w(out);
    const std::uint32_t n = g_ops.size();
    for (; g.definedOps < n; ++g.definedOps) {
        const char* name = g_ops.name(g.definedOps);
        w.begin(wire::DefineOp);
        w.u32(g.definedOps);
        w.str(name, std::strlen(name));
        w.end();
    }
}

struct Delta
{
    std::uint64_t errors = 0, sum = 0, min = ~std::uint64_t(0), max = 0;
    std::vector<std::uint64_t> counts = std::vector<std::uint64_t>(wire::BucketCount + 1); // zero between ops
    std::vector<int> touched; // the non-zero entries of counts
};

/// A thread's pending operation (threadstate.h) as read at the start of a harvest: counted
/// ahead when the thread did not move while its slot was read, so that a thread that went
/// still after its last scope does not keep that operation from the dashboard.
struct Pending
{
    ThreadState* ts = nullptr;
    std::uint32_t seq = 1; // odd: nothing to count ahead
    std::atomic<std::uint32_t>* bucket = nullptr;
    OpSlot* slot = nullptr;
    std::uint64_t ns = 0;
};

Pending pendingOf(ThreadState* ts)
{
    Pending p;
    p.ts = ts;
    const std::uint32_t seq = ts->seq.load(std::memory_order_acquire);
    if ((seq & 1) || seq == ts->countedAhead)
        return p; // in a window, or counted ahead already
    p.bucket = ts->pendingBucket.load(std::memory_order_relaxed);
    p.slot = ts->pendingSlot.load(std::memory_order_relaxed);
    p.ns = ts->pendingNs.load(std::memory_order_relaxed);
    if (p.bucket && p.slot && !(p.ns & CountedAhead))
        p.seq = seq;
    return p;
}

void touch(Delta& d, int index, std::uint64_t n)
{
    if (d.counts[std::size_t(index)] == 0)
        d.touched.push_back(index);
    d.counts[std::size_t(index)] += n;
}

/// Counts @p pending's operation into @p d if its thread has not moved since pendingOf() (so
/// that the buckets just read do not hold it); the fold later brings the slot to what was sent.
bool countAhead(OpSlot* slot, Delta& d, Pending& pending)
{
    std::atomic_thread_fence(std::memory_order_acquire);
    if (pending.ts->seq.load(std::memory_order_relaxed) != pending.seq)
        return false;
    for (int p = 0; p < BucketPages; ++p) {
        BucketPage* page = slot->pages[p].load(std::memory_order_acquire);
        if (!page || pending.bucket < page->counts || pending.bucket >= page->counts + 64)
            continue;
        const auto i = int(pending.bucket - page->counts);
        touch(d, p * 64 + i, 1);
        page->sent[i] += 1;
        slot->sentSum += pending.ns;
        d.sum += pending.ns;
        d.min = std::min(d.min, pending.ns);
        d.max = std::max(d.max, pending.ns);
        pending.ts->countedAhead = pending.seq;
        // The fold need not bring its extremes again (a lost race only repeats them).
        std::uint64_t ns = pending.ns;
        pending.ts->pendingNs.compare_exchange_strong(ns, ns | CountedAhead, std::memory_order_relaxed);
        return true;
    }
    return false;
}

/// Adds what one slot gained since the last harvest to @p d; false when nothing.
bool collect(OpSlot* slot, Delta& d, Pending* pending)
{
    const std::uint64_t count = slot->count.load(std::memory_order_acquire);
    const bool ahead = pending && pending->slot == slot && !(pending->seq & 1);
    if (count == slot->sentCount && !ahead)
        return false; // not touched: the flusher's work follows what changed
    slot->sentCount = count;
    const std::uint64_t errors = slot->errors.load(std::memory_order_acquire);
    bool any = false;
    for (int p = 0; p < BucketPages; ++p) {
        BucketPage* page = slot->pages[p].load(std::memory_order_acquire);
        if (!page)
            continue;
        for (int i = 0; i < 64; ++i) {
            const std::uint32_t now = page->counts[i].load(std::memory_order_relaxed);
            // One below what was sent: the operation counted ahead, not folded in yet.
            if (now != page->sent[i] && std::uint32_t(page->sent[i] - now) != 1) {
                touch(d, p * 64 + i, std::uint32_t(now - page->sent[i]));
                page->sent[i] = now;
                any = true;
            }
        }
    }
    if (ahead)
        any |= countAhead(slot, d, *pending);
    if (!any)
        return false;
    const std::uint64_t sum = slot->sum.load(std::memory_order_relaxed);
    if (sum - slot->sentSum < (std::uint64_t(1) << 63)) { // else the one counted ahead is still to come
        d.sum += sum - slot->sentSum;
        slot->sentSum = sum;
    }
    d.errors += errors - slot->sentErrors;
    slot->sentErrors = errors;
    d.min = std::min(d.min, slot->min.exchange(~std::uint64_t(0), std::memory_order_relaxed));
    d.max = std::max(d.max, slot->max.exchange(0, std::memory_order_relaxed));
    return true;
}

void writeHistogram(wire::Writer& w, OpId op, std::uint64_t endWall, Delta& d)
{
    std::sort(d.touched.begin(), d.touched.end());
    const std::uint64_t overflow = d.counts[wire::BucketCount];
    w.begin(wire::Histogram);
    w.u32(op);
    w.u64(endWall);
    w.u64(d.errors);
    w.u64(d.sum);
    w.u64(d.min);
    w.u64(d.max);
    w.u64(overflow);
    std::uint32_t n = 0;
    for (const int i : d.touched)
        n += i < wire::BucketCount ? std::uint32_t((d.counts[std::size_t(i)] + 0xfffffffeull) / 0xffffffffull) : 0;
    w.u32(n);
    for (const int i : d.touched) {
        if (i == wire::BucketCount)
            continue;
        for (std::uint64_t left = d.counts[std::size_t(i)]; left > 0;) { // a count over 2^32 goes as several entries
            const auto part = std::uint32_t(std::min<std::uint64_t>(left, 0xffffffffu));
            w.u16(std::uint16_t(i));
            w.u32(part);
            left -= part;
        }
    }
    w.end();
    for (const int i : d.touched)
        d.counts[std::size_t(i)] = 0;
    d.touched.clear();
    d.errors = d.sum = d.max = 0;
    d.min = ~std::uint64_t(0);
}

void writeEvent(Global& g, wire::Writer& w, std::string& out, const ThreadState* ts, RawEvent& e)
{
    const std::uint64_t endMono = clock::toMonotonic(e.end, e.clock);
    const std::size_t start = out.size();
    w.begin(wire::Event);
    w.u32(e.op);
    w.u64(toWall(g, endMono) - e.durationNs);
    w.u64(e.durationNs);
    w.u8(e.ok ? 1 : 0);
    w.u64(ts->tid);
    const std::size_t count = e.meta ? std::min<std::size_t>(e.meta->size(), 64) : 0;
    const std::size_t countAt = out.size();
    w.u16(0); // patched: the pairs that fit
    std::uint16_t n = 0;
    for (std::size_t i = 0; i < count; ++i) {
        const auto& [key, value] = (*e.meta)[i];
        const std::size_t need
            = 8 + std::min<std::size_t>(key.size(), 65536) + std::min<std::size_t>(value.size(), 65536);
        // A frame over the wire limit would cost the connection and the whole interval: the
        // pairs that do not fit are left out, and counted.
        if (out.size() - start + need > wire::MaxFrame - 4)
            continue;
        w.str(key);
        w.str(value);
        ++n;
    }
    if (e.meta)
        g.truncatedMeta.fetch_add(e.meta->size() - n, std::memory_order_relaxed);
    out[countAt] = char(n & 0xff);
    out[countAt + 1] = char(n >> 8);
    w.end();
    delete e.meta;
    e.meta = nullptr;
}

/// Collects what the threads recorded since the last call into frames.
std::string harvest(Global& g, bool withMemory)
{
    std::string out;
    wire::Writer w(out);
    std::vector<ThreadState*> states;
    Threads& all = threads();
    {
        std::lock_guard lock(all.mutex);
        states = all.list;
    }
    const std::uint64_t endWall = clock::wallNs();
    std::uint64_t droppedEvents = all.deadDroppedEvents.load(std::memory_order_relaxed);
    std::uint64_t droppedOperations = all.deadDroppedOperations.load(std::memory_order_relaxed);
    // Read before their slots: a thread seen dead has written its last data already.
    std::vector<char> wasAlive;
    std::vector<Pending> pending;
    for (ThreadState* ts : states) {
        wasAlive.push_back(ts->alive.load(std::memory_order_acquire) ? 1 : 0);
        pending.push_back(pendingOf(ts));
    }
    // Operation by operation, every thread's slot summed into one frame.
    // The flusher's scratch, kept between cycles; never destroyed, as the client is not (a
    // static's destructor would run at exit before the exit handler stops this thread).
    static Delta& d = *new Delta;
    std::vector<OpPage*> pages(states.size());
    for (int p = 0; p < OpPages; ++p) {
        bool anyPage = false;
        for (std::size_t t = 0; t < states.size(); ++t)
            anyPage |= (pages[t] = states[t]->ops[p].load(std::memory_order_acquire)) != nullptr;
        if (!anyPage)
            continue;
        for (int i = 0; i < 64; ++i) {
            bool any = false;
            for (std::size_t t = 0; t < states.size(); ++t)
                if (pages[t])
                    if (OpSlot* slot = pages[t]->slots[i].load(std::memory_order_acquire))
                        any |= collect(slot, d, &pending[t]);
            if (any)
                writeHistogram(w, OpId(p * 64 + i), endWall, d);
        }
    }
    for (std::size_t t = 0; t < states.size(); ++t) {
        ThreadState* ts = states[t];
        if (RawEvent* ring = ts->ring.load(std::memory_order_acquire)) {
            const std::uint32_t head = ts->head.load(std::memory_order_acquire);
            std::uint32_t tail = ts->tail.load(std::memory_order_relaxed);
            for (; tail != head; ++tail)
                writeEvent(g, w, out, ts, ring[tail % RingSize]);
            ts->tail.store(tail, std::memory_order_release);
        }
        droppedEvents += ts->droppedEvents.load(std::memory_order_relaxed);
        droppedOperations += ts->droppedOperations.load(std::memory_order_relaxed);
        if (!wasAlive[t]) { // its last data is in; the thread will never write again
            std::lock_guard lock(all.mutex);
            all.list.erase(std::find(all.list.begin(), all.list.end(), ts));
            all.deadDroppedEvents.fetch_add(
                ts->droppedEvents.load(std::memory_order_relaxed), std::memory_order_relaxed);
            all.deadDroppedOperations.fetch_add(
                ts->droppedOperations.load(std::memory_order_relaxed), std::memory_order_relaxed);
            all.deadReentered.fetch_add(ts->reentered.load(std::memory_order_relaxed), std::memory_order_relaxed);
            delete ts;
        }
    }
    if (withMemory) {
        w.begin(wire::Memory);
        w.u64(endWall);
        w.u64(residentBytes());
        w.u64(heapBytes(g));
        w.end();
    }
    metrics::harvest(out, g.resendMetrics);
    g.resendMetrics = false;
    // Every operation the program recorded that the dashboard will not count: given up with
    // bytes, no memory, reentered from a signal handler, or on a name past the table's size.
    const std::uint64_t lostOperations = g.droppedOperations + droppedOperations
        + g.unnamed.load(std::memory_order_relaxed) + g.stateless.load(std::memory_order_relaxed);
    const std::uint64_t signature = droppedEvents * 31 + g.droppedBytes * 17 + lostOperations;
    if (signature != g.lastDropsSent) {
        w.begin(wire::Drops);
        w.u64(droppedEvents);
        w.u64(g.droppedBytes);
        w.u64(lostOperations);
        w.end();
        g.lastDropsSent = signature;
    }
    return out;
}

/// Counts what is lost with @p frames, of which the first @p written bytes were sent.
void giveUp(Global& g, const std::string& frames, std::size_t written = 0)
{
    g.droppedBytes += frames.size() - written;
    g.droppedOperations += operationsIn(frames, written);
}

/// Counts as lost the frames of @p frames (at @p start in the stream; its first @p upTo bytes
/// written) that end after what the dashboard said it read.
void loseUnread(Global& g, const std::string& frames, std::uint64_t start, std::size_t upTo)
{
    const std::size_t from = g.confirmed > start ? std::size_t(std::min<std::uint64_t>(g.confirmed - start, upTo)) : 0;
    g.droppedBytes += upTo - from;
    g.droppedOperations += operationsIn(frames, from) - operationsIn(frames, upTo);
}

/// Counts as lost what this connection's dashboard was sent and never said it read.
void loseUnconfirmed(Global& g, std::atomic<std::uint64_t>& why)
{
    const std::uint64_t before = g.droppedOperations;
    for (const auto& u : g.unconfirmed)
        loseUnread(g, u.frames, u.start, u.frames.size());
    g.unconfirmed.clear();
    g.unconfirmedBytes = 0;
    if (g.pendingOffset > 0 && !g.pending.empty()) // the frames of it already written
        loseUnread(g, g.pending.front(), g.written - g.pendingOffset, g.pendingOffset);
    why.fetch_add(g.droppedOperations - before, std::memory_order_relaxed);
}

void disconnect(Global& g)
{
    stopTracing(); // nobody reads the rings now; a dashboard that comes asks again
    if (g.fd >= 0)
        ::close(g.fd);
    g.fd = -1;
    g.connected.store(false, std::memory_order_relaxed);
    // A dashboard whose WELCOME did not say it answers SYNC is older than SYNC: what it was
    // sent cannot be known lost. Any other went away without reading it.
    if (!g.welcomed || g.confirms)
        loseUnconfirmed(g, g.unreadOperations);
    forgetStream(g);
    // What was not written at all goes back to the history; a half-written frame is lost.
    if (g.pendingOffset > 0 && !g.pending.empty()) {
        giveUp(g, g.pending.front(), g.pendingOffset);
        g.pending.pop_front();
    }
    for (auto& frames : g.pending) {
        g.historyBytes += frames.size();
        g.history.push_back(std::move(frames));
    }
    g.pending.clear();
    g.pendingBytes = 0;
    g.pendingOffset = 0;
}

void remember(Global& g, std::string frames)
{
    if (frames.empty())
        return;
    g.historyBytes += frames.size();
    g.history.push_back(std::move(frames));
    while (!g.history.empty()
        && (g.history.size() > std::size_t(MaxHistoryIntervals) || g.historyBytes > MaxHistoryBytes)) {
        g.historyBytes -= g.history.front().size();
        giveUp(g, g.history.front());
        g.history.pop_front();
    }
}

void enqueue(Global& g, std::string frames)
{
    if (frames.empty())
        return;
    if (g.pendingBytes + frames.size() > MaxPendingBytes) { // the dashboard is not reading
        giveUp(g, frames);
        return;
    }
    g.pendingBytes += frames.size();
    g.pending.push_back(std::move(frames));
}

bool tryConnect(Global& g)
{
    const std::uint64_t now = nowMs();
    if (now < g.nextConnectMs)
        return false;
    sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (g.socketPath.size() >= sizeof addr.sun_path)
        return false;
    std::memcpy(addr.sun_path, g.socketPath.c_str(), g.socketPath.size() + 1);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        // Back off 250 ms, 500 ms, then once a second: a dashboard started later sees us in about a second.
        g.nextConnectMs = now + std::min<std::uint64_t>(1000, 250u << std::min(g.connectFailures++, 2));
        return false;
    }
    g.fd = fd;
    g.connectFailures = 0;
    g.definedOps = 0;
    g.lastDropsSent = ~std::uint64_t(0);
    g.resendMetrics = true; // the new dashboard has none of our gauges
    g.connects.fetch_add(1, std::memory_order_relaxed);
    g.connected.store(true, std::memory_order_relaxed);

    std::string hello(wire::Preface, sizeof wire::Preface);
    wire::Writer w(hello);
    w.begin(wire::Hello);
    w.u16(wire::Version);
    w.u32(std::uint32_t(getpid()));
    w.u64(g.originWall);
    w.str(g.processName);
    w.u16(std::uint16_t(std::min<std::size_t>(g.commandLine.size(), 256)));
    for (std::size_t i = 0; i < g.commandLine.size() && i < 256; ++i)
        w.str(g.commandLine[i]);
    w.end();
    defineOps(g, hello);
    enqueue(g, std::move(hello));
    while (!g.history.empty()) {
        g.historyBytes -= g.history.front().size();
        enqueue(g, std::move(g.history.front()));
        g.history.pop_front();
    }
    return true;
}

void readInbox(Global& g);

void readReplies(Global& g)
{
    char buffer[4096];
    bool closed = false;
    for (;;) {
        const ssize_t n = ::recv(g.fd, buffer, sizeof buffer, MSG_DONTWAIT);
        if (n > 0) {
            g.inbox.append(buffer, std::size_t(n));
            continue;
        }
        // Gone: what it said before going (RECEIVED, REJECT) still counts.
        closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
        break;
    }
    readInbox(g);
    if (closed && g.fd >= 0)
        disconnect(g);
}

void readInbox(Global& g)
{
    while (g.inbox.size() >= 5) {
        std::uint32_t length = 0;
        for (int i = 0; i < 4; ++i)
            length |= std::uint32_t(std::uint8_t(g.inbox[std::size_t(i)])) << (8 * i);
        if (length == 0 || length > 64 * 1024) {
            disconnect(g);
            return;
        }
        if (g.inbox.size() < 4 + std::size_t(length))
            return;
        const auto type = std::uint8_t(g.inbox[4]);
        const auto le = [&g](std::size_t at, int bytes) {
            std::uint64_t v = 0;
            for (int i = 0; i < bytes; ++i)
                v |= std::uint64_t(std::uint8_t(g.inbox[at + std::size_t(i)])) << (8 * i);
            return v;
        };
        if (type == wire::Welcome) {
            g.welcomed = true;
            g.rejected = false;
            g.confirms = length >= 5 && (le(7, 2) & wire::WelcomeConfirms); // u16 version, u16 flags
        } else if (type == wire::Received && length >= 9) {
            g.confirms = true;
            g.confirmed = std::max(g.confirmed, le(5, 8));
            while (!g.unconfirmed.empty()
                && g.unconfirmed.front().start + g.unconfirmed.front().frames.size() <= g.confirmed) {
                g.unconfirmedBytes -= g.unconfirmed.front().frames.size();
                g.unconfirmed.pop_front();
            }
        } else if (type == wire::Profile && length >= 2) {
            const bool start = std::uint8_t(g.inbox[5]) == wire::ProfileStart;
            const auto entries = length >= 6 ? std::uint32_t(le(6, 4)) : 0u;
            std::string reply = handleProfile(g, start, entries);
            g.pendingBytes += reply.size(); // control, queued past the bound as SYNC is
            g.pending.push_back(std::move(reply));
        } else if (type == wire::Reject) {
            std::string reason = length > 5 ? g.inbox.substr(9, std::size_t(length) - 5) : std::string();
            std::fprintf(stderr, "perfdash: the dashboard at %s refused this process: %s\n", g.socketPath.c_str(),
                reason.c_str());
            g.inbox.clear();
            // A REJECT means nothing this connection carried was counted (a wrong version, or a
            // dashboard full of live processes): everything written on it is lost, what it said
            // it read included, and so is what waits to be sent and what we kept while it was
            // not there; do not grow while waiting. Given up, so counted.
            const std::uint64_t before = g.droppedOperations;
            g.droppedOperations += g.writtenOperations;
            if (g.pendingOffset > 0 && !g.pending.empty()) // the frames of it already written
                g.droppedOperations
                    += operationsIn(g.pending.front()) - operationsIn(g.pending.front(), g.pendingOffset);
            g.droppedBytes += g.written;
            g.writtenOperations = 0;
            g.unconfirmed.clear();
            g.unconfirmedBytes = 0;
            for (const auto& frames : g.pending)
                giveUp(g, frames, &frames == &g.pending.front() ? g.pendingOffset : 0);
            g.pending.clear();
            g.pendingBytes = 0;
            g.pendingOffset = 0;
            for (const auto& frames : g.history)
                giveUp(g, frames);
            g.history.clear();
            g.historyBytes = 0;
            g.rejectedOperations.fetch_add(g.droppedOperations - before, std::memory_order_relaxed);
            disconnect(g);
            g.rejected = true;
            g.nextConnectMs = nowMs() + 30'000;
            return;
        }
        g.inbox.erase(0, 4 + std::size_t(length));
    }
}

void writePending(Global& g)
{
    while (g.fd >= 0 && !g.pending.empty()) {
        const std::string& front = g.pending.front();
        const ssize_t n
            = ::send(g.fd, front.data() + g.pendingOffset, front.size() - g.pendingOffset, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            readReplies(g); // what it said before it closed (a REJECT) tells why
            if (g.fd >= 0)
                disconnect(g);
            return;
        }
        g.pendingOffset += std::size_t(n);
        g.written += std::uint64_t(n);
        if (g.pendingOffset == front.size()) {
            g.pendingBytes -= front.size();
            const std::uint64_t operations = operationsIn(front);
            g.writtenOperations += operations;
            if (operations > 0) { // kept until the dashboard says it read it
                g.unconfirmedBytes += front.size();
                g.unconfirmed.push_back({ g.written - front.size(), std::move(g.pending.front()) });
                while (g.unconfirmedBytes > MaxUnconfirmedBytes) {
                    g.unconfirmedBytes -= g.unconfirmed.front().frames.size();
                    g.unconfirmed.pop_front();
                }
            }
            g.pending.pop_front();
            g.pendingOffset = 0;
            g.framesSent.fetch_add(1, std::memory_order_relaxed);
        }
    }
}
} // namespace

void forgetStream(Global& g) noexcept
{
    g.unconfirmed.clear();
    g.unconfirmedBytes = 0;
    g.written = 0;
    g.writtenOperations = 0;
    g.confirmed = 0;
    g.syncedTo = 0;
    g.inbox.clear(); // a new connection starts a new stream of replies
    g.welcomed = false;
    g.confirms = false;
}

std::uint64_t operationsIn(const std::string& frames, std::size_t from)
{
    const auto le = [](const unsigned char* p, int bytes) {
        std::uint64_t v = 0;
        for (int i = 0; i < bytes; ++i)
            v |= std::uint64_t(p[i]) << (8 * i);
        return v;
    };
    // HISTOGRAM body: u32 op, 6 x u64 (the sixth the overflow count), u32 n, n x (u16, u32).
    constexpr std::size_t Overflow = 4 + 5 * 8, Entries = 4 + 6 * 8;
    std::uint64_t operations = 0;
    std::size_t at = frames.compare(0, 4, wire::Preface, 4) == 0 ? 4 : 0;
    while (at + 5 <= frames.size()) {
        const auto* p = reinterpret_cast<const unsigned char*>(frames.data() + at);
        const std::size_t end = at + 4 + std::size_t(le(p, 4));
        if (end > frames.size())
            break;
        if (end > from && p[4] == wire::Histogram && end - at >= 5 + Entries + 4) {
            const unsigned char* body = p + 5;
            operations += le(body + Overflow, 8);
            const std::uint64_t n = le(body + Entries, 4);
            for (std::uint64_t i = 0; i < n && 5 + Entries + 4 + (i + 1) * 6 <= end - at; ++i)
                operations += le(body + Entries + 4 + i * 6 + 2, 4);
        }
        at = end;
    }
    return operations;
}

void cycle(Global& g, bool periodic)
{
    tracingCycle(g);
    std::string frames = harvest(g, periodic);
    if (g.fd < 0)
        tryConnect(g);
    if (g.fd >= 0) {
        std::string defines;
        defineOps(g, defines);
        enqueue(g, std::move(defines));
        enqueue(g, std::move(frames));
        writePending(g);
        if (g.fd >= 0 && !g.unconfirmed.empty()
            && g.unconfirmed.back().start + g.unconfirmed.back().frames.size() > g.syncedTo) {
            // Ask the dashboard to say what it has read of the operations written since the last
            // time. Five bytes of control, queued past the bound: it is never given up.
            g.syncedTo = g.unconfirmed.back().start + g.unconfirmed.back().frames.size();
            std::string sync;
            wire::Writer w(sync);
            w.begin(wire::Sync);
            w.end();
            g.pendingBytes += sync.size();
            g.pending.push_back(std::move(sync));
            writePending(g);
        }
        if (g.fd >= 0)
            readReplies(g);
        if (g.fd >= 0 && !g.pending.empty()) // an answer to PROFILE: the dashboard waits for it
            writePending(g);
    } else {
        remember(g, std::move(frames));
    }
    g.droppedBytesStat.store(g.droppedBytes, std::memory_order_relaxed);
    g.droppedOperationsStat.store(g.droppedOperations, std::memory_order_relaxed);
}

namespace {
/// Waits until the socket can take more (or says something), @p until at the latest, 50 ms at most.
void waitForSocket(const Global& g, std::chrono::steady_clock::time_point until)
{
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    pollfd p { g.fd, POLLOUT | POLLIN, 0 };
    ::poll(&p, 1, int(std::clamp<std::int64_t>(left.count(), 0, 50)));
}

/// Writes and reads replies (a REJECT, RECEIVED) until nothing waits or @p until.
void sendUntil(Global& g, std::chrono::steady_clock::time_point until)
{
    while (g.fd >= 0 && !g.pending.empty() && std::chrono::steady_clock::now() < until) {
        waitForSocket(g, until);
        writePending(g);
        if (g.fd >= 0)
            readReplies(g);
    }
}

/// Counts as given up what waits to be sent, but the frame half on its way if @p keepStarted.
void giveUpPending(Global& g, bool keepStarted)
{
    std::deque<std::string> kept;
    for (auto& frames : g.pending) {
        const bool started = &frames == &g.pending.front() && g.pendingOffset > 0;
        if (started && keepStarted)
            kept.push_back(std::move(frames));
        else
            giveUp(g, frames, started ? g.pendingOffset : 0);
    }
    g.pending = std::move(kept);
    g.pendingBytes = 0;
    for (const auto& frames : g.pending)
        g.pendingBytes += frames.size();
    if (g.pending.empty())
        g.pendingOffset = 0;
}
} // namespace

void farewell(Global& g)
{
    if (!g.rejected)
        g.nextConnectMs = 0; // a dashboard there now is worth a try, backoff or not (not one that refused us)
    cycle(g, true);
    // What the exit itself gives up, from here; a REJECT or a dashboard gone unread meanwhile are theirs.
    const std::uint64_t droppedBefore = g.droppedOperations;
    const std::uint64_t otherwiseBefore
        = g.rejectedOperations.load(std::memory_order_relaxed) + g.unreadOperations.load(std::memory_order_relaxed);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, g.exitTimeoutMs));
    sendUntil(g, deadline);
    if (g.fd >= 0) {
        // Out of time with a backlog, or done: what could not go is given up and counted now, so
        // that the last DROPS says it; then that DROPS and GOODBYE, with a little more time.
        giveUpPending(g, true);
        std::string last = harvest(g, false);
        wire::Writer w(last);
        w.begin(wire::Goodbye);
        w.end();
        g.pendingBytes += last.size();
        g.pending.push_back(std::move(last));
        sendUntil(g,
            std::chrono::steady_clock::now() + std::chrono::milliseconds(std::min(500, std::max(50, g.exitTimeoutMs))));
        if (g.fd >= 0 && !g.pending.empty())
            giveUpPending(g, false); // a dashboard that reads nothing: counted here alone
    }
    if (g.fd < 0) {
        // No dashboard at the end: what was kept for one goes with the process.
        for (const auto& frames : g.history)
            giveUp(g, frames);
        g.history.clear();
        g.historyBytes = 0;
        giveUpPending(g, false);
    }
    const std::uint64_t otherwise = g.rejectedOperations.load(std::memory_order_relaxed)
        + g.unreadOperations.load(std::memory_order_relaxed) - otherwiseBefore;
    g.exitOperations.fetch_add(g.droppedOperations - droppedBefore - otherwise, std::memory_order_relaxed);
    g.droppedBytesStat.store(g.droppedBytes, std::memory_order_relaxed);
    g.droppedOperationsStat.store(g.droppedOperations, std::memory_order_relaxed);
}

void flusherMain(Global& g)
{
    g.calibrator.start();
    auto next = std::chrono::steady_clock::now() + Interval;
    const auto runCycle = [&g](std::unique_lock<std::mutex>& lock, bool periodic) {
        // Outside mutex: flush() callers and fork() are not held up for a whole cycle.
        lock.unlock();
        {
            std::lock_guard cycleLock(g.cycleMutex);
            cycle(g, periodic);
            g.linkUp.store(g.fd >= 0, std::memory_order_relaxed);
            g.drained.store(g.fd >= 0 && g.pending.empty() && g.welcomed, std::memory_order_relaxed);
        }
        lock.lock();
    };
    std::unique_lock lock(g.mutex);
    while (!g.stopping) {
        // Requests are compared with what was done, not with what was seen at the top of the loop:
        // one made before this thread first waits (a fork child's first flush) is not missed.
        const auto requested = [&] { return g.flushRequests != g.flushesDone; };
        auto wait = next;
        // Calibration steps fall between intervals, until the calibrator is done with the counter
        // (never used, or given up when the kernel stopped trusting it).
        if (const std::uint64_t due = g.calibrator.nextDueNs()) {
            const std::uint64_t mono = clock::monotonicNs();
            const auto calibrateAt
                = std::chrono::steady_clock::now() + std::chrono::nanoseconds(due > mono ? due - mono : 0);
            wait = std::min(wait, calibrateAt);
        }
        // While a fork() is under way, wait (releasing mutex): back-to-back cycles would starve it.
        g.wake.wait_until(lock, wait, [&] { return (g.stopping || requested()) && !g.forking.load(); });
        if (g.forking.load() && !g.stopping)
            continue;
        if (const std::uint64_t due = g.calibrator.nextDueNs(); due && clock::monotonicNs() >= due) {
            g.calibrator.step();
            clockChanged();
        }
        const bool due = std::chrono::steady_clock::now() >= next;
        if (!due && !requested() && !g.stopping)
            continue;
        if (due)
            next += Interval;
        if (next < std::chrono::steady_clock::now())
            next = std::chrono::steady_clock::now() + Interval;
        const std::uint64_t serving = g.flushRequests;
        runCycle(lock, due);
        g.flushesDone = std::max(g.flushesDone, serving);
        g.flushed.notify_all();
    }
    // Last words: whatever was recorded, what waits, then goodbye (farewell()).
    const std::uint64_t serving = g.flushRequests;
    lock.unlock();
    {
        std::lock_guard cycleLock(g.cycleMutex);
        farewell(g);
        g.linkUp.store(g.fd >= 0, std::memory_order_relaxed);
        g.drained.store(g.fd >= 0 && g.pending.empty() && g.welcomed, std::memory_order_relaxed);
    }
    lock.lock();
    g.flushesDone = std::max(g.flushesDone, serving);
    g.flushed.notify_all();
}

} // namespace perfdash
