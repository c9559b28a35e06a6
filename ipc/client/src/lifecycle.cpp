// SPDX-License-Identifier: MIT
// The client's life: the lazy start, fork() and exit.
#include "flusher.h"
#include "metrics.h"
#include "nametable.h"
#include "scoperings.h"
#include "settings.h"
#include "threadstate.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

namespace perfdash {

extern NameTable g_ops; // api.cpp

namespace {
std::atomic<Global*> g_global { nullptr };
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
    g.commandLine.clear();
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

void atExit()
{
    Global& g = *g_global.load();
    {
        std::lock_guard lock(g.mutex);
        g.stopping = true;
    }
    g.wake.notify_all();
    if (g.flusher.joinable())
        g.flusher.join();
    // The last interval is out: later recordings (static destructors) can only be counted.
    settings::g_hot.exited.store(true, std::memory_order_relaxed);
}

// One lock order for fork() as everywhere else: the flusher's cycle first (it takes the
// others inside), then its mutex, then the tables and the thread list. forking keeps the
// flusher from starting cycle after cycle while this waits.
void atForkPrepare()
{
    Global& g = *g_global.load();
    g.forking.store(true);
    g.cycleMutex.lock();
    g.mutex.lock();
    g_ops.mutex().lock();
    metrics::g_table.names.mutex().lock();
    threads().mutex.lock();
}

// What atForkPrepare() took, in the reverse order.
void unlockAfterFork(Global& g)
{
    threads().mutex.unlock();
    metrics::g_table.names.mutex().unlock();
    g_ops.mutex().unlock();
    g.mutex.unlock();
    g.cycleMutex.unlock();
    g.forking.store(false);
}

void atForkParent()
{
    Global& g = *g_global.load();
    unlockAfterFork(g);
    g.wake.notify_all();
}

void atForkChild()
{
    Global& g = *g_global.load();
    // The child is a new, separate client: its own connection, hello and counts, starting
    // from zero. The parent's threads do not exist here; what they recorded is the parent's.
    Threads& all = threads();
    ThreadState* self = currentState();
    if (self) {
        for (auto& p : self->ops) {
            OpPage* page = p.load(std::memory_order_relaxed);
            for (int i = 0; page && i < 64; ++i) {
                OpSlot* slot = page->slots[i].load(std::memory_order_relaxed);
                if (!slot)
                    continue;
                for (auto& b : slot->pages)
                    if (BucketPage* bp = b.load(std::memory_order_relaxed))
                        for (int j = 0; j < 64; ++j)
                            bp->sent[j] = bp->counts[j].load(std::memory_order_relaxed);
                slot->sentCount = slot->count.load(std::memory_order_relaxed);
                slot->sentSum = slot->sum.load(std::memory_order_relaxed);
                slot->sentErrors = slot->errors.load(std::memory_order_relaxed);
                slot->min.store(~std::uint64_t(0), std::memory_order_relaxed);
                slot->max.store(0, std::memory_order_relaxed);
            }
        }
        if (RawEvent* ring = self->ring.load(std::memory_order_relaxed)) {
            for (std::uint32_t i = self->tail.load(std::memory_order_relaxed);
                 i != self->head.load(std::memory_order_relaxed); ++i) {
                delete ring[i % RingSize].meta;
                ring[i % RingSize].meta = nullptr;
            }
        }
        self->tail.store(self->head.load(std::memory_order_relaxed), std::memory_order_relaxed);
        // The parent's last operation, not folded in: the parent's to count.
        self->pendingBucket.store(nullptr, std::memory_order_relaxed);
        self->countedAhead = 1;
        self->droppedEvents.store(0, std::memory_order_relaxed);
        self->droppedOperations.store(0, std::memory_order_relaxed);
        self->reentered.store(0, std::memory_order_relaxed);
        self->tid = currentTid();
    }
    // The others are left as they are: their memory is the parent's image.
    all.list.erase(std::remove_if(all.list.begin(), all.list.end(), [self](ThreadState* ts) { return ts != self; }),
        all.list.end());
    all.deadDroppedEvents.store(0, std::memory_order_relaxed);
    all.deadDroppedOperations.store(0, std::memory_order_relaxed);
    all.deadReentered.store(0, std::memory_order_relaxed);
    all.bytes.store(
        self ? sizeof(ThreadState) + self->bytes.load(std::memory_order_relaxed) : 0, std::memory_order_relaxed);
    metrics::resetForChild();
    tracingAfterFork(self);
    if (g.fd >= 0)
        ::close(g.fd);
    g.fd = -1;
    forgetStream(g);
    g.rejected = false;
    g.connected.store(false, std::memory_order_relaxed);
    g.pending.clear();
    g.pendingBytes = 0;
    g.pendingOffset = 0;
    g.history.clear();
    g.historyBytes = 0;
    g.connectFailures = 0;
    g.nextConnectMs = 0;
    g.droppedBytes = 0;
    g.droppedOperations = 0;
    g.lastDropsSent = ~std::uint64_t(0);
    g.droppedBytesStat.store(0, std::memory_order_relaxed);
    g.droppedOperationsStat.store(0, std::memory_order_relaxed);
    g.rejectedOperations.store(0, std::memory_order_relaxed);
    g.unreadOperations.store(0, std::memory_order_relaxed);
    g.exitOperations.store(0, std::memory_order_relaxed);
    g.truncatedMeta.store(0, std::memory_order_relaxed);
    g.unnamed.store(0, std::memory_order_relaxed);
    g.connects.store(0, std::memory_order_relaxed);
    g.framesSent.store(0, std::memory_order_relaxed);
    describeProcess(g);
    g.flushRequests = g.flushesDone = 0;
    // The parent's waiters (a thread in flush(), the flusher) are copied into the condition
    // variables' state but do not exist here: waiting on them would wait for those forever.
    new (&g.wake) std::condition_variable;
    new (&g.flushed) std::condition_variable;
    unlockAfterFork(g);
    g.linkUp.store(false);
    g.drained.store(false);
    // g.flusher names the parent's thread, which does not exist here: it can be neither joined nor
    // detached, so a new one is constructed over it.
    new (&g.flusher) std::thread(flusherMain, std::ref(g));
}
} // namespace

Global& global() noexcept
{
    if (Global* g = g_global.load(std::memory_order_acquire))
        return *g;
    std::call_once(g_once, [] {
        auto* g = new Global; // never deleted: threads may record until the very end
        const char* disable = std::getenv("PERFDASH_DISABLE");
        g->disabled = disable && *disable && std::strcmp(disable, "0") != 0;
        settings::applyEnvironment(); // what the program set before this holds
        g->heap = settings::heapReportingRequested();
        g->socketPath = defaultSocketPath();
        if (const char* exitTimeout = std::getenv("PERFDASH_EXIT_TIMEOUT_MS"); exitTimeout && *exitTimeout)
            g->exitTimeoutMs = int(std::clamp(std::strtol(exitTimeout, nullptr, 10), 0L, 60'000L));
        describeProcess(*g);
        g->originMono = clock::monotonicNs();
        g->originWall = clock::wallNs();
        initThreadKey();
        g_global.store(g, std::memory_order_release);
        if (!g->disabled) {
            pthread_atfork(atForkPrepare, atForkParent, atForkChild);
            g->flusher = std::thread(flusherMain, std::ref(*g));
            std::atexit(atExit);
        }
    });
    return *g_global.load(std::memory_order_acquire);
}

Global* startedGlobal() noexcept
{
    return g_global.load(std::memory_order_acquire);
}

} // namespace perfdash
