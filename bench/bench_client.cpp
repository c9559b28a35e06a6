// SPDX-License-Identifier: GPL-3.0-or-later
// Every entry point of the client library's hot path, against raw clock reads in the same run.
// The settings are made before the library starts (they hold: no raw events, no slow events), so
// what is measured is the histogram path alone. Profiled* run while a dashboard profiles the
// process (a PROFILE from an in-process MiniDashboard): each scope also writes its Enter and Exit
// into its thread's scope ring. RingRead* are the dashboard's side: reading a ring from the
// shared memory the client offers, against process_vm_readv() of the same bytes.
// Run: taskset -c 1 build/bin/bench_client --benchmark_repetitions=5   (the dashboard is in-process)
#include "ipc/client/src/clock.h" // ticks(): the counter the client reads
#include "ipc/client/wire/scoperingformat.h"
#include "tests/helpers/minidashboard.h"

#include <perfdash/perfdash.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <sys/uio.h>
#include <thread>
#include <unistd.h>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#endif

namespace {
std::unique_ptr<perfdashtest::MiniDashboard> g_dashboard;

/// Asks the client to record its scope transitions (or to stop), and waits for its answer (RINGS):
/// the client's scopes write their rings from then on.
bool setProfiled(bool on)
{
    const std::uint64_t before = g_dashboard->tally().rings;
    g_dashboard->profile(on);
    const int want = on ? 1 : 0;
    const perfdashtest::Tally t
        = g_dashboard->waitFor([&](const perfdashtest::Tally& t) { return t.rings > before && t.ringsState == want; },
            std::chrono::seconds(10));
    return t.rings > before && t.ringsState == want;
}

/// For the Profiled* cases: profiling on in the first thread before the (synchronised) loop, off
/// after it.
struct Profiled
{
    explicit Profiled(benchmark::State& state)
        : m_state(state)
    {
        if (m_state.thread_index() == 0 && !setProfiled(true))
            m_state.SkipWithError("the client did not start recording its scope transitions");
    }
    ~Profiled()
    {
        if (m_state.thread_index() == 0)
            setProfiled(false);
    }
    benchmark::State& m_state;
};

/// The floor an empty scope is compared with: two reads of the CPU's counter (rdtsc on x86).
void TwoRdtsc(benchmark::State& state)
{
    for (auto _ : state) {
        benchmark::DoNotOptimize(perfdash::clock::ticks());
        benchmark::DoNotOptimize(perfdash::clock::ticks());
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

/// While profiled: the scope writes an Enter and an Exit into its thread's ring besides counting.
void ProfiledScope(benchmark::State& state)
{
    const perfdash::OpId op = perfdash::operation("bench.profiled");
    Profiled profiled(state);
    for (auto _ : state) {
        perfdash::Scope scope(op);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(ProfiledScope);
BENCHMARK(ProfiledScope)->Threads(2)->Threads(8);

void ProfiledScopeMacro(benchmark::State& state)
{
    Profiled profiled(state);
    for (auto _ : state) {
        PERFDASH_SCOPE("bench.profiled.macro");
    }
}
BENCHMARK(ProfiledScopeMacro);

/// Two scopes, one inside the other: what nesting costs while profiled (per pair).
void ProfiledNested(benchmark::State& state)
{
    const perfdash::OpId outer = perfdash::operation("bench.profiled.outer");
    const perfdash::OpId inner = perfdash::operation("bench.profiled.inner");
    Profiled profiled(state);
    for (auto _ : state) {
        perfdash::Scope a(outer);
        perfdash::Scope b(inner);
    }
}
BENCHMARK(ProfiledNested);

void Nested(benchmark::State& state) // the same not profiled
{
    const perfdash::OpId outer = perfdash::operation("bench.nested.outer");
    const perfdash::OpId inner = perfdash::operation("bench.nested.inner");
    for (auto _ : state) {
        perfdash::Scope a(outer);
        perfdash::Scope b(inner);
    }
}
BENCHMARK(Nested);

/// The scope rings as the dashboard sees them: mapped read-only through /proc/PID/fd/N (what
/// ScopeRingReader does), and the client's own mapping's address, for process_vm_readv().
struct RingsView
{
    const char* mapped = nullptr;
    std::uintptr_t remote = 0;
    std::uint64_t bytes = 0;
    std::uint32_t entries = 0;

    bool open()
    {
        if (mapped)
            return true;
        if (!setProfiled(true))
            return false;
        const perfdash::OpId op = perfdash::operation("bench.ringfill");
        for (std::uint32_t i = 0; i < 2 * perfdash::rings::DefaultRingEntries; ++i) {
            perfdash::Scope scope(op); // this thread's ring, full
        }
        setProfiled(false);
        const perfdashtest::Tally t = g_dashboard->tally();
        mapped = perfdashtest::mapRings(t);
        if (!mapped)
            return false;
        bytes = t.ringsBytes;
        entries = reinterpret_cast<const perfdash::rings::Header*>(mapped)->ringEntries;
        // The client's mapping: the segment's writable one.
        std::ifstream maps("/proc/self/maps");
        for (std::string line; std::getline(maps, line);)
            if (line.find("perfdash-scope-rings") != std::string::npos && line.find(" rw-s ") != std::string::npos)
                remote = std::uintptr_t(std::stoull(line.substr(0, line.find('-')), nullptr, 16));
        return remote != 0;
    }
};
RingsView g_rings;

/// One ring's records copied as ScopeRingReader copies them (seq, the records, seq again): a
/// thread's 4,096 records (64 KiB), from the shared mapping.
void RingReadMapped(benchmark::State& state)
{
    if (!g_rings.open()) {
        state.SkipWithError("no scope rings to read");
        return;
    }
    const auto& ring
        = *reinterpret_cast<const perfdash::rings::RingHeader*>(g_rings.mapped + perfdash::rings::ringHeaderOffset(0));
    const auto* records = reinterpret_cast<const perfdash::rings::Record*>(
        g_rings.mapped + perfdash::rings::recordsOffset(g_rings.entries, 0));
    std::vector<std::pair<std::uint64_t, std::uint64_t>> copy(g_rings.entries);
    for (auto _ : state) {
        const std::uint64_t seq = ring.seq.load(std::memory_order_acquire);
        for (std::uint32_t i = 0; i < g_rings.entries; ++i)
            copy[i]
                = { records[i].time.load(std::memory_order_relaxed), records[i].word.load(std::memory_order_relaxed) };
        std::atomic_thread_fence(std::memory_order_acquire);
        benchmark::DoNotOptimize(seq + ring.seq.load(std::memory_order_relaxed));
        benchmark::DoNotOptimize(copy.data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * g_rings.entries * 16);
}
BENCHMARK(RingReadMapped);

/// The same with process_vm_readv(): the ring's header and records in one call, the header again.
void RingReadProcessVmReadv(benchmark::State& state)
{
    if (!g_rings.open()) {
        state.SkipWithError("no scope rings to read");
        return;
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> copy(g_rings.entries);
    perfdash::rings::RingHeader header;
    iovec local[2] = { { &header, sizeof header }, { copy.data(), std::size_t(g_rings.entries) * 16 } };
    iovec remote[2]
        = { { reinterpret_cast<void*>(g_rings.remote + perfdash::rings::ringHeaderOffset(0)), sizeof header },
              { reinterpret_cast<void*>(g_rings.remote + perfdash::rings::recordsOffset(g_rings.entries, 0)),
                  std::size_t(g_rings.entries) * 16 } };
    const pid_t pid = ::getpid();
    for (auto _ : state) {
        if (::process_vm_readv(pid, local, 2, remote, 2, 0) < 0
            || ::process_vm_readv(pid, local, 1, remote, 1, 0) < 0) {
            state.SkipWithError("process_vm_readv failed");
            break;
        }
        benchmark::DoNotOptimize(copy.data());
    }
    state.SetBytesProcessed(std::int64_t(state.iterations()) * g_rings.entries * 16);
}
BENCHMARK(RingReadProcessVmReadv);

/// A poll that finds nothing new, for 64 threads' rings: their seq from the mapping...
void RingPollIdleMapped(benchmark::State& state)
{
    if (!g_rings.open()) {
        state.SkipWithError("no scope rings to read");
        return;
    }
    for (auto _ : state) {
        std::uint64_t sum = 0;
        for (std::uint32_t i = 0; i < 64; ++i)
            sum += reinterpret_cast<const perfdash::rings::RingHeader*>(
                g_rings.mapped + perfdash::rings::ringHeaderOffset(i))
                       ->seq.load(std::memory_order_acquire);
        benchmark::DoNotOptimize(sum);
    }
}
BENCHMARK(RingPollIdleMapped);

/// ...and their 64 headers with one process_vm_readv().
void RingPollIdleProcessVmReadv(benchmark::State& state)
{
    if (!g_rings.open()) {
        state.SkipWithError("no scope rings to read");
        return;
    }
    std::vector<perfdash::rings::RingHeader> headers(64);
    iovec local { headers.data(), headers.size() * sizeof(perfdash::rings::RingHeader) };
    iovec remote { reinterpret_cast<void*>(g_rings.remote + perfdash::rings::ringHeaderOffset(0)), local.iov_len };
    const pid_t pid = ::getpid();
    for (auto _ : state) {
        if (::process_vm_readv(pid, &local, 1, &remote, 1, 0) < 0) {
            state.SkipWithError("process_vm_readv failed");
            break;
        }
        benchmark::DoNotOptimize(headers.data());
    }
}
BENCHMARK(RingPollIdleProcessVmReadv);

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

/// The scope rings' memory as the kernel counts it (the memfd's pages in this process), for the
/// bound per thread: rings are written only while profiled, one per thread.
std::uint64_t ringsResidentKiB()
{
    std::ifstream smaps("/proc/self/smaps");
    std::string line;
    bool inRings = false;
    std::uint64_t kib = 0;
    while (std::getline(smaps, line)) {
        const std::string first = line.substr(0, line.find(' '));
        if (first.find(':') == std::string::npos) { // a mapping's line: "start-end perms offset dev inode path"
            inRings = line.find("perfdash-scope-rings") != std::string::npos;
            continue;
        }
        if (inRings && first == "Rss:")
            kib += std::stoull(line.substr(4));
    }
    return kib;
}

int main(int argc, char** argv)
{
    // An in-process dashboard, for the profiled cases (the others record the same with or without one).
    g_dashboard = std::make_unique<perfdashtest::MiniDashboard>(perfdashtest::socketPath());
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
    const perfdash::ClientStats stats = perfdash::stats();
    std::fprintf(stderr,
        "bench_client: scope rings resident %llu KiB (one 64 KiB ring per thread that recorded while profiled, and the "
        "header and names); client per-thread state %llu bytes over %llu threads\n",
        static_cast<unsigned long long>(ringsResidentKiB()), static_cast<unsigned long long>(stats.threadBytes),
        static_cast<unsigned long long>(stats.threadStates));
    g_dashboard.reset();
    return 0;
}
