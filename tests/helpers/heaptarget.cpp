// SPDX-License-Identifier: GPL-3.0-or-later
// Test helper for the heap preload (tests/heap/heap_unit.cpp): a program whose heap the tests know.
//   perfdash_heap_target MODE [SECONDS]
// It prints, one line each (write(2) of a stack buffer: stdio would allocate):
//   site NAME 0xADDRESS SIZE    each allocation site (a noinline function; its size from the
//                               dynamic symbol table, so the program is linked with -rdynamic)
//   pid PID
//   ready
// then waits for "go" on stdin (EOF: it exits; HEAPTARGET_GO=1 in its environment: no wait), runs MODE, prints what it
// knows of its own heap
//   truth BYTES ALLOCS FREES    usable bytes it holds (malloc_usable_size), and the allocations and
//                               frees it made, counted as the preload counts them (realloc = a free
//                               and an allocation)
// and "done", then waits for stdin's EOF or SECONDS (default 60) before it exits.
// Built with PERFDASH_HEAPTARGET_STATIC it is linked -static; with PERFDASH_HEAPTARGET_OWN_MALLOC
// it defines malloc itself (below). Modes:
//   exact      5,000 blocks of mixed sizes (malloc, calloc, new[]), about half freed
//   sites      hold_site holds 16 x 2 MiB ("hold BYTES"); a thread's leak_site leaks 20 KiB every
//              10 ms (2 MB/s); a thread's churn_site allocates and frees 20,000 small blocks every
//              10 ms (16 alive at a time). Runs until EOF or SECONDS; no "truth". Each line "leaked"
//              on stdin prints "leaked BYTES": the usable bytes leak_site has leaked so far (its
//              live bytes). With HEAPTARGET_REPORT_MS=N in its environment, a thread prints every N ms
//              "live WALL_MS BYTES": the usable bytes the three sites hold (the heap in use, but for
//              the C library's own few KiB), at CLOCK_REALTIME milliseconds.
//   threads    200 rounds of 4 threads started and joined; each thread keeps 100 blocks of 100 B
//              and frees 20 more: too few to fold before its end
//   realloc    64 chains of 200 reallocs growing and shrinking (and reallocarray), half freed
//   aligned    4,000 blocks from posix_memalign, aligned_alloc, memalign, valloc, pvalloc, half
//              freed; "misaligned N" counts blocks not aligned as asked
//   signal     SIGALRM every 500 us whose handler allocates and frees while the main thread
//              allocates and frees in a loop for SECONDS (default 2); "handled N"
//   fork       holds 8 MiB while a thread churns; forks 40 times: even children allocate 16 MiB
//              and exit(), odd ones exec this program as "child"; "forks N hung M"
//   child      (exec'd by fork) allocates 16 MiB, prints "child-owner OWNER PID" (the channel's
//              owner, read from PERFDASH_HEAP_SHM) and exits
//   vfork      a vfork child that tries /bin/true at two paths that do not exist, then at /bin/true
//              (as a PATH search does, Python's subprocess for one): one child, three execs
//   reexec     holds 4 MiB, prints truth and "done", waits for "exec" and execs itself as "exact"
//              (same pid: the new image takes the channel over)
#include "heap/heapwire.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

// glibc only: pvalloc is not in musl.
#ifndef __GLIBC__
#define NO_PVALLOC 1
#endif

// Built with PERFDASH_HEAPTARGET_OWN_MALLOC (glibc): a program with an allocator of its own, as
// programs that link one statically are: malloc, free, calloc and realloc defined here (on glibc's
// __libc_ functions), which every library's calls resolve to. The preload's hooks never run; it
// must say so.
#if defined(PERFDASH_HEAPTARGET_OWN_MALLOC) && defined(__GLIBC__)
extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
__attribute__((visibility("default"))) void* malloc(size_t n) noexcept
{
    return __libc_malloc(n);
}
__attribute__((visibility("default"))) void free(void* p) noexcept
{
    __libc_free(p);
}
__attribute__((visibility("default"))) void* calloc(size_t count, size_t size) noexcept
{
    return __libc_calloc(count, size);
}
__attribute__((visibility("default"))) void* realloc(void* p, size_t n) noexcept
{
    return __libc_realloc(p, n);
}
}
#endif

namespace {

void say(const char* format, ...) __attribute__((format(printf, 1, 2)));
void say(const char* format, ...)
{
    char line[256];
    va_list args;
    va_start(args, format);
    const int n = std::vsnprintf(line, sizeof line - 1, format, args);
    va_end(args);
    if (n <= 0)
        return;
    std::size_t length = std::size_t(n) < sizeof line - 1 ? std::size_t(n) : sizeof line - 2;
    line[length++] = '\n';
    for (std::size_t done = 0; done < length;) {
        const ssize_t w = ::write(1, line + done, length - done);
        if (w <= 0 && errno != EINTR)
            return;
        if (w > 0)
            done += std::size_t(w);
    }
}

double monotonic()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

double g_deadline = 0;

/// Reads stdin until a line equal to @p word (true), EOF or the deadline (false).
bool waitForLine(const char* word)
{
    static char buffer[256];
    static std::size_t used = 0;
    for (;;) {
        while (void* newline = std::memchr(buffer, '\n', used)) {
            const std::size_t length = std::size_t(static_cast<char*>(newline) - buffer);
            buffer[length] = '\0';
            const bool match = std::strcmp(buffer, word) == 0;
            std::memmove(buffer, buffer + length + 1, used - length - 1);
            used -= length + 1;
            if (match)
                return true;
        }
        const double left = g_deadline - monotonic();
        if (left <= 0)
            return false;
        pollfd p { 0, POLLIN, 0 };
        if (::poll(&p, 1, int(left * 1000) + 1) <= 0)
            continue;
        if (used == sizeof buffer)
            used = 0; // a line too long for us: not a command
        const ssize_t n = ::read(0, buffer + used, sizeof buffer - used);
        if (n == 0)
            return false;
        if (n > 0)
            used += std::size_t(n);
    }
}

void waitForEnd()
{
    waitForLine("\x01never");
}

std::uint64_t g_rng = 0x2545f4914f6cdd1dull;
std::uint64_t random64()
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}
std::size_t randomIn(std::size_t low, std::size_t high)
{
    return low + std::size_t(random64() % (high - low + 1));
}

/// What this program knows of its own heap.
struct Truth
{
    std::uint64_t bytes = 0, allocs = 0, frees = 0;
    void allocated(void* p)
    {
        bytes += malloc_usable_size(p);
        ++allocs;
    }
    void freeing(void* p)
    {
        bytes -= malloc_usable_size(p);
        ++frees;
    }
    void print() const
    {
        say("truth %llu %llu %llu", static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(allocs),
            static_cast<unsigned long long>(frees));
    }
};

std::atomic<bool> g_stop { false };

} // namespace

// ---- the allocation sites: noinline, exported, each a stack frame of its own ----------------------
// Something follows each call, so that the call is not a tail call (the frame would be gone).

extern "C" {
void* volatile g_sink;
void* g_hold[16];
void* g_leaks[20000];
std::atomic<int> g_leakCount { 0 };
void* g_churn[16];
std::atomic<unsigned long long> g_leakedBytes { 0 }; // usable bytes leak_site leaked so far
std::atomic<unsigned long long> g_churnBytes { 0 }; // usable bytes churn_site holds now

__attribute__((noinline, visibility("default"))) void hold_site(Truth* truth)
{
    for (auto& p : g_hold) {
        p = std::malloc(2u << 20);
        std::memset(p, 1, 4096);
        truth->allocated(p);
    }
}

__attribute__((noinline, visibility("default"))) void leak_site()
{
    const int i = g_leakCount.load();
    if (i >= int(sizeof g_leaks / sizeof g_leaks[0]))
        return;
    void* p = std::malloc(20 * 1024);
    g_leaks[i] = p;
    g_leakedBytes.fetch_add(malloc_usable_size(p));
    g_leakCount.store(i + 1);
}

__attribute__((noinline, visibility("default"))) void churn_site(int rounds)
{
    for (int i = 0; i < rounds; ++i) {
        void*& slot = g_churn[i & 15];
        std::free(slot);
        slot = std::malloc(64);
        static_cast<char*>(slot)[0] = char(i);
    }
    unsigned long long held = 0;
    for (void* p : g_churn)
        held += p ? malloc_usable_size(p) : 0;
    g_churnBytes.store(held);
}
}

namespace {

const char* const SiteNames[] = { "hold_site", "leak_site", "churn_site" };

void printSites()
{
    void* const sites[] = { reinterpret_cast<void*>(&hold_site), reinterpret_cast<void*>(&leak_site),
        reinterpret_cast<void*>(&churn_site) };
    for (std::size_t i = 0; i < 3; ++i) {
        unsigned long size = 0;
#ifndef PERFDASH_HEAPTARGET_STATIC
        Dl_info info {};
        void* entry = nullptr; // an ElfW(Sym)*
        if (dladdr1(sites[i], &info, &entry, RTLD_DL_SYMENT) && entry)
            size = static_cast<unsigned long>(static_cast<const ElfW(Sym)*>(entry)->st_size);
#endif
        say("site %s %p %lu", SiteNames[i], sites[i], size);
    }
}

// ---- modes ----------------------------------------------------------------------------------------

void exactMode()
{
    static void* blocks[5000];
    static bool newed[5000];
    Truth truth;
    for (std::size_t i = 0; i < 5000; ++i) {
        const std::size_t kind = randomIn(0, 99);
        const std::size_t size = kind < 70 ? randomIn(1, 512)
            : kind < 95                    ? randomIn(513, 64 * 1024)
                                           : randomIn(65537, 256 * 1024);
        newed[i] = kind % 7 == 1;
        if (kind % 7 == 0)
            blocks[i] = std::calloc(1, size);
        else if (newed[i])
            blocks[i] = new char[size]; // operator new[]: libstdc++ calls malloc
        else
            blocks[i] = std::malloc(size);
        truth.allocated(blocks[i]);
    }
    for (std::size_t i = 0; i < 5000; ++i) {
        if (random64() % 2 == 0) {
            truth.freeing(blocks[i]);
            if (newed[i])
                delete[] static_cast<char*>(blocks[i]);
            else
                std::free(blocks[i]);
            blocks[i] = nullptr;
        }
    }
    truth.print();
}

struct ThreadBlocks
{
    void* kept[100];
};
ThreadBlocks g_threadBlocks[800];

void* threadBody(void* arg)
{
    ThreadBlocks& mine = *static_cast<ThreadBlocks*>(arg);
    for (auto& p : mine.kept)
        p = std::malloc(100);
    for (int i = 0; i < 20; ++i) {
        void* p = std::malloc(64);
        g_sink = p;
        std::free(p);
    }
    return nullptr;
}

void threadsMode()
{
    Truth truth;
    for (int round = 0; round < 200; ++round) {
        pthread_t threads[4];
        for (int i = 0; i < 4; ++i)
            pthread_create(&threads[i], nullptr, threadBody, &g_threadBlocks[round * 4 + i]);
        for (auto& t : threads)
            pthread_join(t, nullptr);
    }
    for (auto& b : g_threadBlocks)
        for (void* p : b.kept)
            truth.allocated(p);
    truth.allocs += 800 * 20; // and freed
    truth.frees += 800 * 20;
    truth.print();
}

void reallocMode()
{
    static void* chains[64];
    Truth truth;
    for (auto& p : chains) {
        for (int step = 0; step < 200; ++step) {
            const std::size_t size
                = random64() % 4 == 0 ? randomIn(1, 256) : randomIn(1, std::size_t(1) << (step % 21));
            if (p)
                truth.freeing(p);
            if (step % 10 == 9) {
                void* q = reallocarray(p, size, 3);
                p = q;
            } else {
                p = std::realloc(p, size);
            }
            truth.allocated(p);
        }
    }
#ifdef __GLIBC__
    // realloc(p, 0) frees (glibc): one chain.
    truth.freeing(chains[0]);
    if (std::realloc(chains[0], 0) != nullptr)
        say("unexpected realloc(p, 0) result");
    chains[0] = nullptr;
#endif
    for (std::size_t i = 1; i < 64; i += 2) {
        truth.freeing(chains[i]);
        std::free(chains[i]);
        chains[i] = nullptr;
    }
    truth.print();
}

void alignedMode()
{
    static void* blocks[4000];
    Truth truth;
    const std::size_t alignments[] = { 16, 32, 64, 256, 4096, 65536 };
    int misaligned = 0;
    const std::size_t page = std::size_t(sysconf(_SC_PAGESIZE));
    for (std::size_t i = 0; i < 4000; ++i) {
        std::size_t alignment = alignments[randomIn(0, 5)];
        std::size_t size = randomIn(1, 20000);
        void* p = nullptr;
        switch (i % 5) {
        case 0:
            if (posix_memalign(&p, alignment, size) != 0)
                p = nullptr;
            break;
        case 1:
            size = (size + alignment - 1) / alignment * alignment;
            p = aligned_alloc(alignment, size);
            break;
        case 2:
            p = memalign(alignment, size);
            break;
        case 3:
            alignment = page;
            p = valloc(size);
            break;
        default:
            alignment = page;
#ifdef NO_PVALLOC
            p = valloc(size);
#else
            p = pvalloc(size);
#endif
            break;
        }
        if (!p || reinterpret_cast<std::uintptr_t>(p) % alignment != 0)
            ++misaligned;
        blocks[i] = p;
        if (p)
            truth.allocated(p);
    }
    for (auto& p : blocks) {
        if (p && random64() % 2) {
            truth.freeing(p);
            std::free(p);
            p = nullptr;
        }
    }
    say("misaligned %d", misaligned);
    truth.print();
}

// The handler frees a block and allocates one of the same size class (208-byte chunks), which the
// main loop never uses: glibc's malloc is not async-signal-safe, but its per-thread cache serves
// such a handler from the block it just freed, without a lock and never from the bins the main loop
// is using. (A handler whose cache runs dry enters the arena code, maybe in the middle of the main
// loop's own call: glibc then aborts, preload or not.) What is tested is the preload: a handler that
// allocates in the middle of the preload's counting, and its own unwinding when a block is sampled.
void* g_signalRing[64];
volatile sig_atomic_t g_signalNext = 0;
std::atomic<std::uint64_t> g_handled { 0 };

void onAlarm(int)
{
    const int saved = errno;
    const int i = g_signalNext;
    std::free(g_signalRing[i]);
    g_signalRing[i] = std::malloc(200);
    g_signalNext = (i + 1) % 64;
    g_handled.fetch_add(1, std::memory_order_relaxed);
    errno = saved;
}

void signalMode(double seconds)
{
    static void* held[4096];
    Truth truth;
    // The handler's ring full before the first signal, and two blocks of its class in the cache.
    for (auto& p : g_signalRing)
        p = std::malloc(200);
    void* warm[2] = { std::malloc(200), std::malloc(200) };
    std::free(warm[0]);
    std::free(warm[1]);
    truth.allocs += 64 + 2;
    truth.frees += 2;
    struct sigaction action = {};
    action.sa_handler = onAlarm;
    action.sa_flags = SA_RESTART;
    sigemptyset(&action.sa_mask);
    sigaction(SIGALRM, &action, nullptr);
    itimerval timer {};
    timer.it_interval.tv_usec = 500;
    timer.it_value.tv_usec = 500;
    setitimer(ITIMER_REAL, &timer, nullptr);
    const double end = monotonic() + seconds;
    std::size_t kept = 0;
    for (std::uint64_t i = 0;; ++i) {
        void* p = std::malloc(48);
        g_sink = p;
        std::free(p);
        truth.allocs += 1;
        truth.frees += 1;
        if (i % 1024 == 0) {
            if (kept < 4096) {
                held[kept] = std::malloc(1000);
                truth.allocated(held[kept]);
                ++kept;
            }
            if (monotonic() > end)
                break;
        }
    }
    timer = {};
    setitimer(ITIMER_REAL, &timer, nullptr);
    signal(SIGALRM, SIG_IGN); // a SIGALRM still pending must not end the program
    const std::uint64_t handled = g_handled.load();
    truth.allocs += handled;
    truth.frees += handled;
    for (void* p : g_signalRing)
        truth.bytes += malloc_usable_size(p);
    say("handled %llu", static_cast<unsigned long long>(handled));
    truth.print();
}

std::atomic<bool> g_churnStop { false };
std::atomic<std::uint64_t> g_churned { 0 }; // the churn thread's allocations so far
void* churnThread(void*)
{
    static void* ring[32];
    for (std::uint64_t i = 0; !g_churnStop.load(std::memory_order_relaxed); ++i) {
        void*& slot = ring[i % 32];
        std::free(slot);
        slot = std::malloc(16 + i % 300);
        g_churned.store(i + 1, std::memory_order_relaxed);
    }
    for (auto& p : ring) {
        std::free(p);
        p = nullptr;
    }
    return nullptr;
}

void forkMode(const char* self)
{
    static void* held[8];
    Truth truth;
    for (auto& p : held) {
        p = std::malloc(1u << 20);
        truth.allocated(p);
    }
    pthread_t churn;
    pthread_create(&churn, nullptr, churnThread, nullptr);
    int forks = 0, hung = 0, failed = 0;
    for (int i = 0; i < 40; ++i) {
        const pid_t child = fork();
        if (child < 0) {
            ++failed;
            continue;
        }
        if (child == 0) {
            if (i % 2) {
                char* const argv[] = { const_cast<char*>(self), const_cast<char*>("child"), nullptr };
                execv(self, argv);
                _exit(127);
            }
            for (int k = 0; k < 16; ++k)
                g_sink = std::malloc(1u << 20);
            std::exit(0); // through the exit handlers: the preload's must not report either
        }
        ++forks;
        // A child that hangs (a deadlock after fork) is killed after 20 s and counted.
        const double limit = monotonic() + 20;
        int status = 0;
        pid_t done = 0;
        while ((done = waitpid(child, &status, WNOHANG)) == 0 && monotonic() < limit)
            usleep(1000);
        if (done == 0) {
            ++hung;
            kill(child, SIGKILL);
            waitpid(child, &status, 0);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            ++failed;
        }
    }
    // However fast the forks went, the churn thread made enough allocations to tell.
    while (g_churned.load(std::memory_order_relaxed) < 200000)
        usleep(1000);
    g_churnStop = true;
    pthread_join(churn, nullptr);
    say("forks %d hung %d failed %d", forks, hung, failed);
    say("churned %llu", static_cast<unsigned long long>(g_churned.load()));
    truth.print();
}

void childMode()
{
    for (int k = 0; k < 16; ++k)
        g_sink = std::malloc(1u << 20);
    unsigned owner = 0;
    if (const char* path = std::getenv(perfdash::heapwire::ShmEnv)) {
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            void* base = ::mmap(nullptr, perfdash::heapwire::HeaderBytes, PROT_READ, MAP_SHARED, fd, 0);
            if (base != MAP_FAILED) {
                owner = static_cast<const perfdash::heapwire::Header*>(base)->ownerPid.load();
                ::munmap(base, perfdash::heapwire::HeaderBytes);
            }
            ::close(fd);
        }
    }
    say("child-owner %u %d", owner, int(getpid()));
}

void reexecMode(const char* self, const char* seconds)
{
    static void* held[4];
    Truth truth;
    for (auto& p : held) {
        p = std::malloc(1u << 20);
        truth.allocated(p);
    }
    truth.print();
    say("done");
    if (!waitForLine("exec"))
        return;
    char* const argv[] = { const_cast<char*>(self), const_cast<char*>("exact"), const_cast<char*>(seconds), nullptr };
    execv(self, argv);
    say("exec failed");
}

} // namespace

/// One vfork child that execs along a search path: two misses, then /bin/true.
void vforkMode()
{
    char arg0[] = "true";
    char* const args[] = { arg0, nullptr };
    const pid_t pid = vfork();
    if (pid == 0) {
        execve("/nonexistent-a/true", args, environ);
        execve("/nonexistent-b/true", args, environ);
        execve("/bin/true", args, environ);
        _exit(127);
    }
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    say("vforked %d", pid > 0 && WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int main(int argc, char** argv)
{
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODE [SECONDS]\n", argv[0]);
        return 2;
    }
    const char* mode = argv[1];
    const double seconds = argc > 2 ? std::atof(argv[2]) : 60;
    g_deadline = monotonic() + (std::strcmp(mode, "signal") == 0 ? 60 : seconds);
    if (std::strcmp(mode, "child") == 0) {
        childMode();
        return 0;
    }
    printSites();
    say("pid %d", int(getpid()));
    say("ready");
    // Launched by perfdash (its stdin is not ours to write): HEAPTARGET_GO=1 starts at once.
    const char* go = std::getenv("HEAPTARGET_GO");
    if (!(go && std::strcmp(go, "1") == 0) && !waitForLine("go"))
        return 0;
    if (std::strcmp(mode, "exact") == 0) {
        exactMode();
    } else if (std::strcmp(mode, "threads") == 0) {
        threadsMode();
    } else if (std::strcmp(mode, "realloc") == 0) {
        reallocMode();
    } else if (std::strcmp(mode, "aligned") == 0) {
        alignedMode();
    } else if (std::strcmp(mode, "signal") == 0) {
        signalMode(argc > 2 ? seconds : 2);
    } else if (std::strcmp(mode, "fork") == 0) {
        forkMode(argv[0]);
    } else if (std::strcmp(mode, "vfork") == 0) {
        vforkMode();
    } else if (std::strcmp(mode, "reexec") == 0) {
        reexecMode(argv[0], argc > 2 ? argv[2] : "60");
        return 0;
    } else if (std::strcmp(mode, "sites") == 0) {
        Truth truth;
        hold_site(&truth);
        say("hold %llu", static_cast<unsigned long long>(truth.bytes));
        pthread_t leak, churn;
        pthread_create(
            &leak, nullptr,
            [](void*) -> void* {
                while (!g_stop.load()) {
                    leak_site();
                    usleep(10000);
                }
                return nullptr;
            },
            nullptr);
        pthread_create(
            &churn, nullptr,
            [](void*) -> void* {
                while (!g_stop.load()) {
                    churn_site(20000);
                    usleep(10000);
                }
                return nullptr;
            },
            nullptr);
        static unsigned long long held = truth.bytes;
        pthread_t reporter {};
        const char* reportMs = std::getenv("HEAPTARGET_REPORT_MS");
        static const int every = reportMs ? std::atoi(reportMs) : 0;
        if (every > 0)
            pthread_create(
                &reporter, nullptr,
                [](void*) -> void* {
                    while (!g_stop.load()) {
                        timespec now;
                        clock_gettime(CLOCK_REALTIME, &now);
                        const long long ms = static_cast<long long>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
                        say("live %lld %llu", ms, held + g_leakedBytes.load() + g_churnBytes.load());
                        usleep(useconds_t(every) * 1000);
                    }
                    return nullptr;
                },
                nullptr);
        while (waitForLine("leaked"))
            say("leaked %llu", g_leakedBytes.load());
        g_stop = true;
        pthread_join(leak, nullptr);
        pthread_join(churn, nullptr);
        if (every > 0)
            pthread_join(reporter, nullptr);
        return 0;
    } else {
        std::fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    say("done");
    waitForEnd();
    return 0;
}
