// SPDX-License-Identifier: GPL-3.0-or-later
// A process for the profiler's tests, built with and without frame pointers and stripped: its
// worker thread (started before anyone attaches) spends 3/4 of its CPU in target::hotFunction and
// 1/4 in target::coldFunction, both called by target::workerLoop, both leaves that gcc gives no
// frame of their own. Prints "ready" once the worker runs; then, by mode:
//   (default)            runs until stdin closes
//   --late-threads       on a line "go" on stdin starts a thread in target::lateWorker, prints "started TID"
//   --exit-after MS      exits after MS milliseconds
//   --main-thread-exits  the main thread ends (pthread_exit) after 300 ms; the worker goes on until killed
//   --rounds N           (bench/) the worker does N rounds, prints "done THREAD_CPU_NS WALL_NS", exits
//   --hot-units N        hotFunction does N units of work per round, not 3 (1: an even split, for a
//                        differential profile against the default run)
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <time.h>

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace target {
std::atomic<unsigned long> sink { 0 };
std::atomic<unsigned long> hotUnits { 3 };

// Inlined into both callers, so that they cost the same per unit and DWARF shows an inlined frame.
inline __attribute__((always_inline)) unsigned long spin(unsigned long units)
{
    unsigned long x = units;
    for (unsigned long i = 0; i < units * 20000; ++i)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x;
}

__attribute__((noinline)) void hotFunction(unsigned long units)
{
    sink.fetch_add(spin(units), std::memory_order_relaxed);
}

__attribute__((noinline)) void coldFunction(unsigned long units)
{
    sink.fetch_add(spin(units), std::memory_order_relaxed);
}

__attribute__((noinline)) void workerLoop(const std::atomic<bool>* stop)
{
    while (!stop->load(std::memory_order_relaxed)) {
        hotFunction(hotUnits.load(std::memory_order_relaxed));
        coldFunction(1);
    }
}

__attribute__((noinline)) void lateWorker(const std::atomic<bool>* stop)
{
    while (!stop->load(std::memory_order_relaxed))
        hotFunction(1);
}
} // namespace target

long long nowNs(clockid_t clock)
{
    timespec ts {};
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int main(int argc, char** argv)
{
    long exitAfterMs = -1;
    long rounds = -1;
    bool lateThreads = false;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--late-threads") == 0)
            lateThreads = true;
        else if (std::strcmp(argv[i], "--exit-after") == 0 && i + 1 < argc)
            exitAfterMs = std::atol(argv[++i]);
        else if (std::strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = std::atol(argv[++i]);
        else if (std::strcmp(argv[i], "--hot-units") == 0 && i + 1 < argc)
            target::hotUnits.store(std::strtoul(argv[++i], nullptr, 10));
    }
    if (rounds >= 0) { // fixed work on a thread of its own, timed by that thread's CPU clock
        std::printf("ready\n");
        std::fflush(stdout);
        char go[8];
        if (!std::fgets(go, sizeof go, stdin)) // the benchmark attaches, then says go
            return 1;
        long long cpu = 0, wall = 0;
        std::thread timed([&] {
            const long long cpu0 = nowNs(CLOCK_THREAD_CPUTIME_ID), wall0 = nowNs(CLOCK_MONOTONIC);
            for (long r = 0; r < rounds; ++r) {
                target::hotFunction(3);
                target::coldFunction(1);
            }
            cpu = nowNs(CLOCK_THREAD_CPUTIME_ID) - cpu0;
            wall = nowNs(CLOCK_MONOTONIC) - wall0;
        });
        timed.join();
        std::printf("done %lld %lld\n", cpu, wall);
        return 0;
    }
    static std::atomic<bool> stop { false };
    std::thread worker(target::workerLoop, &stop);
    std::printf("ready\n");
    std::fflush(stdout);
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--main-thread-exits") == 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            worker.detach();
            pthread_exit(nullptr); // the process lives on in its worker
        }
    }
    if (exitAfterMs >= 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(exitAfterMs));
        std::_Exit(0); // mid-sample, as a crash or an exit() from anywhere would
    }
    std::thread late;
    char line[64];
    while (std::fgets(line, sizeof line, stdin)) {
        if (lateThreads && !late.joinable() && std::strncmp(line, "go", 2) == 0) {
            std::atomic<long> tid { 0 };
            late = std::thread([&tid] {
                tid.store(long(syscall(SYS_gettid)));
                target::lateWorker(&stop);
            });
            while (tid.load() == 0)
                std::this_thread::yield();
            std::printf("started %ld\n", tid.load());
            std::fflush(stdout);
        }
    }
    stop.store(true);
    worker.join();
    if (late.joinable())
        late.join();
    return 0;
}
