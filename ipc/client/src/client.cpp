// SPDX-License-Identifier: MIT
// The perfdash client: thread-local histograms on the hot path, a flusher thread that ships them.
#include "perfdash/perfdash.hpp"
#include "wire.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cpuid.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fcntl.h>
#include <malloc.h>
#include <map>
#include <mutex>
#include <new>
#include <pthread.h>
#include <string>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>
#include <vector>
#include <x86intrin.h>

namespace perfdash {
namespace {

    __extension__ typedef unsigned __int128 u128;

    constexpr std::uint32_t MaxOps = 4096;
    constexpr std::uint32_t RingSize = 4096; // raw events per thread between two flushes
    constexpr auto Interval = std::chrono::milliseconds(500);
    constexpr std::size_t MaxHistoryBytes = 8u << 20; // while no dashboard is there
    constexpr int MaxHistoryIntervals = 120; // one minute of 500 ms intervals
    constexpr std::size_t MaxPendingBytes = 8u << 20; // written to a dashboard that does not read

    using Meta = std::vector<std::pair<std::string, std::string>>;

    // ---- clocks -------------------------------------------------------------------------------

    std::uint64_t monotonicNs() noexcept
    {
        timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
    }

    std::uint64_t wallNs() noexcept
    {
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return std::uint64_t(ts.tv_sec) * 1'000'000'000u + std::uint64_t(ts.tv_nsec);
    }

    // What the hot path reads: constant-initialised, so no guard variable on any access.
    struct Hot {
        std::atomic<int> tscReady { 0 };
        std::atomic<std::uint64_t> tscMult { 0 }; // nanoseconds per tick, 32.32 fixed point
        std::atomic<std::uint64_t> tscOrigin { 0 }; // a tick count and the monotonic time it was read at
        std::atomic<std::uint64_t> tscOriginMono { 0 };
        std::atomic<std::uint64_t> slowNs { 100'000'000 };
        std::atomic<std::uint64_t> sampleThreshold { 0 }; // rate * 2^64
    };
    Hot g_hot;

    std::uint64_t ticksToNs(std::uint64_t ticks) noexcept
    {
        return std::uint64_t((u128(ticks) * g_hot.tscMult.load(std::memory_order_relaxed)) >> 32);
    }

    /// A clock reading as monotonic nanoseconds, whichever clock it came from.
    std::uint64_t toMonotonic(std::uint64_t value, int clock) noexcept
    {
        if (clock == 0)
            return value;
        const std::uint64_t origin = g_hot.tscOrigin.load(std::memory_order_relaxed);
        const std::uint64_t originMono = g_hot.tscOriginMono.load(std::memory_order_relaxed);
        return value >= origin ? originMono + ticksToNs(value - origin) : originMono - ticksToNs(origin - value);
    }

    bool invariantTsc() noexcept
    {
        unsigned a = 0, b = 0, c = 0, d = 0;
        if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007)
            return false;
        __get_cpuid(0x80000007, &a, &b, &c, &d);
        return (d & (1u << 8)) != 0;
    }

    // ---- per-thread recording -------------------------------------------------------------------

    /// One operation on one thread. Counters only grow and are written by that thread alone; the
    /// flusher sends the difference to what it sent last, so nothing is lost or counted twice.
    struct OpSlot {
        std::atomic<std::uint32_t> counts[wire::BucketCount + 1];
        std::atomic<std::uint64_t> sum { 0 };
        std::atomic<std::uint64_t> errors { 0 };
        std::atomic<std::uint64_t> min { ~std::uint64_t(0) }; // of the interval; reset by the flusher
        std::atomic<std::uint64_t> max { 0 };
        // The flusher's side.
        std::uint32_t sent[wire::BucketCount + 1];
        std::uint64_t sentSum = 0;
        std::uint64_t sentErrors = 0;

        OpSlot() noexcept
        {
            for (auto& c : counts)
                c.store(0, std::memory_order_relaxed);
            std::memset(sent, 0, sizeof sent);
        }
    };

    struct RawEvent {
        OpId op;
        int clock;
        std::uint64_t end;
        std::uint64_t durationNs;
        bool ok;
        Meta* meta;
    };

    struct ThreadState {
        std::atomic<OpSlot*> slots[MaxOps];
        RawEvent ring[RingSize];
        std::atomic<std::uint32_t> head { 0 }; // written by the thread
        std::atomic<std::uint32_t> tail { 0 }; // written by the flusher
        std::atomic<std::uint64_t> dropped { 0 };
        std::atomic<bool> alive { true };
        std::uint64_t tid;
        std::uint64_t rng;

        ThreadState() noexcept
            : tid(std::uint64_t(syscall(SYS_gettid)))
            , rng(0x9e3779b97f4a7c15ull ^ (tid * 0xbf58476d1ce4e5b9ull) ^ monotonicNs())
        {
            for (auto& s : slots)
                s.store(nullptr, std::memory_order_relaxed);
        }
        ~ThreadState()
        {
            for (auto& s : slots)
                delete s.load(std::memory_order_relaxed);
        }
        bool sampled() noexcept
        {
            const std::uint64_t threshold = g_hot.sampleThreshold.load(std::memory_order_relaxed);
            if (threshold == 0)
                return false;
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            return rng < threshold;
        }
    };

    __attribute__((tls_model("initial-exec"))) thread_local ThreadState* t_state = nullptr;

    // ---- the process-wide client ------------------------------------------------------------------

    struct Global {
        bool disabled = false;
        std::string socketPath;
        std::string processName;
        std::vector<std::string> commandLine;

        std::mutex opsMutex;
        std::vector<std::string> opNames;
        std::unordered_map<std::string, OpId> opIds;
        std::atomic<std::uint32_t> opCount { 0 };

        std::mutex threadsMutex;
        std::vector<ThreadState*> threads;

        std::mutex metricsMutex;
        std::map<std::string, std::pair<std::uint8_t, double>> metrics; // name -> (kind, value)
        bool metricsChanged = false;

        // The flusher thread and its connection.
        std::mutex mutex;
        std::condition_variable wake;
        std::condition_variable flushed;
        std::thread flusher;
        bool stopping = false;
        std::uint64_t flushRequests = 0;
        std::uint64_t flushesDone = 0;
        int fd = -1;
        bool welcomed = false;
        std::uint32_t definedOps = 0; // DefineOp frames sent on this connection
        std::deque<std::string> pending; // frames not yet written; the first may be partly written
        std::size_t pendingOffset = 0;
        std::size_t pendingBytes = 0;
        std::deque<std::string> history; // intervals recorded while no dashboard was there
        std::size_t historyBytes = 0;
        std::string inbox;
        int connectFailures = 0;
        std::uint64_t nextConnectMs = 0;
        std::uint64_t originMono = 0;
        std::uint64_t originWall = 0;
        std::uint64_t droppedBytes = 0;
        std::uint64_t droppedOperations = 0; // recorded operations in droppedBytes
        std::uint64_t lastDropsSent = ~std::uint64_t(0);

        std::atomic<bool> connected { false };
        std::atomic<std::uint64_t> connects { 0 };
        std::atomic<std::uint64_t> framesSent { 0 };
        std::atomic<std::uint64_t> droppedBytesStat { 0 };
        std::atomic<std::uint64_t> droppedOperationsStat { 0 };
        std::atomic<std::uint64_t> deadThreadDrops { 0 };
    };

    /// The operations counted by the HISTOGRAM frames of @p frames that end after byte @p from: what
    /// giving those bytes up loses (a frame written in full before @p from has arrived).
    std::uint64_t operationsIn(const std::string& frames, std::size_t from = 0)
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
        for (std::size_t at = 0; at + 5 <= frames.size();) {
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

    Global* g_global = nullptr;
    std::once_flag g_once;

    std::string defaultSocketPath()
    {
        if (const char* env = std::getenv("PERFDASH_SOCKET"); env && *env)
            return env;
        if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime && *runtime)
            return std::string(runtime) + "/perfdash/perfdash.sock";
        return "/tmp/perfdash-" + std::to_string(getuid()) + "/perfdash.sock";
    }

    std::string readFile(const char* path, std::size_t limit)
    {
        std::string data;
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return data;
        char buffer[4096];
        ssize_t n;
        while (data.size() < limit && (n = ::read(fd, buffer, sizeof buffer)) > 0)
            data.append(buffer, std::size_t(n));
        ::close(fd);
        return data;
    }

    void describeProcess(Global& g)
    {
        const std::string cmdline = readFile("/proc/self/cmdline", 64 * 1024);
        for (std::size_t start = 0; start < cmdline.size();) {
            const std::size_t end = cmdline.find('\0', start);
            g.commandLine.push_back(cmdline.substr(start, end == std::string::npos ? std::string::npos : end - start));
            if (end == std::string::npos)
                break;
            start = end + 1;
        }
        if (const char* name = std::getenv("PERFDASH_NAME"); name && *name) {
            g.processName = name;
        } else {
            std::string comm = readFile("/proc/self/comm", 256);
            while (!comm.empty() && comm.back() == '\n')
                comm.pop_back();
            g.processName = comm.empty() ? "unknown" : comm;
        }
    }

    void flusherMain(Global& g);
    void atForkPrepare();
    void atForkParent();
    void atForkChild();
    void atExit();

    Global& global()
    {
        std::call_once(g_once, [] {
            auto* g = new Global; // never deleted: threads may record until the very end
            const char* disable = std::getenv("PERFDASH_DISABLE");
            g->disabled = disable && *disable && std::strcmp(disable, "0") != 0;
            if (const char* rate = std::getenv("PERFDASH_SAMPLE_RATE"))
                setSamplingRate(std::strtod(rate, nullptr));
            else
                setSamplingRate(0.001);
            if (const char* slow = std::getenv("PERFDASH_SLOW_MS"))
                setSlowThresholdNs(std::uint64_t(std::max(0.0, std::strtod(slow, nullptr)) * 1e6));
            g->socketPath = defaultSocketPath();
            describeProcess(*g);
            g->originMono = monotonicNs();
            g->originWall = wallNs();
            g_global = g;
            if (!g->disabled) {
                pthread_atfork(atForkPrepare, atForkParent, atForkChild);
                g->flusher = std::thread(flusherMain, std::ref(*g));
                std::atexit(atExit);
            }
        });
        return *g_global;
    }

    ThreadState* threadState() noexcept
    {
        if (t_state)
            return t_state;
        Global& g = global();
        auto* state = new (std::nothrow) ThreadState;
        if (!state)
            return nullptr;
        {
            std::lock_guard lock(g.threadsMutex);
            g.threads.push_back(state);
        }
        // A thread_local with a destructor tells the flusher when this thread is gone; it is
        // touched only here, so the hot path reads the trivial t_state alone.
        struct Holder {
            ThreadState* state = nullptr;
            ~Holder()
            {
                if (state)
                    state->alive.store(false, std::memory_order_release);
                t_state = nullptr;
            }
        };
        static thread_local Holder holder;
        holder.state = state;
        t_state = state;
        return state;
    }

    OpSlot* addSlot(ThreadState* ts, OpId op) noexcept
    {
        auto* slot = new (std::nothrow) OpSlot;
        if (slot)
            ts->slots[op].store(slot, std::memory_order_release);
        return slot;
    }

    void recordOn(ThreadState* ts, OpId op, std::uint64_t ns, bool ok, int clock, std::uint64_t end, Meta* meta) noexcept
    {
        OpSlot* slot = ts->slots[op].load(std::memory_order_relaxed);
        if (!slot && !(slot = addSlot(ts, op))) {
            delete meta;
            return;
        }
        auto& bucket = slot->counts[wire::bucketIndex(ns)];
        bucket.store(bucket.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        slot->sum.store(slot->sum.load(std::memory_order_relaxed) + ns, std::memory_order_relaxed);
        if (ns > slot->max.load(std::memory_order_relaxed))
            slot->max.store(ns, std::memory_order_relaxed);
        if (ns < slot->min.load(std::memory_order_relaxed))
            slot->min.store(ns, std::memory_order_relaxed);
        if (!ok) // release: a flusher that sees the error also sees its bucket
            slot->errors.store(slot->errors.load(std::memory_order_relaxed) + 1, std::memory_order_release);

        const std::uint64_t slow = g_hot.slowNs.load(std::memory_order_relaxed);
        if ((slow && ns >= slow) || ts->sampled()) {
            const std::uint32_t head = ts->head.load(std::memory_order_relaxed);
            if (head - ts->tail.load(std::memory_order_acquire) >= RingSize) {
                ts->dropped.store(ts->dropped.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
                delete meta;
                return;
            }
            // end == 0: recorded without a clock reading (record()); read one only now that it is needed.
            ts->ring[head % RingSize] = RawEvent { op, end ? clock : 0, end ? end : monotonicNs(), ns, ok, meta };
            ts->head.store(head + 1, std::memory_order_release);
            return;
        }
        delete meta;
    }

    // ---- the flusher --------------------------------------------------------------------------

    std::uint64_t nowMs() noexcept { return monotonicNs() / 1'000'000; }

    std::uint64_t toWall(const Global& g, std::uint64_t mono) noexcept { return g.originWall + (mono - g.originMono); }

    void defineOps(Global& g, std::string& out)
    {
        std::lock_guard lock(g.opsMutex);
        wire::Writer w(out);
        for (; g.definedOps < g.opNames.size(); ++g.definedOps) {
            w.begin(wire::DefineOp);
            w.u32(g.definedOps);
            w.str(g.opNames[g.definedOps]);
            w.end();
        }
    }

    /// Collects what the threads recorded since the last call into frames.
    std::string harvest(Global& g, bool withMemory)
    {
        std::string out;
        wire::Writer w(out);
        const std::uint32_t ops = g.opCount.load(std::memory_order_acquire);
        std::vector<ThreadState*> threads;
        {
            std::lock_guard lock(g.threadsMutex);
            threads = g.threads;
        }
        const std::uint64_t endWall = wallNs();
        struct Delta {
            std::uint64_t errors = 0, sum = 0, min = ~std::uint64_t(0), max = 0;
            std::map<int, std::uint64_t> buckets;
        };
        std::map<OpId, Delta> deltas;
        std::uint64_t dropped = g.deadThreadDrops.load(std::memory_order_relaxed);
        for (ThreadState* ts : threads) {
            const bool wasAlive = ts->alive.load(std::memory_order_acquire);
            for (OpId op = 0; op < ops; ++op) {
                OpSlot* slot = ts->slots[op].load(std::memory_order_acquire);
                if (!slot)
                    continue;
                const std::uint64_t errors = slot->errors.load(std::memory_order_acquire);
                std::map<int, std::uint64_t> buckets;
                for (int i = 0; i <= wire::BucketCount; ++i) {
                    const std::uint32_t now = slot->counts[i].load(std::memory_order_relaxed);
                    if (now != slot->sent[i]) {
                        buckets[i] += std::uint32_t(now - slot->sent[i]);
                        slot->sent[i] = now;
                    }
                }
                if (buckets.empty())
                    continue;
                Delta& d = deltas[op];
                for (const auto& [i, c] : buckets)
                    d.buckets[i] += c;
                const std::uint64_t sum = slot->sum.load(std::memory_order_relaxed);
                d.sum += sum - slot->sentSum;
                slot->sentSum = sum;
                d.errors += errors - slot->sentErrors;
                slot->sentErrors = errors;
                d.min = std::min(d.min, slot->min.exchange(~std::uint64_t(0), std::memory_order_relaxed));
                d.max = std::max(d.max, slot->max.exchange(0, std::memory_order_relaxed));
            }
            // Raw events.
            const std::uint32_t head = ts->head.load(std::memory_order_acquire);
            std::uint32_t tail = ts->tail.load(std::memory_order_relaxed);
            for (; tail != head; ++tail) {
                RawEvent& e = ts->ring[tail % RingSize];
                const std::uint64_t endMono = toMonotonic(e.end, e.clock);
                w.begin(wire::Event);
                w.u32(e.op);
                w.u64(toWall(g, endMono) - e.durationNs);
                w.u64(e.durationNs);
                w.u8(e.ok ? 1 : 0);
                w.u64(ts->tid);
                const std::size_t n = e.meta ? std::min<std::size_t>(e.meta->size(), 64) : 0;
                w.u16(std::uint16_t(n));
                for (std::size_t i = 0; i < n; ++i) {
                    w.str((*e.meta)[i].first);
                    w.str((*e.meta)[i].second);
                }
                w.end();
                delete e.meta;
                e.meta = nullptr;
            }
            ts->tail.store(tail, std::memory_order_release);
            dropped += ts->dropped.load(std::memory_order_relaxed);
            if (!wasAlive) { // its last data is in; the thread will never write again
                std::lock_guard lock(g.threadsMutex);
                g.threads.erase(std::find(g.threads.begin(), g.threads.end(), ts));
                g.deadThreadDrops.fetch_add(ts->dropped.load(std::memory_order_relaxed), std::memory_order_relaxed);
                delete ts;
            }
        }
        for (const auto& [op, d] : deltas) {
            std::uint64_t overflow = 0;
            auto end = d.buckets.end();
            if (auto it = d.buckets.find(wire::BucketCount); it != end)
                overflow = it->second;
            w.begin(wire::Histogram);
            w.u32(op);
            w.u64(endWall);
            w.u64(d.errors);
            w.u64(d.sum);
            w.u64(d.min);
            w.u64(d.max);
            w.u64(overflow);
            std::uint32_t n = 0;
            for (const auto& [i, c] : d.buckets)
                n += i < wire::BucketCount ? std::uint32_t((c + 0xfffffffeull) / 0xffffffffull) : 0;
            w.u32(n);
            for (const auto& [i, c] : d.buckets) {
                if (i == wire::BucketCount)
                    continue;
                for (std::uint64_t left = c; left > 0;) { // a count over 2^32 goes as several entries
                    const auto part = std::uint32_t(std::min<std::uint64_t>(left, 0xffffffffu));
                    w.u16(std::uint16_t(i));
                    w.u32(part);
                    left -= part;
                }
            }
            w.end();
        }
        if (withMemory) {
            long long pages = 0, resident = 0;
            const std::string statm = readFile("/proc/self/statm", 256);
            std::sscanf(statm.c_str(), "%lld %lld", &pages, &resident);
            const struct mallinfo2 info = mallinfo2();
            w.begin(wire::Memory);
            w.u64(endWall);
            w.u64(std::uint64_t(resident) * std::uint64_t(sysconf(_SC_PAGESIZE)));
            w.u64(info.uordblks + info.hblkhd);
            w.end();
        }
        {
            std::lock_guard lock(g.metricsMutex);
            if (g.metricsChanged) {
                for (const auto& [name, value] : g.metrics) {
                    w.begin(wire::Metric);
                    w.u8(value.first);
                    w.str(name);
                    w.f64(value.second);
                    w.end();
                }
                g.metricsChanged = false;
            }
        }
        const std::uint64_t droppedBytes = g.droppedBytes;
        if (dropped + droppedBytes + g.droppedOperations != g.lastDropsSent) {
            w.begin(wire::Drops);
            w.u64(dropped);
            w.u64(droppedBytes);
            w.u64(g.droppedOperations);
            w.end();
            g.lastDropsSent = dropped + droppedBytes + g.droppedOperations;
        }
        return out;
    }

    /// Counts what is lost with @p frames, of which the first @p written bytes were sent.
    void giveUp(Global& g, const std::string& frames, std::size_t written = 0)
    {
        g.droppedBytes += frames.size() - written;
        g.droppedOperations += operationsIn(frames, written);
    }

    void disconnect(Global& g)
    {
        if (g.fd >= 0)
            ::close(g.fd);
        g.fd = -1;
        g.welcomed = false;
        g.connected.store(false, std::memory_order_relaxed);
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
        while (!g.history.empty() && (g.history.size() > std::size_t(MaxHistoryIntervals) || g.historyBytes > MaxHistoryBytes)) {
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

    void readReplies(Global& g)
    {
        char buffer[4096];
        for (;;) {
            const ssize_t n = ::recv(g.fd, buffer, sizeof buffer, MSG_DONTWAIT);
            if (n > 0) {
                g.inbox.append(buffer, std::size_t(n));
                continue;
            }
            if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                disconnect(g);
                return;
            }
            break;
        }
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
            if (type == wire::Welcome) {
                g.welcomed = true;
            } else if (type == wire::Reject) {
                std::string reason = g.inbox.substr(9, std::size_t(length) - 5);
                std::fprintf(stderr, "perfdash: the dashboard at %s refused this process: %s\n", g.socketPath.c_str(),
                    reason.c_str());
                g.inbox.clear();
                disconnect(g);
                g.history.clear(); // it will not take them; do not grow while waiting
                g.historyBytes = 0;
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
            const ssize_t n = ::send(g.fd, front.data() + g.pendingOffset, front.size() - g.pendingOffset,
                MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                    return;
                disconnect(g);
                return;
            }
            g.pendingOffset += std::size_t(n);
            if (g.pendingOffset == front.size()) {
                g.pendingBytes -= front.size();
                g.pending.pop_front();
                g.pendingOffset = 0;
                g.framesSent.fetch_add(1, std::memory_order_relaxed);
            }
        }
    }

    void cycle(Global& g, bool withMemory)
    {
        std::string frames = harvest(g, withMemory);
        if (g.fd < 0)
            tryConnect(g);
        if (g.fd >= 0) {
            std::string defines;
            defineOps(g, defines);
            enqueue(g, std::move(defines));
            enqueue(g, std::move(frames));
            writePending(g);
            if (g.fd >= 0)
                readReplies(g);
        } else {
            remember(g, std::move(frames));
        }
        g.droppedBytesStat.store(g.droppedBytes, std::memory_order_relaxed);
        g.droppedOperationsStat.store(g.droppedOperations, std::memory_order_relaxed);
    }

    void calibrate(std::uint64_t tsc0, std::uint64_t mono0)
    {
        const std::uint64_t tsc1 = __rdtsc();
        const std::uint64_t mono1 = monotonicNs();
        if (tsc1 <= tsc0 || mono1 <= mono0)
            return;
        g_hot.tscMult.store(std::uint64_t((u128(mono1 - mono0) << 32) / (tsc1 - tsc0)), std::memory_order_relaxed);
        g_hot.tscOrigin.store(tsc1, std::memory_order_relaxed);
        g_hot.tscOriginMono.store(mono1, std::memory_order_relaxed);
        g_hot.tscReady.store(1, std::memory_order_release);
    }

    void flusherMain(Global& g)
    {
        const bool tsc = invariantTsc() && !std::getenv("PERFDASH_NO_TSC");
        const std::uint64_t tsc0 = __rdtsc();
        const std::uint64_t mono0 = monotonicNs();
        int calibrations = 0;
        auto next = std::chrono::steady_clock::now() + Interval;
        std::unique_lock lock(g.mutex);
        while (!g.stopping) {
            const std::uint64_t requests = g.flushRequests;
            // The first calibration after 50 ms, then finer ones after 1 s and 10 s.
            const auto wait = tsc && calibrations == 0 ? std::chrono::steady_clock::now() + std::chrono::milliseconds(50) : next;
            g.wake.wait_until(lock, wait, [&] { return g.stopping || g.flushRequests != requests; });
            if (tsc) {
                const std::uint64_t elapsed = monotonicNs() - mono0;
                if ((calibrations == 0 && elapsed >= 50'000'000) || (calibrations == 1 && elapsed >= 1'000'000'000)
                    || (calibrations == 2 && elapsed >= 10'000'000'000ull)) {
                    calibrate(tsc0, mono0);
                    ++calibrations;
                }
            }
            const bool due = std::chrono::steady_clock::now() >= next;
            if (!due && g.flushRequests == requests && !g.stopping)
                continue;
            if (due)
                next += Interval;
            if (next < std::chrono::steady_clock::now())
                next = std::chrono::steady_clock::now() + Interval;
            cycle(g, due);
            g.flushesDone = g.flushRequests;
            g.flushed.notify_all();
        }
        // Last words: whatever was recorded, then goodbye.
        cycle(g, true);
        if (g.fd >= 0) {
            std::string bye;
            wire::Writer w(bye);
            w.begin(wire::Goodbye);
            w.end();
            enqueue(g, std::move(bye));
            writePending(g);
        }
        g.flushesDone = g.flushRequests;
        g.flushed.notify_all();
    }

    void atExit()
    {
        Global& g = *g_global;
        {
            std::lock_guard lock(g.mutex);
            g.stopping = true;
        }
        g.wake.notify_all();
        if (g.flusher.joinable())
            g.flusher.join();
    }

    void atForkPrepare()
    {
        Global& g = *g_global;
        g.opsMutex.lock();
        g.threadsMutex.lock();
        g.metricsMutex.lock();
        g.mutex.lock();
    }

    void atForkParent()
    {
        Global& g = *g_global;
        g.mutex.unlock();
        g.metricsMutex.unlock();
        g.threadsMutex.unlock();
        g.opsMutex.unlock();
    }

    void atForkChild()
    {
        Global& g = *g_global;
        // The child is a new, separate client: its own connection, hello and counts. The parent's
        // threads do not exist here; what they recorded is the parent's to send.
        for (ThreadState* ts : g.threads) {
            if (ts == t_state) {
                for (auto& s : ts->slots) {
                    if (OpSlot* slot = s.load(std::memory_order_relaxed)) {
                        for (int i = 0; i <= wire::BucketCount; ++i)
                            slot->sent[i] = slot->counts[i].load(std::memory_order_relaxed);
                        slot->sentSum = slot->sum.load(std::memory_order_relaxed);
                        slot->sentErrors = slot->errors.load(std::memory_order_relaxed);
                    }
                }
                ts->tail.store(ts->head.load(std::memory_order_relaxed), std::memory_order_relaxed);
                ts->tid = std::uint64_t(syscall(SYS_gettid));
            }
        }
        g.threads.erase(std::remove_if(g.threads.begin(), g.threads.end(), [](ThreadState* ts) { return ts != t_state; }),
            g.threads.end()); // the others are left as they are: their memory is the parent's image
        if (g.fd >= 0)
            ::close(g.fd);
        g.fd = -1;
        g.welcomed = false;
        g.connected.store(false, std::memory_order_relaxed);
        g.pending.clear();
        g.pendingBytes = 0;
        g.pendingOffset = 0;
        g.history.clear();
        g.historyBytes = 0;
        g.inbox.clear();
        g.connectFailures = 0;
        g.nextConnectMs = 0;
        g.droppedBytes = 0;
        g.droppedOperations = 0;
        g.droppedBytesStat.store(0, std::memory_order_relaxed);
        g.droppedOperationsStat.store(0, std::memory_order_relaxed);
        g.deadThreadDrops.store(0, std::memory_order_relaxed);
        g.connects.store(0, std::memory_order_relaxed);
        g.framesSent.store(0, std::memory_order_relaxed);
        g.metricsChanged = !g.metrics.empty();
        g.commandLine.clear();
        describeProcess(g);
        g.flushRequests = g.flushesDone = 0;
        g.mutex.unlock();
        g.metricsMutex.unlock();
        g.threadsMutex.unlock();
        g.opsMutex.unlock();
        // g.flusher names the parent's thread, which does not exist here: it can be neither joined nor
        // detached, so a new one is constructed over it.
        new (&g.flusher) std::thread(flusherMain, std::ref(g));
    }

} // namespace

// ---- public API ---------------------------------------------------------------------------------

OpId operation(const char* name) noexcept
{
    if (!name || !*name)
        return InvalidOp;
    Global& g = global();
    if (g.disabled)
        return InvalidOp;
    try {
        std::lock_guard lock(g.opsMutex);
        if (auto it = g.opIds.find(name); it != g.opIds.end())
            return it->second;
        if (g.opNames.size() >= MaxOps)
            return InvalidOp;
        const auto id = OpId(g.opNames.size());
        g.opNames.emplace_back(name);
        g.opIds.emplace(name, id);
        g.opCount.store(id + 1, std::memory_order_release);
        return id;
    } catch (...) {
        return InvalidOp;
    }
}

namespace detail {
    std::uint64_t now(int& clock) noexcept
    {
        if (g_hot.tscReady.load(std::memory_order_relaxed)) {
            clock = 1;
            return __rdtsc();
        }
        clock = 0;
        return monotonicNs();
    }

    void finish(OpId op, std::uint64_t start, int clock, bool ok, std::unique_ptr<Meta> meta) noexcept
    {
        const std::uint64_t end = clock ? __rdtsc() : monotonicNs();
        const std::uint64_t ns = clock ? ticksToNs(end - start) : end - start;
        if (op >= MaxOps)
            return;
        if (ThreadState* ts = threadState())
            recordOn(ts, op, ns, ok, clock, end, meta.release());
    }
} // namespace detail

void record(OpId op, std::uint64_t ns, bool ok) noexcept
{
    if (op >= MaxOps)
        return;
    if (ThreadState* ts = threadState())
        recordOn(ts, op, ns, ok, 0, 0, nullptr);
}

void record(OpId op, std::uint64_t ns, bool ok, std::vector<std::pair<std::string, std::string>> meta) noexcept
{
    if (op >= MaxOps)
        return;
    if (ThreadState* ts = threadState())
        recordOn(ts, op, ns, ok, 0, 0, meta.empty() ? nullptr : new (std::nothrow) Meta(std::move(meta)));
}

void record(const char* name, std::uint64_t ns, bool ok) noexcept
{
    record(operation(name), ns, ok);
}

namespace {
    void setMetric(const char* name, std::uint8_t kind, double value, bool add) noexcept
    {
        if (!name || !*name)
            return;
        Global& g = global();
        if (g.disabled)
            return;
        try {
            std::lock_guard lock(g.metricsMutex);
            auto& entry = g.metrics[name];
            entry.first = kind;
            entry.second = add ? entry.second + value : value;
            g.metricsChanged = true;
        } catch (...) {
        }
    }
} // namespace

void counter(const char* name, double delta) noexcept
{
    setMetric(name, 1, delta, true);
}

void gauge(const char* name, double value) noexcept
{
    setMetric(name, 2, value, false);
}

void setSamplingRate(double rate) noexcept
{
    rate = std::clamp(rate, 0.0, 1.0);
    const std::uint64_t threshold = rate >= 1.0 ? ~std::uint64_t(0) : std::uint64_t(rate * 18446744073709551616.0);
    g_hot.sampleThreshold.store(threshold, std::memory_order_relaxed);
}

void setSlowThresholdNs(std::uint64_t ns) noexcept
{
    g_hot.slowNs.store(ns, std::memory_order_relaxed);
}

int flush(int timeoutMs) noexcept
{
    Global& g = global();
    if (g.disabled)
        return PERFDASH_DISABLED;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, timeoutMs));
    std::unique_lock lock(g.mutex);
    for (;;) {
        const std::uint64_t ticket = ++g.flushRequests;
        g.wake.notify_all();
        const bool cycled
            = g.flushed.wait_until(lock, deadline, [&] { return g.flushesDone >= ticket || g.stopping; });
        if (cycled && g.fd >= 0 && g.pending.empty())
            return PERFDASH_OK;
        if (!cycled || g.stopping || std::chrono::steady_clock::now() >= deadline)
            return g.fd < 0 ? PERFDASH_ENOTCONNECTED : PERFDASH_ETIMEDOUT;
        // Not connected yet (the next attempt is due soon) or the socket is full: try again shortly.
        g.flushed.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(10)));
    }
}

ClientStats stats() noexcept
{
    Global& g = global();
    ClientStats s;
    s.enabled = !g.disabled;
    s.connected = g.connected.load(std::memory_order_relaxed);
    s.connects = g.connects.load(std::memory_order_relaxed);
    s.droppedBytes = g.droppedBytesStat.load(std::memory_order_relaxed);
    s.droppedOperations = g.droppedOperationsStat.load(std::memory_order_relaxed);
    s.framesSent = g.framesSent.load(std::memory_order_relaxed);
    std::uint64_t dropped = g.deadThreadDrops.load(std::memory_order_relaxed);
    {
        std::lock_guard lock(g.threadsMutex);
        for (ThreadState* ts : g.threads)
            dropped += ts->dropped.load(std::memory_order_relaxed);
    }
    s.droppedEvents = dropped;
    return s;
}

} // namespace perfdash
