// SPDX-License-Identifier: GPL-3.0-or-later
// The client library's hot path against raw clock reads, in the same run.
// Run: build/bin/bench_client   (no dashboard needed: recording never waits for one)
#include <perfdash/perfdash.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <thread>
#include <x86intrin.h>

namespace {
void TwoRdtsc(benchmark::State& state)
{
    for (auto _ : state) {
        benchmark::DoNotOptimize(__rdtsc());
        benchmark::DoNotOptimize(__rdtsc());
    }
}
BENCHMARK(TwoRdtsc);

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
BENCHMARK(Scope)->Threads(2);

void ScopeMacro(benchmark::State& state)
{
    for (auto _ : state) {
        PERFDASH_SCOPE("bench.macro");
    }
}
BENCHMARK(ScopeMacro);

void RecordMeasured(benchmark::State& state)
{
    const perfdash::OpId op = perfdash::operation("bench.record");
    std::uint64_t ns = 1000;
    for (auto _ : state)
        perfdash::record(op, ns++ & 0xfffff, true);
}
BENCHMARK(RecordMeasured);
} // namespace

int main(int argc, char** argv)
{
    perfdash::setSamplingRate(0.0); // raw events are not the hot path being measured
    perfdash::operation("bench.warmup"); // starts the client, which calibrates the TSC after 50 ms
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
