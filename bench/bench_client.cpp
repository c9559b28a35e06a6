// SPDX-License-Identifier: GPL-3.0-or-later
// Every entry point of the client library's hot path, against raw clock reads in the same run.
// The settings are made before the library starts (they hold: no raw events, no slow events), so
// what is measured is the histogram path alone; MetaKept* measure the raw-event path.
// Run: build/bin/bench_client   (no dashboard needed: recording never waits for one)
#include <perfdash/perfdash.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <ctime>
#include <string>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

namespace {
std::uint64_t counterRead() noexcept
{
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#elif defined(__aarch64__)
    std::uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_nsec);
#endif
}

/// The floor an empty scope is compared with: two reads of the CPU's counter (rdtsc on x86).
void TwoRdtsc(benchmark::State& state)
{
    for (auto _ : state) {
        benchmark::DoNotOptimize(counterRead());
        benchmark::DoNotOptimize(counterRead());
    }
}
BENCHMARK(TwoRdtsc);
BENCHMARK(TwoRdtsc)->Threads(2)->Threads(8);

void TwoSteadyClockReads(benchmark::State& state)
{
    for (auto _ : state) {
        benchmark::DoNotOptimize(std::chrono::steady_clock::now());
        benchmark::DoNotOptimize(std::chrono::steady_clock::now());
    }
}
BENCHMARK(TwoSteadyClockReads);

void Scope(benchmark::State& state)
{
    const perfdash::OpId op = perfdash::operation("bench.scope");
    for (auto _ : state) {
        perfdash::Scope scope(op);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(Scope);
BENCHMARK(Scope)->Threads(2)->Threads(8);

/// 512 operations used in turn: the thread's slots no longer sit in one cache line.
void Scope512Ops(benchmark::State& state)
{
    std::vector<perfdash::OpId> ops;
    for (int i = 0; i < 512; ++i)
        ops.push_back(perfdash::operation(("bench.scope512." + std::to_string(i)).c_str()));
    std::size_t i = 0;
    for (auto _ : state) {
        perfdash::Scope scope(ops[i++ & 511]);
    }
}
BENCHMARK(Scope512Ops);

void ScopeMacro(benchmark::State& state)
{
    for (auto _ : state) {
        PERFDASH_SCOPE("bench.macro");
    }
}
BENCHMARK(ScopeMacro);

void Track(benchmark::State& state)
{
    int x = 0;
    for (auto _ : state)
        benchmark::DoNotOptimize(perfdash::track("bench.track", [&] { return ++x; }));
}
BENCHMARK(Track);

void ScopeMeta(benchmark::State& state)
{
    const perfdash::OpId op = perfdash::operation("bench.meta");
    for (auto _ : state) {
        perfdash::Scope scope(op);
        scope.meta("user", "42").meta("route", "/api/items");
    }
}
BENCHMARK(ScopeMeta);

void RecordById(benchmark::State& state)
{
    const perfdash::OpId op = perfdash::operation("bench.record");
    std::uint64_t ns = 1000;
    for (auto _ : state)
        perfdash::record(op, ns++ & 0xfffff, true);
}
BENCHMARK(RecordById);
BENCHMARK(RecordById)->Threads(2)->Threads(8);

void RecordByName(benchmark::State& state)
{
    for (auto _ : state)
        perfdash::record("bench.record.byname", 1000, true);
}
BENCHMARK(RecordByName);

void Counter(benchmark::State& state)
{
    for (auto _ : state)
        perfdash::counter("bench.counter");
}
BENCHMARK(Counter);
BENCHMARK(Counter)->Threads(2);

void Gauge(benchmark::State& state)
{
    double v = 0;
    for (auto _ : state)
        perfdash::gauge("bench.gauge", v += 1);
}
BENCHMARK(Gauge);

/// The first use of an operation on a new thread: the thread's state, a slot, a bucket page.
void FirstUseOnThread(benchmark::State& state)
{
    const perfdash::OpId op = perfdash::operation("bench.firstuse");
    for (auto _ : state) {
        std::thread([op] { perfdash::record(op, 1000, true); }).join();
    }
}
BENCHMARK(FirstUseOnThread)->Iterations(2000);

void ThreadStartAlone(benchmark::State& state) // what FirstUseOnThread pays for the thread itself
{
    for (auto _ : state)
        std::thread([] {}).join();
}
BENCHMARK(ThreadStartAlone)->Iterations(2000);
} // namespace

int main(int argc, char** argv)
{
    // Before the start, and they hold: raw events are not the hot path being measured.
    perfdash::setSamplingRate(0.0);
    perfdash::setSlowThresholdNs(0);
    perfdash::operation("bench.warmup"); // starts the client, which calibrates the counter after 50 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (!perfdash::stats().counterClock)
        std::fprintf(stderr, "bench_client: the CPU's counter is not in use: scopes read CLOCK_MONOTONIC\n");
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
