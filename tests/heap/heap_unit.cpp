// SPDX-License-Identifier: GPL-3.0-or-later
// The heap preload (libperfdash_heap.so) and its channel (HeapChannel), end to end: each case
// creates a channel, runs tests/helpers/heaptarget.cpp's program with the preload and the channel
// in its environment, and checks what the channel says against what the program knows of its own
// heap. Plain C++17 + POSIX, one case per process:
//   heap_unit <case>      heap_unit --list
// PERFDASH_HEAP_LIB, PERFDASH_HEAP_TARGET, PERFDASH_HEAP_STATIC_TARGET and
// PERFDASH_HEAP_OWN_MALLOC_TARGET name the built files.
#include "heap/heapchannel.h"
#include "heap/preload/sampledset.h"
#include "tests/helpers/checks.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <functional>
#include <grp.h>
#include <linux/capability.h>
#include <map>
#include <poll.h>
#include <random>
#include <set>
#include <spawn.h>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef PERFDASH_HEAP_LIB
#error "PERFDASH_HEAP_LIB: the path of libperfdash_heap.so"
#endif
#ifndef PERFDASH_HEAP_TARGET
#error "PERFDASH_HEAP_TARGET: the path of perfdash_heap_target"
#endif
#ifndef PERFDASH_HEAP_STATIC_TARGET
#error "PERFDASH_HEAP_STATIC_TARGET: the path of perfdash_heap_static_target (empty: none could be built)"
#endif
#ifndef PERFDASH_HEAP_OWN_MALLOC_TARGET
#error "PERFDASH_HEAP_OWN_MALLOC_TARGET: the path of perfdash_heap_ownmalloc_target (empty: not glibc)"
#endif

extern char** environ;

using perfdash::heap::HeapChannel;
using perfdash::heap::HeapCounters;
using perfdash::heap::HeapRecord;
using perfdash::heap::HeapRecordType;
namespace hw = perfdash::heapwire;

namespace {

using Clock = std::chrono::steady_clock;
constexpr double FoldBytes = 64 * 1024; // a thread's counts are at most this many bytes...
constexpr double FoldOps = 256; // ...or this many operations behind

/// A scratch directory, removed with what is left in it.
class TempDir
{
public:
    TempDir()
    {
        char pattern[] = "/tmp/perfdash-heap-unit-XXXXXX";
        if (::mkdtemp(pattern))
            m_path = pattern;
    }
    ~TempDir()
    {
        if (!m_path.empty())
            std::system(("rm -rf '" + m_path + "'").c_str());
    }
    std::string file(const char* name) const { return m_path + "/" + name; }

private:
    std::string m_path;
};

/// The target program, its stdin and stdout on pipes.
class Target
{
public:
    ~Target()
    {
        if (m_pid > 0) {
            ::kill(m_pid, SIGKILL);
            ::waitpid(m_pid, nullptr, 0);
        }
        closeInput();
        if (m_out >= 0)
            ::close(m_out);
    }

    /// Starts @p program MODE SECONDS with the preload and @p channel (if any) in its environment,
    /// and @p preloadAfter, when given, after the preload in LD_PRELOAD (as a library the program
    /// links would be: the preload's next allocator).
    bool start(const char* program, const char* mode, const HeapChannel* channel, const char* seconds = "60",
        const std::string& preloadAfter = {})
    {
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e)
            if (std::strncmp(*e, "LD_PRELOAD=", 11) != 0 && std::strncmp(*e, "PERFDASH_HEAP_", 14) != 0)
                env.emplace_back(*e);
        env.emplace_back(
            std::string("LD_PRELOAD=") + PERFDASH_HEAP_LIB + (preloadAfter.empty() ? "" : " ") + preloadAfter);
        if (channel)
            env.push_back(channel->environmentEntry());
        std::vector<char*> envp;
        for (auto& e : env)
            envp.push_back(e.data());
        envp.push_back(nullptr);
        char* argv[] = { const_cast<char*>(program), const_cast<char*>(mode), const_cast<char*>(seconds), nullptr };
        int in[2], out[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0)
            return false;
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        const int spawned = posix_spawn(&m_pid, program, &actions, nullptr, argv, envp.data());
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        m_in = in[1];
        m_out = out[0];
        if (spawned != 0) {
            m_pid = -1;
            std::fprintf(stderr, "heap_unit: cannot start %s: %s\n", program, std::strerror(spawned));
            return false;
        }
        return true;
    }

    pid_t pid() const { return m_pid; }

    /// The next line starting with @p prefix (earlier ones are kept in lines()); empty on EOF or timeout.
    std::string waitFor(const std::string& prefix, int timeoutMs = 30000)
    {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
        for (;;) {
            for (std::size_t nl; (nl = m_buffer.find('\n')) != std::string::npos;) {
                std::string line = m_buffer.substr(0, nl);
                m_buffer.erase(0, nl + 1);
                m_lines.push_back(line);
                if (line.compare(0, prefix.size(), prefix) == 0)
                    return line;
            }
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0 || m_out < 0) {
                std::fprintf(stderr, "heap_unit: no line \"%s\" from the target\n", prefix.c_str());
                return {};
            }
            pollfd p { m_out, POLLIN, 0 };
            if (::poll(&p, 1, int(left)) <= 0)
                continue;
            char chunk[4096];
            const ssize_t n = ::read(m_out, chunk, sizeof chunk);
            if (n <= 0) {
                ::close(m_out);
                m_out = -1;
                continue;
            }
            m_buffer.append(chunk, std::size_t(n));
        }
    }
    const std::vector<std::string>& lines() const { return m_lines; }

    void send(const char* line)
    {
        const std::string text = std::string(line) + "\n";
        if (m_in >= 0 && ::write(m_in, text.data(), text.size()) != ssize_t(text.size()))
            std::fprintf(stderr, "heap_unit: cannot write to the target\n");
    }
    void closeInput()
    {
        if (m_in >= 0)
            ::close(m_in);
        m_in = -1;
    }

    /// Its exit status, or -1 when it had to be killed after @p timeoutMs (or crashed).
    int wait(int timeoutMs = 30000)
    {
        const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
        int status = 0;
        for (;;) {
            const pid_t done = ::waitpid(m_pid, &status, WNOHANG);
            if (done == m_pid)
                break;
            if (Clock::now() > deadline) {
                std::fprintf(stderr, "heap_unit: the target did not end: killed\n");
                ::kill(m_pid, SIGKILL);
                ::waitpid(m_pid, &status, 0);
                m_pid = -1;
                return -1;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        m_pid = -1;
        if (WIFSIGNALED(status))
            std::fprintf(stderr, "heap_unit: the target ended on signal %d\n", WTERMSIG(status));
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }

private:
    pid_t m_pid = -1;
    int m_in = -1, m_out = -1;
    std::string m_buffer;
    std::vector<std::string> m_lines;
};

struct Truth
{
    bool valid = false;
    double bytes = 0, allocs = 0, frees = 0;
};

Truth parseTruth(const std::string& line)
{
    Truth t;
    unsigned long long b, a, f;
    if (std::sscanf(line.c_str(), "truth %llu %llu %llu", &b, &a, &f) == 3) {
        t.valid = true;
        t.bytes = double(b);
        t.allocs = double(a);
        t.frees = double(f);
    }
    return t;
}

double live(const HeapCounters& c)
{
    return double(c.allocatedBytes) - double(c.freedBytes);
}

/// Waits for @p condition, polling, up to @p timeoutMs.
bool waitUntil(const std::function<bool()>& condition, int timeoutMs = 30000)
{
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeoutMs);
    while (!condition()) {
        if (Clock::now() > deadline)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

/// The common start: channel and target, "ready", and the library reporting into the channel.
bool startReporting(Target& target, HeapChannel& channel, const char* mode, const char* seconds = "60",
    std::uint64_t mean = HeapChannel::defaultSampleMean(), const std::string& nextAllocator = {})
{
    CHECK(channel.error().empty());
    if (!channel.error().empty()) {
        std::fprintf(stderr, "heap_unit: %s\n", channel.error().c_str());
        return false;
    }
    const bool started = target.start(PERFDASH_HEAP_TARGET, mode, &channel, seconds, nextAllocator);
    CHECK(started);
    const bool ready = started && !target.waitFor("ready").empty();
    CHECK(ready);
    if (!ready)
        return false;
    // The library claims the channel in its constructor, before main: by "ready" it reports.
    const HeapCounters c = channel.counters();
    CHECK_EQ(c.ownerPid, std::uint32_t(target.pid()));
    CHECK(c.reporting());
    CHECK(!c.ownAllocator());
    CHECK(c.allocator == (nextAllocator.empty() ? std::string("libc.so.6") : nextAllocator));
    CHECK_EQ(c.sampleMean, mean);
    return c.ownerPid == std::uint32_t(target.pid());
}

/// What the counters moved by between two readings against what the target says it did. The
/// tolerances: each thread alive may have up to 64 KiB or 256 operations not folded yet, at each reading.
void checkMoved(
    const HeapCounters& before, const HeapCounters& after, const Truth& truth, int threadsAlive = 1, int extraOps = 0)
{
    CHECK_NEAR(live(after) - live(before), truth.bytes, 2 * FoldBytes * threadsAlive);
    CHECK_NEAR(double(after.allocations - before.allocations), truth.allocs, 2 * FoldOps * threadsAlive + extraOps);
    CHECK_NEAR(double(after.frees - before.frees), truth.frees, 2 * FoldOps * threadsAlive + extraOps);
}

/// One thread's truth against the counters, between "go" and its "truth" line.
void checkExact(const char* mode, int threadsAlive, int extraOps = 0, const std::string& nextAllocator = {})
{
    TempDir dir;
    HeapChannel channel(dir.file("heap"));
    Target target;
    if (!startReporting(target, channel, mode, "60", HeapChannel::defaultSampleMean(), nextAllocator))
        return;
    const HeapCounters before = channel.counters();
    target.send("go");
    const Truth truth = parseTruth(target.waitFor("truth", 120000));
    CHECK(truth.valid);
    CHECK(!target.waitFor("done").empty());
    const HeapCounters after = channel.counters();
    checkMoved(before, after, truth, threadsAlive, extraOps);
    CHECK_EQ(after.droppedAllocs + after.droppedFrees + after.untracked, std::uint64_t(0));
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
    // At exit the last deltas are folded: counts are exact, up to what the C library's exit did.
    const HeapCounters end = channel.counters();
    CHECK(end.exited());
    CHECK_EQ(end.threadsAtExit, std::uint32_t(0));
    CHECK_NEAR(double(end.allocations - before.allocations), truth.allocs, 16 + extraOps);
}

// ---- the cases ------------------------------------------------------------------------------

void exactCase()
{
    checkExact("exact", 1);
}

// 200 rounds of 4 threads, none of which folds before its end: only the thread-exit flush counts
// them. pthread_create allocates for each thread (its DTV, in glibc): a few operations each.
void threadsCase()
{
    checkExact("threads", 1, 4 * 800);
}

void reallocCase()
{
    checkExact("realloc", 1);
}

void alignedCase()
{
    TempDir dir;
    HeapChannel channel(dir.file("heap"));
    Target target;
    if (!startReporting(target, channel, "aligned"))
        return;
    const HeapCounters before = channel.counters();
    target.send("go");
    CHECK(target.waitFor("misaligned") == "misaligned 0");
    const Truth truth = parseTruth(target.waitFor("truth"));
    CHECK(truth.valid);
    const HeapCounters after = channel.counters();
    checkMoved(before, after, truth);
}

// A SIGALRM handler allocating every 500 us while the main thread allocates in a loop, for 2 s:
// no deadlock (the target ends), and counts exact.
void signalCase()
{
    TempDir dir;
    HeapChannel channel(dir.file("heap"));
    Target target;
    if (!startReporting(target, channel, "signal", "2"))
        return;
    const HeapCounters before = channel.counters();
    target.send("go");
    const std::string handled = target.waitFor("handled", 60000);
    unsigned long long calls = 0;
    CHECK(std::sscanf(handled.c_str(), "handled %llu", &calls) == 1 && calls > 100);
    const Truth truth = parseTruth(target.waitFor("truth"));
    CHECK(truth.valid);
    const HeapCounters after = channel.counters();
    checkMoved(before, after, truth);
    std::printf("heap_unit: %llu handler calls, %.0f allocations, %llu sampled\n", calls, truth.allocs,
        static_cast<unsigned long long>(after.samples - before.samples));
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
}

// fork() under load: 40 forks while a thread allocates; even children allocate 16 MiB and exit()
// (through the preload's exit handler), odd ones exec the target (whose preload finds the channel
// taken). No deadlock, the parent keeps being counted, no child's heap lands in the parent's numbers.
void forkExecCase()
{
    TempDir dir;
    HeapChannel channel(dir.file("heap"));
    Target target;
    if (!startReporting(target, channel, "fork"))
        return;
    const HeapCounters before = channel.counters();
    target.send("go");
    const std::string forks = target.waitFor("forks", 240000);
    int made = -1, hung = -1, failed = -1;
    CHECK(std::sscanf(forks.c_str(), "forks %d hung %d failed %d", &made, &hung, &failed) == 3);
    CHECK_EQ(made, 40);
    CHECK_EQ(hung, 0);
    CHECK_EQ(failed, 0);
    unsigned long long churned = 0;
    CHECK(std::sscanf(target.waitFor("churned").c_str(), "churned %llu", &churned) == 1);
    const Truth truth = parseTruth(target.waitFor("truth"));
    CHECK(truth.valid);
    int children = 0;
    for (const std::string& line : target.lines()) {
        unsigned owner = 0;
        int pid = 0;
        if (std::sscanf(line.c_str(), "child-owner %u %d", &owner, &pid) == 2) {
            ++children;
            CHECK_EQ(owner, unsigned(target.pid()));
            CHECK(pid != target.pid());
        }
    }
    CHECK_EQ(children, 20);
    const HeapCounters after = channel.counters();
    CHECK_EQ(after.ownerPid, std::uint32_t(target.pid()));
    CHECK(!after.exited()); // no child's exit handler spoke for the parent
    // The churn thread has ended (its deltas folded at its exit); the children held 16 MiB each.
    CHECK_NEAR(live(after) - live(before), truth.bytes, 2 * FoldBytes);
    CHECK(churned >= 200000);
    CHECK(after.allocations - before.allocations >= churned); // every one of the churn thread's was counted
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
}

// The target execs itself (same pid, as a wrapper script's "exec prog" does): the new image takes
// the channel over; the old image's heap is gone, in the counters and in the samples (Reset).
void execTakeoverCase()
{
    TempDir dir;
    HeapChannel channel(dir.file("heap"), { 1, hw::DefaultRingSlots }); // every block sampled
    Target target;
    if (!startReporting(target, channel, "reexec", "60", 1))
        return;
    target.send("go");
    const Truth held = parseTruth(target.waitFor("truth"));
    CHECK(held.valid);
    CHECK(!target.waitFor("done").empty());
    std::set<std::uint64_t> liveSamples;
    bool reset = false;
    const auto sink = [&](const HeapRecord& r) {
        if (r.type == HeapRecordType::Alloc)
            liveSamples.insert(r.address);
        else if (r.type == HeapRecordType::Free)
            liveSamples.erase(r.address);
        else {
            liveSamples.clear();
            reset = true;
        }
    };
    channel.drain(sink);
    CHECK(live(channel.counters()) >= held.bytes);
    CHECK(liveSamples.size() >= 4);
    target.send("exec");
    CHECK(target.waitFor("pid") == "pid " + std::to_string(target.pid()));
    CHECK(!target.waitFor("ready").empty());
    const HeapCounters c = channel.counters();
    CHECK_EQ(c.ownerPid, std::uint32_t(target.pid()));
    CHECK(c.reporting());
    CHECK(live(c) < 1 << 20); // the new image's own start only
    channel.drain(sink);
    CHECK(reset);
    std::printf("heap_unit: after the exec, %.0f bytes live, %zu samples live\n", live(c), liveSamples.size());
    CHECK(liveSamples.size() < 200);
    // And the new image reports as any.
    const HeapCounters before = channel.counters();
    target.send("go");
    const Truth truth = parseTruth(target.waitFor("truth"));
    CHECK(truth.valid);
    CHECK_NEAR(live(channel.counters()) - live(before), truth.bytes, 2 * FoldBytes);
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
}

// jemalloc and tcmalloc, where installed (Debian: libjemalloc2, libtcmalloc-minimal4), as the
// library after the preload, as they are for a program linked with them: the preload forwards to
// them, names them, and counts exactly with their malloc_usable_size.
void nextAllocatorCase()
{
    // Where the C library is, the distribution's other libraries are (they use initial-exec TLS:
    // dlopen() may refuse them, LD_PRELOAD does not).
    Dl_info info {};
    std::string dir = "/usr/lib";
    if (::dladdr(reinterpret_cast<void*>(&::fclose), &info) && info.dli_fname && std::strchr(info.dli_fname, '/'))
        dir = std::string(info.dli_fname, std::strrchr(info.dli_fname, '/'));
    int tried = 0;
    for (const char* soname : { "libjemalloc.so.2", "libtcmalloc_minimal.so.4" }) {
        if (::access((dir + "/" + soname).c_str(), R_OK) != 0) {
            std::printf("heap_unit: %s is not installed (in %s): not tried\n", soname, dir.c_str());
            continue;
        }
        std::printf("heap_unit: with %s\n", soname);
        checkExact("exact", 1, 0, soname);
        ++tried;
    }
    std::printf("heap_unit: %d other allocators tried\n", tried);
}

// ---- sites: sampled stacks, estimates by site ------------------------------------------------

struct Site
{
    std::string name;
    std::uint64_t address = 0, size = 0;
};

struct SiteStats
{
    double liveEstimate = 0; // the weights of its sampled blocks still live
    double allocated = 0; // the weights of its Alloc records since the last reset
    int samples = 0;
};

/// Which site a stack belongs to: the innermost frame inside one of the target's site functions.
std::string siteOf(const HeapRecord& r, const std::vector<Site>& sites)
{
    for (std::uint32_t i = 0; i < r.depth; ++i)
        for (const Site& s : sites)
            if (r.frames[i] >= s.address && r.frames[i] < s.address + s.size)
                return s.name;
    return "other";
}

void sitesCase()
{
    TempDir dir;
    HeapChannel channel(dir.file("heap"));
    Target target;
    if (!startReporting(target, channel, "sites", "120"))
        return;
    std::vector<Site> sites;
    for (const std::string& line : target.lines()) {
        char name[64];
        unsigned long long address = 0;
        unsigned long size = 0;
        if (std::sscanf(line.c_str(), "site %63s %llx %lu", name, &address, &size) == 3)
            sites.push_back({ name, address, size });
    }
    CHECK_EQ(sites.size(), std::size_t(3));
    for (const Site& s : sites)
        CHECK(s.size > 0 && s.size < 4096);
    const double mean = double(channel.counters().sampleMean);
    std::map<std::uint64_t, std::pair<std::string, double>> liveBlocks; // address -> site, weight
    std::map<std::string, SiteStats> stats;
    int holdFirstFrameInside = 0, holdRecords = 0;
    const auto sink = [&](const HeapRecord& r) {
        if (r.type == HeapRecordType::Alloc) {
            const std::string site = siteOf(r, sites);
            const double weight = hw::sampleWeight(r.size, std::uint64_t(mean));
            liveBlocks[r.address] = { site, weight };
            stats[site].liveEstimate += weight;
            stats[site].allocated += weight;
            ++stats[site].samples;
            if (site == "hold_site") {
                ++holdRecords;
                // The preload's own frames are left out: the first is the call in hold_site.
                if (r.depth > 0 && r.frames[0] >= sites[0].address && r.frames[0] < sites[0].address + sites[0].size)
                    ++holdFirstFrameInside;
            }
        } else if (r.type == HeapRecordType::Free) {
            const auto it = liveBlocks.find(r.address);
            if (it != liveBlocks.end()) {
                stats[it->second.first].liveEstimate -= it->second.second;
                liveBlocks.erase(it);
            }
        }
    };
    target.send("go");
    unsigned long long holdBytes = 0;
    CHECK(std::sscanf(target.waitFor("hold").c_str(), "hold %llu", &holdBytes) == 1);
    // hold_site's records were written before it returned: they are all in the ring now.
    channel.drain(sink);
    std::printf("heap_unit: hold_site estimate %.0f bytes from %d samples, truth %llu\n",
        stats["hold_site"].liveEstimate, stats["hold_site"].samples, holdBytes);
    CHECK_NEAR(stats["hold_site"].liveEstimate, double(holdBytes), 0.15 * double(holdBytes));
    CHECK(holdRecords > 0 && holdFirstFrameInside == holdRecords);

    // Growth between two drains: at least a second apart, and long enough for leak_site (2 MB/s,
    // about 4 samples a second at the default mean) to have been sampled twice.
    std::map<std::string, double> liveAtStart;
    for (auto& [name, s] : stats) {
        liveAtStart[name] = s.liveEstimate;
        s.allocated = 0;
        s.samples = 0;
    }
    const auto t0 = Clock::now();
    const bool enough = waitUntil(
        [&] {
            channel.drain(sink);
            return Clock::now() - t0 >= std::chrono::seconds(1) && stats["leak_site"].samples >= 2;
        },
        60000);
    CHECK(enough);
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    std::string fastestGrowth, mostAllocated;
    double bestGrowth = -1e300, bestAllocated = -1;
    for (const Site& site : sites) {
        const SiteStats& s = stats[site.name];
        const double growth = s.liveEstimate - liveAtStart[site.name];
        std::printf("heap_unit: %-10s live %10.0f B, growth %10.0f B/s, allocated %12.0f B/s (%d samples in %.1f s)\n",
            site.name.c_str(), s.liveEstimate, growth / seconds, s.allocated / seconds, s.samples, seconds);
        if (growth > bestGrowth) {
            bestGrowth = growth;
            fastestGrowth = site.name;
        }
        if (s.allocated > bestAllocated) {
            bestAllocated = s.allocated;
            mostAllocated = site.name;
        }
    }
    CHECK(fastestGrowth == "leak_site");
    CHECK(mostAllocated == "churn_site");
    CHECK(stats["churn_site"].liveEstimate < 2.0 * 1024 * 1024); // 16 blocks of 64 B alive at a time
    const HeapCounters c = channel.counters();
    CHECK_EQ(c.droppedAllocs + c.droppedFrees + c.untracked, std::uint64_t(0));
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
}

// ---- the ring and the set under pressure -------------------------------------------------------

// A ring of 64 slots, every block sampled, nobody draining: the ring fills, records are dropped
// and counted; a dropped Alloc's block is forgotten (its free is not reported), counts stay exact.
void ringFullCase()
{
    TempDir dir;
    HeapChannel channel(dir.file("heap"), { 1, 64 });
    Target target;
    if (!startReporting(target, channel, "exact", "60", 1))
        return;
    std::set<std::uint64_t> liveSamples;
    int freesOfUnknown = 0;
    const auto sink = [&](const HeapRecord& r) {
        if (r.type == HeapRecordType::Alloc)
            liveSamples.insert(r.address);
        else if (r.type == HeapRecordType::Free && liveSamples.erase(r.address) == 0)
            ++freesOfUnknown;
    };
    channel.drain(sink);
    const HeapCounters before = channel.counters();
    target.send("go");
    const Truth truth = parseTruth(target.waitFor("truth"));
    CHECK(truth.valid);
    const HeapCounters after = channel.counters();
    std::printf("heap_unit: %llu samples, %llu Allocs and %llu Frees dropped\n",
        static_cast<unsigned long long>(after.samples), static_cast<unsigned long long>(after.droppedAllocs),
        static_cast<unsigned long long>(after.droppedFrees));
    CHECK(after.droppedAllocs > 1000);
    CHECK_EQ(after.pending, std::uint64_t(64));
    CHECK_NEAR(live(after) - live(before), truth.bytes, 2 * FoldBytes);
    CHECK_NEAR(double(after.allocations - before.allocations), truth.allocs, 2 * FoldOps);
    channel.drain(sink);
    // Whatever got through is consistent: no Free for a block whose Alloc was dropped.
    CHECK_EQ(freesOfUnknown, 0);
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
}

// The sampled-pointer set alone: full buckets, the probe window, and four threads at once.
void setCase()
{
    using perfdash::heappreload::SampledSet;
    static SampledSet set;
    // Addresses that share a home bucket: the home and its 3 neighbours hold 32 of them, no more.
    std::vector<std::uintptr_t> same;
    for (std::uintptr_t a = 0x10000; same.size() < 40; a += 16)
        if (SampledSet::homeOf(a) == SampledSet::homeOf(0x10000))
            same.push_back(a);
    int stored = 0;
    for (std::uintptr_t a : same)
        stored += set.insert(a) ? 1 : 0;
    CHECK_EQ(stored, 32);
    CHECK_EQ(set.size(), std::uint64_t(32));
    for (std::size_t i = 0; i < same.size(); ++i)
        CHECK_EQ(set.remove(same[i]), i < 32);
    CHECK_EQ(set.size(), std::uint64_t(0));
    CHECK(!set.mayContain(same[0]));
    // Concurrent: each thread inserts and removes its own addresses; none is lost or found twice.
    std::atomic<int> errors { 0 };
    std::vector<std::thread> threads;
    for (int k = 0; k < 4; ++k) {
        threads.emplace_back([k, &errors] {
            std::mt19937_64 rng(std::uint64_t(k) + 1);
            std::vector<std::uintptr_t> mine;
            for (int round = 0; round < 200000; ++round) {
                if (mine.size() < 2000 && (mine.empty() || rng() % 2)) {
                    const std::uintptr_t a = (std::uintptr_t(k + 1) << 40) | ((rng() & 0xffffffffull) << 4);
                    if (std::find(mine.begin(), mine.end(), a) != mine.end())
                        continue;
                    if (set.insert(a))
                        mine.push_back(a);
                } else {
                    const std::size_t i = rng() % mine.size();
                    if (!set.remove(mine[i]))
                        ++errors;
                    if (set.remove(mine[i]))
                        ++errors; // removed twice
                    mine[i] = mine.back();
                    mine.pop_back();
                }
            }
            for (std::uintptr_t a : mine)
                if (!set.remove(a))
                    ++errors;
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK_EQ(errors.load(), 0);
    CHECK_EQ(set.size(), std::uint64_t(0));
}

// A program that defines malloc itself: the preload loads and claims the channel, but its hooks
// are bypassed; the channel says so (OwnAllocator), and the counters indeed do not move.
void ownAllocatorCase()
{
    if (std::strlen(PERFDASH_HEAP_OWN_MALLOC_TARGET) == 0) {
        std::printf("heap_unit: no program with its own malloc (not glibc): untested\n");
        return;
    }
    TempDir dir;
    HeapChannel channel(dir.file("heap"));
    Target target;
    CHECK(target.start(PERFDASH_HEAP_OWN_MALLOC_TARGET, "exact", &channel));
    CHECK(!target.waitFor("ready").empty());
    const HeapCounters before = channel.counters();
    CHECK_EQ(before.ownerPid, std::uint32_t(target.pid()));
    CHECK(before.reporting());
    CHECK(before.ownAllocator());
    target.send("go");
    const Truth truth = parseTruth(target.waitFor("truth"));
    CHECK(truth.valid);
    const HeapCounters after = channel.counters();
    std::printf("heap_unit: %.0f allocations made, %llu counted\n", truth.allocs,
        static_cast<unsigned long long>(after.allocations - before.allocations));
    CHECK(double(after.allocations - before.allocations) < truth.allocs / 10);
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
}

// ---- the channel itself ----------------------------------------------------------------------

/// Runs the target's exact mode on @p channel: it must run to its end as usual.
void runPassThrough(HeapChannel& channel)
{
    Target target;
    CHECK(target.start(PERFDASH_HEAP_TARGET, "exact", &channel));
    CHECK(!target.waitFor("ready").empty());
    target.send("go");
    CHECK(parseTruth(target.waitFor("truth")).valid);
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
}

void channelCase()
{
    TempDir dir;
    // Creation: absolute path, a new file (never an existing one or a symlink), mode 0600 whatever
    // the umask, a valid ring size; removed by the destructor.
    CHECK(!HeapChannel("relative/heap").error().empty());
    CHECK(!HeapChannel(dir.file("heap"), { 0, 1000 }).error().empty());
    const std::string existing = dir.file("existing");
    std::fclose(std::fopen(existing.c_str(), "w"));
    CHECK(!HeapChannel(existing).error().empty());
    const std::string link = dir.file("link");
    CHECK(::symlink(dir.file("elsewhere").c_str(), link.c_str()) == 0);
    CHECK(!HeapChannel(link).error().empty());
    struct stat st;
    CHECK(::lstat(dir.file("elsewhere").c_str(), &st) != 0); // nothing created through the link
    const mode_t oldMask = ::umask(0);
    {
        HeapChannel channel(dir.file("heap"));
        CHECK(channel.error().empty());
        CHECK(::stat(channel.path().c_str(), &st) == 0 && (st.st_mode & 07777) == 0600);
        CHECK_EQ(std::uint64_t(st.st_size), hw::fileBytes(hw::DefaultRingSlots));
        CHECK_EQ(channel.owner(), std::uint32_t(0));
        CHECK_EQ(channel.drain([](const HeapRecord&) {}), std::size_t(0));
        CHECK(channel.environmentEntry() == "PERFDASH_HEAP_SHM=" + channel.path());
    }
    ::umask(oldMask);
    CHECK(::stat(dir.file("heap").c_str(), &st) != 0);
    // The library refuses, quietly, a channel that is not what it expects: the program runs as
    // usual and the channel stays unclaimed.
    {
        HeapChannel channel(dir.file("version"));
        const int fd = ::open(channel.path().c_str(), O_RDWR);
        const std::uint32_t version = hw::Version + 1;
        CHECK(::pwrite(fd, &version, sizeof version, offsetof(hw::Header, version)) == ssize_t(sizeof version));
        ::close(fd);
        runPassThrough(channel);
        CHECK_EQ(channel.owner(), std::uint32_t(0));
    }
    {
        HeapChannel channel(dir.file("short"));
        CHECK(::truncate(channel.path().c_str(), hw::HeaderBytes + 100) == 0);
        runPassThrough(channel);
        CHECK_EQ(channel.owner(), std::uint32_t(0));
    }
    if (::getuid() == 0) { // someone else's file
        HeapChannel channel(dir.file("owner"));
        CHECK(::chown(channel.path().c_str(), 65534, 65534) == 0);
        runPassThrough(channel);
        CHECK_EQ(channel.owner(), std::uint32_t(0));
    }
    // Already claimed (by a process that is gone, say): the next program stays a pass-through.
    {
        HeapChannel channel(dir.file("claimed"));
        const int fd = ::open(channel.path().c_str(), O_RDWR);
        const std::uint32_t somebody = 1;
        CHECK(::pwrite(fd, &somebody, sizeof somebody, offsetof(hw::Header, ownerPid)) == ssize_t(sizeof somebody));
        ::close(fd);
        runPassThrough(channel);
        CHECK_EQ(channel.owner(), std::uint32_t(1));
        CHECK(!channel.counters().reporting());
    }
}

// ---- refusal: where LD_PRELOAD cannot work ------------------------------------------------------

bool copyFile(const std::string& from, const std::string& to)
{
    return std::system(("cp '" + from + "' '" + to + "'").c_str()) == 0;
}

bool contains(const std::string& text, const char* part)
{
    return text.find(part) != std::string::npos;
}

/// A program with file capabilities: run by root (real uid 0) the loader is not in secure mode and
/// honours the preload; by anyone else it is, and canPreload() refuses it. Root sets the
/// capability (CAP_SETFCAP) and then drops to nobody in a child to see the refusal.
void fileCapabilities(const TempDir& dir, const std::function<std::string(const std::string&)>& preloadRefusal)
{
    if (::getuid() != 0) {
        std::printf("heap_unit: not root: file capabilities cannot be set here, that case is untested\n");
        return;
    }
    const std::string capped = dir.file("capped");
    CHECK(copyFile(PERFDASH_HEAP_TARGET, capped));
    ::chmod(capped.c_str(), 0755);
    vfs_cap_data caps {};
    caps.magic_etc = VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE;
    caps.data[0].permitted = 1u << CAP_NET_BIND_SERVICE;
    const bool set = ::setxattr(capped.c_str(), "security.capability", &caps, XATTR_CAPS_SZ_2, 0) == 0;
    if (!set)
        std::fprintf(stderr, "heap_unit: as root, setting a file capability must work: %s\n", std::strerror(errno));
    CHECK(set);
    if (!set)
        return;
    // As root: not refused, and indeed the preload loads and claims the channel.
    CHECK(preloadRefusal(capped).empty());
    HeapChannel channel(dir.file("capped-heap"));
    Target target;
    CHECK(target.start(capped.c_str(), "exact", &channel));
    CHECK(!target.waitFor("ready").empty());
    target.send("go");
    CHECK(!target.waitFor("done").empty());
    target.closeInput();
    CHECK_EQ(target.wait(), 0);
    CHECK(channel.owner() != 0);
    // With dropped privileges (nobody): refused, saying why. The directory must be searchable for it.
    ::chmod(dir.file(".").c_str(), 0755);
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(2);
        std::string why;
        const bool can = perfdash::heap::canPreload(capped, &why);
        ::_exit(!can && contains(why, "file capabilities") ? 0 : 1);
    }
    int status = -1;
    CHECK(child > 0 && ::waitpid(child, &status, 0) == child);
    std::printf("heap_unit: as nobody, a program with file capabilities: child status %d\n", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); // refused, saying "file capabilities"
}

void refusalCase()
{
    // Why canPreload() refuses @p executable; empty when it does not (and then it said nothing).
    const auto preloadRefusal = [](const std::string& executable) {
        std::string why;
        const bool can = perfdash::heap::canPreload(executable, &why);
        CHECK(can == why.empty());
        return why;
    };
    TempDir dir;
    // A dynamic executable: nothing against it.
    CHECK(preloadRefusal(PERFDASH_HEAP_TARGET).empty());
    CHECK(!preloadRefusal(dir.file("missing")).empty());
    // A static one: refused, and indeed run with the preload, it never claims the channel.
    const bool haveStatic = std::strlen(PERFDASH_HEAP_STATIC_TARGET) > 0;
    if (!haveStatic)
        std::printf("heap_unit: no static executable could be built here: that refusal is untested\n");
    const std::string staticWhy = haveStatic ? preloadRefusal(PERFDASH_HEAP_STATIC_TARGET) : "statically linked";
    std::printf("heap_unit: %s\n", staticWhy.c_str());
    CHECK(contains(staticWhy, "statically linked"));
    if (haveStatic) {
        HeapChannel channel(dir.file("static"));
        Target target;
        CHECK(target.start(PERFDASH_HEAP_STATIC_TARGET, "exact", &channel));
        CHECK(!target.waitFor("ready").empty());
        target.send("go");
        CHECK(!target.waitFor("done").empty());
        target.closeInput();
        CHECK_EQ(target.wait(), 0);
        CHECK_EQ(channel.owner(), std::uint32_t(0)); // ran to its end: "the library never loaded"
    }
    // A script is judged by its interpreter.
    const std::string script = dir.file("script");
    const auto writeScript = [&](const char* interpreter) {
        FILE* f = std::fopen(script.c_str(), "w");
        std::fprintf(f, "#!%s exact\necho\n", interpreter);
        std::fclose(f);
        ::chmod(script.c_str(), 0755);
    };
    if (haveStatic) {
        writeScript(PERFDASH_HEAP_STATIC_TARGET);
        CHECK(contains(preloadRefusal(script), "statically linked"));
    }
    writeScript(PERFDASH_HEAP_TARGET);
    CHECK(preloadRefusal(script).empty());
    // Set-user-ID and set-group-ID: refused when the file belongs to someone else (a copy made
    // someone else's when this runs as root, else a system program).
    const std::string setuidCopy = dir.file("setuid"), setgidCopy = dir.file("setgid");
    CHECK(copyFile(PERFDASH_HEAP_TARGET, setuidCopy) && copyFile(PERFDASH_HEAP_TARGET, setgidCopy));
    ::chmod(setuidCopy.c_str(), 04755);
    ::chmod(setgidCopy.c_str(), 02755);
    // Our own file set-user-ID to us: the loader runs it as usual (no secure mode).
    CHECK(preloadRefusal(setuidCopy).empty());
    if (::getuid() == 0) {
        CHECK(::chown(setuidCopy.c_str(), 65534, 65534) == 0 && ::chmod(setuidCopy.c_str(), 04755) == 0);
        CHECK(::chown(setgidCopy.c_str(), 0, 65534) == 0 && ::chmod(setgidCopy.c_str(), 02755) == 0);
        const std::string uidWhy = preloadRefusal(setuidCopy), gidWhy = preloadRefusal(setgidCopy);
        std::printf("heap_unit: %s\nheap_unit: %s\n", uidWhy.c_str(), gidWhy.c_str());
        CHECK(contains(uidWhy, "set-user-ID"));
        CHECK(contains(gidWhy, "set-group-ID"));
    } else {
        bool found = false;
        for (const char* system : { "/usr/bin/passwd", "/usr/bin/su", "/bin/su", "/usr/bin/mount", "/usr/bin/chsh" }) {
            struct stat st;
            if (::stat(system, &st) == 0 && (st.st_mode & S_ISUID) && st.st_uid != ::getuid()) {
                const std::string why = preloadRefusal(system);
                std::printf("heap_unit: %s\n", why.c_str());
                CHECK(contains(why, "set-user-ID"));
                found = true;
                break;
            }
        }
        if (!found)
            std::printf("heap_unit: no set-user-ID program of another user here: that refusal is untested\n");
    }
    fileCapabilities(dir, preloadRefusal);
}

const Case g_cases[] = {
    { "exact", exactCase },
    { "sites", sitesCase },
    { "fork_exec", forkExecCase },
    { "exec_takeover", execTakeoverCase },
    { "threads", threadsCase },
    { "realloc_chain", reallocCase },
    { "aligned", alignedCase },
    { "signal", signalCase },
    { "ring_full", ringFullCase },
    { "next_allocator", nextAllocatorCase },
    { "own_allocator", ownAllocatorCase },
    { "set", setCase },
    { "channel", channelCase },
    { "refusal", refusalCase },
};
} // namespace

int main(int argc, char** argv)
{
    ::signal(SIGPIPE, SIG_IGN); // a target that died: its pipe's write fails, the checks say why
    return runCase("heap_unit", g_cases, argc, argv);
}
