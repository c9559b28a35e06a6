// SPDX-License-Identifier: GPL-3.0-or-later
// perfdash-demo: a simulated service under load, instrumented with the perfdash client library.
// Cache lookups are real work timed with scopes; database and HTTP calls are simulated: their
// durations are drawn from realistic distributions and recorded, so the demo can run at any rate
// without waiting on anything.
#include <perfdash/perfdash.hpp>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {
std::atomic<bool> g_stop { false };

void onSignal(int)
{
    g_stop.store(true);
}

struct Options
{
    int threads = 4;
    double rate = 200; // operations per second per thread; 0 = as fast as possible
    double duration = 0; // seconds; 0 = until interrupted
    int operations = 0; // extra synthetic operations, for load tests with many names
    bool steady = false; // no spikes and no memory churn, for benchmarks
    unsigned seed = 1;
};

[[noreturn]] void usage(int status)
{
    std::fprintf(status ? stderr : stdout,
        "usage: perfdash-demo [--threads N] [--rate OPS_PER_THREAD_PER_S] [--duration S] [--name NAME]\n"
        "                     [--operations N] [--steady] [--seed N]\n"
        "Streams a simulated service's operations to perfdash (PERFDASH_SOCKET). --rate 0 runs flat out.\n");
    std::exit(status);
}

Options parse(int argc, char** argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto value = [&]() -> const char* {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "perfdash-demo: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        const auto number = [&](double min) {
            const char* text = value();
            char* end = nullptr;
            const double v = std::strtod(text, &end);
            if (!end || *end || v < min) {
                std::fprintf(stderr, "perfdash-demo: %s needs a number >= %g, not '%s'\n", a.c_str(), min, text);
                std::exit(2);
            }
            return v;
        };
        if (a == "--threads")
            o.threads = int(number(1));
        else if (a == "--rate")
            o.rate = number(0);
        else if (a == "--duration")
            o.duration = number(0);
        else if (a == "--operations")
            o.operations = int(number(0));
        else if (a == "--seed")
            o.seed = unsigned(number(0));
        else if (a == "--steady")
            o.steady = true;
        else if (a == "--name")
            setenv("PERFDASH_NAME", value(), 1); // read by the client library on first use
        else if (a == "--help" || a == "-h")
            usage(0);
        else {
            std::fprintf(stderr, "perfdash-demo: unknown option '%s'\n", a.c_str());
            usage(2);
        }
    }
    return o;
}

using Clock = std::chrono::steady_clock;

bool inSpike(Clock::time_point start, bool steady)
{
    if (steady)
        return false;
    const auto s = std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
    return s % 20 >= 17; // three slow seconds out of every twenty
}

void worker(const Options& o, int index, Clock::time_point start)
{
    std::mt19937_64 rng(o.seed * 7919u + unsigned(index));
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::lognormal_distribution<double> db(std::log(2e6), 0.6); // median 2 ms
    std::lognormal_distribution<double> synthetic(std::log(300e3), 0.9);
    std::unordered_map<std::string, std::string> cache;
    for (int i = 0; i < 10'000; ++i)
        cache.emplace("user:" + std::to_string(i), std::string(64, char('a' + i % 26)));

    static const perfdash::OpId dbQuery = perfdash::operation("db.query");
    static const perfdash::OpId httpUsers = perfdash::operation("http.GET /users");
    static const perfdash::OpId httpOrders = perfdash::operation("http.POST /orders");
    std::vector<perfdash::OpId> extra;
    for (int i = 0; i < o.operations; ++i) {
        char name[64];
        std::snprintf(name, sizeof name, "api.endpoint.%03d", i);
        extra.push_back(perfdash::operation(name));
    }

    const auto period = o.rate > 0 ? std::chrono::nanoseconds(std::int64_t(1e9 / o.rate)) : std::chrono::nanoseconds(0);
    auto next = Clock::now();
    std::size_t round = 0;
    std::size_t sink = 0;
    while (!g_stop.load(std::memory_order_relaxed)) {
        if (o.duration > 0 && Clock::now() - start >= std::chrono::duration<double>(o.duration))
            break;
        const double pick = unit(rng);
        const bool spike = inSpike(start, o.steady);
        if (!extra.empty() && round % 2 == 0) {
            perfdash::record(extra[round / 2 % extra.size()], std::uint64_t(synthetic(rng)), unit(rng) > 0.01);
        } else if (pick < 0.60) {
            PERFDASH_SCOPE("cache.get"); // real work: a hash lookup and a copy
            auto it = cache.find("user:" + std::to_string(rng() % 12'000));
            sink += it == cache.end() ? 0 : it->second.size();
        } else if (pick < 0.85) {
            const double factor = spike ? 12.0 : 1.0;
            perfdash::record(dbQuery, std::uint64_t(db(rng) * factor), unit(rng) > 0.01);
        } else if (pick < 0.95) {
            // Pareto, alpha 1.6, from 5 ms: mostly quick, with a heavy tail.
            const double ms = 5.0 / std::pow(1.0 - unit(rng), 1.0 / 1.6);
            const bool ok = unit(rng) > 0.03;
            const auto ns = std::uint64_t(std::min(ms, 30'000.0) * 1e6);
            if (ms >= 100.0) // worth describing: it will be a slow operation's raw event
                perfdash::record(httpUsers, ns, ok, { { "user", std::to_string(rng() % 12'000) }, { "status", ok ? "200" : "503" } });
            else
                perfdash::record(httpUsers, ns, ok);
        } else {
            PERFDASH_SCOPE_VAR(order, "render.order");
            order.meta("thread", std::to_string(index));
            const double ms = 8.0 / std::pow(1.0 - unit(rng), 1.0 / 2.0);
            perfdash::record(httpOrders, std::uint64_t(ms * 1e6), unit(rng) > 0.02);
            if (unit(rng) < 0.02)
                order.fail();
        }
        ++round;
        if (period.count() > 0) {
            next += period;
            if (next < Clock::now() - std::chrono::milliseconds(100))
                next = Clock::now(); // fell behind: do not burst to catch up
            std::this_thread::sleep_until(next);
        }
    }
    if (sink == 42)
        std::puts(""); // keeps the lookups from being optimised away
}

void memoryChurn(const Options& o, Clock::time_point start)
{
    // A cache that fills to about 96 MiB over 30 seconds and is then dropped, again and again.
    std::vector<std::vector<char>> blocks;
    while (!g_stop.load(std::memory_order_relaxed)) {
        if (o.duration > 0 && Clock::now() - start >= std::chrono::duration<double>(o.duration))
            break;
        if (!o.steady) {
            if (blocks.size() < 96) {
                blocks.emplace_back(1 << 20, char(blocks.size()));
            } else {
                blocks.clear();
                blocks.shrink_to_fit();
            }
        }
        perfdash::gauge("cache.bytes", double(blocks.size()) * (1 << 20));
        perfdash::counter("cache.refreshes");
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
}
} // namespace

int main(int argc, char** argv)
{
    const Options o = parse(argc, argv);
    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (int i = 0; i < o.threads; ++i)
        threads.emplace_back(worker, std::cref(o), i, start);
    threads.emplace_back(memoryChurn, std::cref(o), start);
    for (auto& t : threads)
        t.join();
    const int rc = perfdash::flush(2000);
    if (rc != PERFDASH_OK && rc != PERFDASH_DISABLED)
        std::fprintf(stderr, "perfdash-demo: %s\n", perfdash_strerror(rc));
    return 0;
}
