// SPDX-License-Identifier: GPL-3.0-or-later
// Google Benchmark of the monitor core: histogram record and quantile, history record,
// PerformanceMonitor::trackOperation and ScopedOperation. Run: build/bin/bench_core
#include "core/latencyhistogram.h"
#include "core/operationhistory.h"
#include "core/performancemonitor.h"

#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <vector>

using namespace perfdash;

namespace {
std::vector<quint64> lognormalValues(std::size_t n)
{
    std::mt19937_64 rng(1);
    std::lognormal_distribution<double> dist(std::log(1e6), 1.2);
    std::vector<quint64> v(n);
    for (auto& x : v)
        x = quint64(dist(rng));
    return v;
}

void HistogramRecord(benchmark::State& state)
{
    const auto values = lognormalValues(4096);
    auto h = std::make_unique<LatencyHistogram>();
    std::size_t i = 0;
    for (auto _ : state) {
        h->record(values[i++ & 4095]);
    }
    benchmark::DoNotOptimize(h->count());
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(HistogramRecord);

void HistogramQuantile(benchmark::State& state)
{
    auto h = std::make_unique<LatencyHistogram>();
    for (quint64 v : lognormalValues(1'000'000))
        h->record(v);
    for (auto _ : state)
        benchmark::DoNotOptimize(h->valueAtQuantile(0.99));
}
BENCHMARK(HistogramQuantile);

void HistogramMerge(benchmark::State& state)
{
    auto a = std::make_unique<LatencyHistogram>();
    auto b = std::make_unique<LatencyHistogram>();
    for (quint64 v : lognormalValues(100'000))
        b->record(v);
    for (auto _ : state) {
        a->add(*b);
        benchmark::DoNotOptimize(a->count());
    }
}
BENCHMARK(HistogramMerge);

void HistoryRecord(benchmark::State& state)
{
    // One second of wall time per 100,000 events, so second closes are part of the cost.
    const auto values = lognormalValues(4096);
    OperationHistory h;
    qint64 t = 1'700'000'000'000;
    std::size_t i = 0;
    for (auto _ : state) {
        h.record(t + qint64(i / 100'000) * 1000, values[i & 4095], true);
        ++i;
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(HistoryRecord);

void WindowStats(benchmark::State& state)
{
    OperationHistory h;
    const auto values = lognormalValues(4096);
    const qint64 t0 = 1'700'000'000'000;
    for (int s = 0; s < 600; ++s) {
        for (int i = 0; i < 1000; ++i)
            h.record(t0 + s * 1000, values[std::size_t(i) & 4095], true);
    }
    const StatsWindow window = StatsWindow::last(int(state.range(0)));
    for (auto _ : state)
        benchmark::DoNotOptimize(h.stats(t0 + 599'500, window, QString()));
}
BENCHMARK(WindowStats)->Arg(10)->Arg(60)->Arg(300)->Arg(0);

void TrackOperation(benchmark::State& state)
{
    PerformanceMonitor monitor;
    monitor.setSamplingRate(0.0);
    const QString name = QStringLiteral("db.query");
    int x = 0;
    for (auto _ : state)
        benchmark::DoNotOptimize(monitor.trackOperation(name, [&] { return ++x; }));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(TrackOperation);
BENCHMARK(TrackOperation)->Threads(2);

void ScopedOperationCost(benchmark::State& state)
{
    PerformanceMonitor monitor;
    monitor.setSamplingRate(0.0);
    for (auto _ : state) {
        ScopedOperation op(&monitor, u"db.query");
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ScopedOperationCost);

void TwoSteadyClockReads(benchmark::State& state)
{
    for (auto _ : state) {
        benchmark::DoNotOptimize(std::chrono::steady_clock::now());
        benchmark::DoNotOptimize(std::chrono::steady_clock::now());
    }
}
BENCHMARK(TwoSteadyClockReads);
} // namespace

BENCHMARK_MAIN();
