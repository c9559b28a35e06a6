// SPDX-License-Identifier: GPL-3.0-or-later
// Test helper for per-operation profiles (tst_operationprofile): an instrumented process
// whose CPU and waits are known, operation by operation.
//
//   perfdash_test_opworkload SECONDS [SUMMARY_FILE]
//
// It connects to the dashboard (PERFDASH_SOCKET), waits about a second so that the dashboard has
// asked it to record its scopes for the profiler, then for SECONDS runs two threads:
//   rounds    op.outer { spinOuter (0.5 ms busy); op.inner { spinInner (3 ms busy) }; spinOuter again }
//             op.wait { waitForDatabase (10 ms asleep, nothing else) }
//             outsideWork (2 ms busy, in no operation)
//   requests  op.request { handleRequest (1 ms busy); one instance in ten: slowPath (15 ms busy) }
//             then 1 ms asleep in no operation
// Busy loops burn CPU for real (a volatile accumulator, the clock read every few hundred steps).
// Every named function is kept out of line and is no tail call, so that it is on the stacks of
// its samples. Busy loops burn a fixed amount of CPU time (slower when the machine is busy).
// At the end it writes to SUMMARY_FILE (and stdout) what it did, one "key value" a line:
//   pid P / rounds N / requests N / slow_requests N / sleep_us N (the time spent in waitForDatabase's sleeps)
//   {outer,inner,wait}_{count,wall_us,cpu_us}: the instances of op.outer, op.inner and op.wait as
//   the program measured them (wall time, and its thread's CPU time, from inside the scope)
#include <perfdash/perfdash.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <thread>
#include <unistd.h>

// noipa: no inlining, no cloning, no merging of functions with identical bodies (GCC's ICF would
// otherwise fold handleRequest and spinOuter into one symbol).
#if defined(__clang__)
#define OPWORKLOAD_KEEP __attribute__((noinline, optnone))
#else
#define OPWORKLOAD_KEEP __attribute__((noipa))
#endif

namespace {
std::atomic<long long> g_sink { 0 };
std::atomic<long long> g_sleepNs { 0 };

long long now()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

long long threadCpu()
{
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1'000'000'000LL + ts.tv_nsec;
}

// Inlined into each named function: its samples are that function's. Burns @p ns of this thread's
// CPU time, however busy the machine is (then it takes longer): the split of CPU between the
// functions is the same on any machine. The cheap clock is read most of the time; the thread's
// CPU clock (a system call) only once the wall time has passed, every ~50 us.
inline __attribute__((always_inline)) void burn(long long ns, unsigned seed)
{
    const long long cpuUntil = threadCpu() + ns;
    long long until = now() + ns;
    volatile unsigned x = seed;
    for (;;) {
        for (int i = 0; i < 256; ++i)
            x = x * 1664525u + 1013904223u;
        const long long t = now();
        if (t < until)
            continue;
        const long long left = cpuUntil - threadCpu();
        if (left <= 0)
            break;
        until = t + std::min(left, 50'000LL);
    }
    g_sink.fetch_add(x, std::memory_order_relaxed); // after the loop: no tail call
}

/// What an operation's instances took, measured here: wall time and this thread's CPU time.
struct Truth
{
    long long wallNs = 0;
    long long cpuNs = 0;
    long count = 0;
};
Truth g_outer, g_inner, g_wait; // written by the rounds thread only, read after it ended

/// A perfdash::Scope that also measures the instance (the readings inside the scope).
class MeasuredScope
{
public:
    MeasuredScope(perfdash::OpId op, Truth& truth)
        : m_scope(op)
        , m_truth(truth)
        , m_wall(now())
        , m_cpu(threadCpu())
    {
    }
    ~MeasuredScope()
    {
        m_truth.cpuNs += threadCpu() - m_cpu;
        m_truth.wallNs += now() - m_wall;
        ++m_truth.count;
    }
    MeasuredScope(const MeasuredScope&) = delete;
    MeasuredScope& operator=(const MeasuredScope&) = delete;

private:
    perfdash::Scope m_scope;
    Truth& m_truth;
    long long m_wall;
    long long m_cpu;
};

void sleepNs(long long ns)
{
    timespec ts { time_t(ns / 1'000'000'000LL), long(ns % 1'000'000'000LL) };
    while (::nanosleep(&ts, &ts) != 0 && errno == EINTR) { }
}
} // namespace

OPWORKLOAD_KEEP void spinInner()
{
    burn(3'000'000, 1);
}
OPWORKLOAD_KEEP void spinOuter()
{
    burn(500'000, 2);
}
OPWORKLOAD_KEEP void handleRequest()
{
    burn(1'000'000, 3);
}
OPWORKLOAD_KEEP void slowPath()
{
    burn(15'000'000, 4);
}
OPWORKLOAD_KEEP void outsideWork()
{
    burn(2'000'000, 5);
}

OPWORKLOAD_KEEP void waitForDatabase()
{
    const long long t0 = now();
    sleepNs(10'000'000);
    g_sleepNs.fetch_add(now() - t0, std::memory_order_relaxed); // after the sleep: no tail call
}

OPWORKLOAD_KEEP void pauseBetweenRequests()
{
    sleepNs(1'000'000);
    g_sink.fetch_add(1, std::memory_order_relaxed);
}

namespace {
long rounds(long long until)
{
    static const perfdash::OpId outer = perfdash::operation("op.outer");
    static const perfdash::OpId inner = perfdash::operation("op.inner");
    static const perfdash::OpId wait = perfdash::operation("op.wait");
    long n = 0;
    while (now() < until) {
        {
            MeasuredScope outerScope(outer, g_outer);
            spinOuter();
            {
                MeasuredScope innerScope(inner, g_inner);
                spinInner();
            }
            spinOuter(); // after the inner one ended too: the outer is the innermost again
        }
        {
            MeasuredScope waitScope(wait, g_wait);
            waitForDatabase();
        }
        outsideWork();
        ++n;
    }
    return n;
}

void requests(long long until, long* total, long* slow)
{
    static const perfdash::OpId request = perfdash::operation("op.request");
    long n = 0, s = 0;
    while (now() < until) {
        {
            perfdash::Scope scope(request);
            handleRequest();
            if (n % 10 == 9) {
                slowPath();
                ++s;
            }
        }
        ++n;
        pauseBetweenRequests();
    }
    *total = n;
    *slow = s;
}
} // namespace

int main(int argc, char** argv)
{
    const double seconds = argc > 1 ? std::atof(argv[1]) : 0;
    if (seconds <= 0 || seconds > 600) {
        std::fprintf(stderr, "usage: perfdash_test_opworkload SECONDS [SUMMARY_FILE]\n");
        return 2;
    }
    const char* summaryPath = argc > 2 ? argv[2] : nullptr;
    const long long start = now();
    // Names first (their first use takes a lock), then the connection: up to 5 s for a dashboard,
    // and on alone if there is none.
    perfdash::operation("op.outer");
    perfdash::operation("op.inner");
    perfdash::operation("op.wait");
    perfdash::operation("op.request");
    while (perfdash::flush(1000) != PERFDASH_OK && now() - start < 5'000'000'000LL)
        sleepNs(20'000'000);
    // The dashboard asks the client to record its scopes a few hundred ms after it connected: a
    // second later it does.
    sleepNs(1'000'000'000LL);

    const long long until = now() + static_cast<long long>(seconds * 1e9);
    long total = 0, slow = 0;
    std::thread requestThread(requests, until, &total, &slow);
    const long n = rounds(until);
    requestThread.join();
    perfdash::flush(2000);

    char summary[1024];
    int at = std::snprintf(summary, sizeof summary,
        "pid %ld\nrounds %ld\nrequests %ld\nslow_requests %ld\nsleep_us %lld\n", long(::getpid()), n, total, slow,
        g_sleepNs.load() / 1000);
    for (const auto& [name, truth] :
        { std::pair { "outer", &g_outer }, std::pair { "inner", &g_inner }, std::pair { "wait", &g_wait } }) {
        at += std::snprintf(summary + at, sizeof summary - std::size_t(at),
            "%s_count %ld\n%s_wall_us %lld\n%s_cpu_us %lld\n", name, truth->count, name, truth->wallNs / 1000, name,
            truth->cpuNs / 1000);
    }
    std::fputs(summary, stdout);
    std::fflush(stdout);
    if (summaryPath) {
        FILE* file = std::fopen(summaryPath, "w");
        if (!file || std::fputs(summary, file) < 0 || std::fclose(file) != 0) {
            std::perror(summaryPath);
            return 1;
        }
    }
    return 0;
}
