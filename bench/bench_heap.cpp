// SPDX-License-Identifier: GPL-3.0-or-later
// What the heap preload (libperfdash_heap.so) costs a program that allocates a lot.
//
//   bench_heap [--seconds S] [--work N]
//       small malloc/free pairs on one thread for S seconds (default 3), N units of other work
//       between two pairs (default 0: flat out); prints "allocs_per_second X".
//   bench_heap --compare [PRELOAD] [--seconds S] [--rounds R] [--rate A] [--work N]
//       runs the above as a child without the preload, with it (no channel: counting only), and
//       with it reporting into a channel this process drains every 100 ms (the default sampling
//       rate), R rounds interleaved (default 5); the work is set so that the run without the
//       preload makes about A allocations a second (default 10 M; --work N sets it instead; --rate 0
//       flat out). Prints each run, the best of each and the slowdowns. The machine is shared and
//       noisy: the best of several interleaved rounds is the figure to quote. PRELOAD defaults to
//       the libperfdash_heap.so built with this program.
#include "heap/heapchannel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <spawn.h>
#include <sys/wait.h>

extern char** environ;

namespace {

// Other work between two allocations: a dependent chain the compiler cannot fold.
__attribute__((noinline)) std::uint64_t work(std::uint64_t x, int units)
{
    for (int i = 0; i < units; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return x;
}

void* volatile g_sink;

double runLoop(double seconds, int units)
{
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    const auto end = start + std::chrono::duration<double>(seconds);
    std::uint64_t allocations = 0;
    std::uint64_t x = 88172645463325252ull;
    static const std::size_t sizes[8] = { 16, 24, 32, 48, 64, 96, 128, 40 };
    for (;;) {
        for (int i = 0; i < 4096; ++i) {
            void* p = std::malloc(sizes[i & 7]);
            g_sink = p;
            std::free(p);
            x = work(x, units);
        }
        allocations += 4096;
        if (clock::now() >= end)
            break;
    }
    const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    g_sink = reinterpret_cast<void*>(x);
    return double(allocations) / elapsed;
}

/// Runs this program as a child with @p extraEnv added; its allocations per second, or -1.
double runChild(const char* self, const std::vector<std::string>& extraEnv, double seconds, int units)
{
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
        if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0 && std::strncmp(*e, "PERFDASH_HEAP_SHM=", 18) != 0)
            env.emplace_back(*e);
    }
    env.insert(env.end(), extraEnv.begin(), extraEnv.end());
    std::vector<char*> envp;
    for (auto& e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string secondsArg = std::to_string(seconds), unitsArg = std::to_string(units);
    char* argv[] = { const_cast<char*>(self), const_cast<char*>("--seconds"), const_cast<char*>(secondsArg.c_str()),
        const_cast<char*>("--work"), const_cast<char*>(unitsArg.c_str()), nullptr };
    int fds[2];
    if (::pipe(fds) != 0)
        return -1;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, self, &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    if (spawned != 0) {
        ::close(fds[0]);
        return -1;
    }
    std::string out;
    char buffer[512];
    ssize_t n;
    while ((n = ::read(fds[0], buffer, sizeof buffer)) > 0)
        out.append(buffer, std::size_t(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const std::size_t at = out.find("allocs_per_second ");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || at == std::string::npos)
        return -1;
    return std::atof(out.c_str() + at + 18);
}

int compare(const char* self, const char* preload, double seconds, int rounds, double rate, int units)
{
    if (units < 0) {
        units = 0;
        if (rate > 0) {
            // One unit's cost measured here, the pair's from short runs without the preload: the
            // best of three each, the machine being shared.
            double flat = 0, unitNs = 1e9;
            for (int i = 0; i < 3; ++i) {
                flat = std::max(flat, runChild(self, {}, 0.5, 0));
                const auto t0 = std::chrono::steady_clock::now();
                g_sink = reinterpret_cast<void*>(work(std::uint64_t(i) + 1, 20'000'000));
                unitNs = std::min(unitNs,
                    std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / 20e6);
            }
            const double budgetNs = 1e9 / rate - 1e9 / flat;
            units = budgetNs > 0 ? int(budgetNs / unitNs + 0.5) : 0;
            std::printf("flat out without the preload: %.1f M allocs/s; work: %d units of %.2f ns\n", flat / 1e6, units,
                unitNs);
        }
    }
    const std::string ld = std::string("LD_PRELOAD=") + preload;
    std::vector<double> base, counting, reporting;
    for (int round = 0; round < rounds; ++round) {
        base.push_back(runChild(self, {}, seconds, units));
        counting.push_back(runChild(self, { ld }, seconds, units));
        char dir[] = "/tmp/perfdash-bench-heap-XXXXXX";
        if (!::mkdtemp(dir))
            return 2;
        double withChannel = -1;
        std::uint64_t samples = 0, dropped = 0;
        {
            perfdash::heap::HeapChannel channel(std::string(dir) + "/heap");
            if (!channel.error().empty()) {
                std::fprintf(stderr, "bench_heap: %s\n", channel.error().c_str());
                return 2;
            }
            std::atomic<bool> stop { false };
            std::uint64_t records = 0;
            std::thread drainer([&] {
                while (!stop.load()) {
                    records += channel.drain([](const perfdash::heap::HeapRecord&) {});
                    std::this_thread::sleep_for(std::chrono::milliseconds(100));
                }
            });
            withChannel = runChild(self, { ld, channel.environmentEntry() }, seconds, units);
            stop = true;
            drainer.join();
            const auto c = channel.counters();
            samples = c.samples;
            dropped = c.droppedAllocs + c.droppedFrees;
            if (c.ownerPid == 0)
                std::fprintf(stderr, "bench_heap: the preload never reported (%s)\n", preload);
        }
        ::rmdir(dir);
        reporting.push_back(withChannel);
        std::printf("round %d: without %.2f M/s, counting %.2f M/s, reporting %.2f M/s (%llu samples, %llu dropped)\n",
            round + 1, base.back() / 1e6, counting.back() / 1e6, withChannel / 1e6,
            static_cast<unsigned long long>(samples), static_cast<unsigned long long>(dropped));
        std::fflush(stdout);
    }
    const auto best = [](const std::vector<double>& v) { return *std::max_element(v.begin(), v.end()); };
    const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    const double b = best(base), c = best(counting), r = best(reporting);
    std::printf(
        "best: without %.2f M allocs/s, counting %.2f M/s (%.1f%% slower), reporting %.2f M/s (%.1f%% slower)\n",
        b / 1e6, c / 1e6, 100 * (1 - c / b), r / 1e6, 100 * (1 - r / b));
    const double mb = median(base), mc = median(counting), mr = median(reporting);
    std::printf(
        "median: without %.2f M allocs/s, counting %.2f M/s (%.1f%% slower), reporting %.2f M/s (%.1f%% slower)\n",
        mb / 1e6, mc / 1e6, 100 * (1 - mc / mb), mr / 1e6, 100 * (1 - mr / mb));
    std::printf("per allocation (malloc + free): counting +%.2f ns, reporting +%.2f ns\n", 1e9 / c - 1e9 / b,
        1e9 / r - 1e9 / b);
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    double seconds = 3;
    int units = -1;
    int rounds = 5;
    double rate = 10e6;
    const char* preload = nullptr;
    for (int i = 1; i < argc; ++i) {
        const bool hasValue = i + 1 < argc;
        if (std::strcmp(argv[i], "--seconds") == 0 && hasValue)
            seconds = std::atof(argv[++i]);
        else if (std::strcmp(argv[i], "--work") == 0 && hasValue)
            units = std::atoi(argv[++i]);
        else if (std::strcmp(argv[i], "--rounds") == 0 && hasValue)
            rounds = std::max(1, std::atoi(argv[++i]));
        else if (std::strcmp(argv[i], "--rate") == 0 && hasValue)
            rate = std::atof(argv[++i]);
        else if (std::strcmp(argv[i], "--compare") == 0 && hasValue && std::strncmp(argv[i + 1], "--", 2) != 0)
            preload = argv[++i];
#ifdef PERFDASH_HEAP_LIB
        else if (std::strcmp(argv[i], "--compare") == 0)
            preload = PERFDASH_HEAP_LIB; // the one built with this program
#endif
        else {
            std::fprintf(stderr,
                "usage: bench_heap [--seconds S] [--work N] | --compare [PRELOAD] [--seconds S] "
                "[--rounds R] [--rate A] [--work N]\n");
            return 2;
        }
    }
    if (preload) {
        char self[4096];
        const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 2;
        self[n] = '\0';
        return compare(self, preload, seconds, rounds, rate, units);
    }
    std::printf("allocs_per_second %.0f\n", runLoop(seconds, units < 0 ? 0 : units));
    return 0;
}
