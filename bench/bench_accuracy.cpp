// SPDX-License-Identifier: GPL-3.0-or-later
// The worst relative error of p50, p90, p95, p99 and p99.9 against the exact sorted values, over
// several distributions of a million values each, and the memory of one operation after a
// simulated 24-hour session. Run: build/bin/bench_accuracy
#include "core/latencyhistogram.h"
#include "core/operationhistory.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <vector>

using namespace perfdash;

int main()
{
    std::mt19937_64 rng(2024);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::lognormal_distribution<double> lognormal(std::log(2e6), 1.0);
    std::exponential_distribution<double> exponential(1.0 / 3e5);
    const struct
    {
        const char* name;
        std::function<double()> draw;
    } shapes[] = {
        { "uniform 1 µs-10 ms", [&] { return 1e3 + unit(rng) * 1e7; } },
        { "log-normal", [&] { return lognormal(rng); } },
        { "exponential", [&] { return exponential(rng); } },
        { "Pareto alpha 1.1", [&] { return 5e3 / std::pow(1.0 - unit(rng), 1.0 / 1.1); } },
        { "bimodal", [&] { return unit(rng) < 0.8 ? 2e5 + unit(rng) * 1e4 : 5e7 + unit(rng) * 1e6; } },
        { "sub-100 ns", [&] { return 1 + unit(rng) * 98; } },
        { "1 to 6 hours", [&] { return 3.6e12 * (1 + 5 * unit(rng)); } },
    };
    double worst = 0;
    for (const auto& shape : shapes) {
        std::vector<quint64> values(1'000'000);
        auto h = std::make_unique<LatencyHistogram>();
        for (auto& v : values) {
            v = quint64(std::max(1.0, shape.draw()));
            h->record(v);
        }
        std::sort(values.begin(), values.end());
        double shapeWorst = 0;
        for (double q : { 0.5, 0.9, 0.95, 0.99, 0.999 }) {
            const double exact = double(values[std::size_t(std::ceil(q * double(values.size()) - 1e-9)) - 1]);
            shapeWorst = std::max(shapeWorst, std::abs(double(h->valueAtQuantile(q)) - exact) / exact);
        }
        worst = std::max(worst, shapeWorst);
        std::printf("accuracy: %-20s worst percentile error %.3f%%\n", shape.name, shapeWorst * 100);
    }
    std::printf("accuracy: worst over all: %.3f%% (target < 1%%): %s\n", worst * 100, worst < 0.01 ? "met" : "NOT met");

    // A day of one operation at 50 events a second from a wide log-normal.
    OperationHistory history;
    std::lognormal_distribution<double> wide(std::log(2e6), 1.5);
    const qint64 t0 = 1'699'999'200'000;
    std::size_t peak = 0;
    for (int s = 0; s < 24 * 3600; ++s) {
        for (int i = 0; i < 50; ++i)
            history.record(t0 + qint64(s) * 1000 + i * 20, quint64(wide(rng)), i != 0);
        if (s % 600 == 0)
            peak = std::max(peak, history.memoryBytes());
    }
    peak = std::max(peak, history.memoryBytes());
    std::printf("memory: one operation after a simulated 24 h: %.0f KB, peak %.0f KB (target < 1024 KB): %s\n",
        double(history.memoryBytes()) / 1024.0, double(peak) / 1024.0, peak < 1024 * 1024 ? "met" : "NOT met");
    return worst < 0.01 && peak < 1024 * 1024 ? 0 : 1;
}
