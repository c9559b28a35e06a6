// SPDX-License-Identifier: GPL-3.0-or-later
// Test helper: an instrumented process for the ingest tests, in several modes.
//   early N      records N operations before any dashboard exists, says "recorded", then waits
//                (up to 60 s) until they are all sent
//   stream       records about a thousand operations a second until stdin closes
//   partial      connects by hand, sends a hello and half a frame, and kills itself with SIGKILL
//   fork         records 10 "parent.op", forks; the child records 20 "child.op"; both send theirs
//   soak S       records at a steady pace for S seconds, then prints how many
//   overflow     with no dashboard, records wide histograms until its history overflows, says
//                "overflowed", then waits (up to 60 s) to send the rest; prints "recorded N dropped D"
//   refused N    records N operations, flushes until the dashboard took them or refused it;
//                prints "flush RESULT dropped D rejected R"
//   exit-backlog with no dashboard, records a backlog of wide intervals, says "backlog", then
//                exits the moment a dashboard is there; after the library's exit handler, prints
//                "recorded N dropped D at-exit E"
#include <perfdash/perfdash.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

/// flush() says at once when no dashboard is there; these helpers are started before theirs
/// sometimes, so they retry until one is, within @p timeoutMs.
static int flushWhenConnected(int timeoutMs)
{
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
    int rc;
    while ((rc = perfdash::flush(timeoutMs)) == PERFDASH_ENOTCONNECTED && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    return rc;
}

namespace {
int early(long n)
{
    const perfdash::OpId op = perfdash::operation("early.op");
    for (long i = 0; i < n; ++i)
        perfdash::record(op, std::uint64_t(1000 * (i % 100 + 1)), i % 10 != 0);
    std::printf("recorded\n");
    std::fflush(stdout);
    const int rc = flushWhenConnected(60'000);
    std::printf("flush: %s\n", perfdash_strerror(rc));
    return rc == PERFDASH_OK ? 0 : 1;
}

int stream()
{
    std::atomic<bool> done { false };
    std::thread reader([&] {
        while (std::getchar() != EOF) { }
        done = true;
    });
    const perfdash::OpId op = perfdash::operation("stream.op");
    std::printf("streaming\n");
    std::fflush(stdout);
    while (!done) {
        perfdash::record(op, 5000, true);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    reader.join();
    return flushWhenConnected(5000) == PERFDASH_OK ? 0 : 1;
}

void put(std::string& out, std::uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; ++i)
        out.push_back(char((v >> (8 * i)) & 0xff));
}

/// Records as fast as a steady pace allows for @p seconds, then prints how many it recorded.
int soak(double seconds)
{
    const perfdash::OpId ops[]
        = { perfdash::operation("soak.fast"), perfdash::operation("soak.slow"), perfdash::operation("soak.errors") };
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    unsigned long long recorded = 0;
    while (std::chrono::steady_clock::now() < end) {
        for (int i = 0; i < 1000; ++i, ++recorded)
            perfdash::record(ops[recorded % 3], 1000 + (recorded % 10000) * 50, recorded % 97 != 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(1)); // about a million a second at most
    }
    const int rc = flushWhenConnected(30'000);
    std::printf("%llu\n", recorded);
    std::fflush(stdout);
    return rc == PERFDASH_OK ? 0 : 1;
}

/// Records intervals too wide for the client's history (8 MiB) until it gives some up.
int overflow()
{
    constexpr int Names = 2000, Widths = 600;
    std::vector<perfdash::OpId> ops;
    for (int i = 0; i < Names; ++i)
        ops.push_back(perfdash::operation(("wide." + std::to_string(i)).c_str()));
    std::vector<std::uint64_t> durations; // 2% apart: each in a bucket of its own
    for (int k = 0; k < Widths; ++k)
        durations.push_back(std::uint64_t(200 * std::pow(1.02, k)));
    unsigned long long recorded = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (perfdash::stats().droppedOperations == 0 && std::chrono::steady_clock::now() < deadline) {
        for (perfdash::OpId op : ops) {
            for (std::uint64_t d : durations)
                perfdash::record(op, d, true);
        }
        recorded += Names * Widths;
        std::this_thread::sleep_for(std::chrono::milliseconds(100)); // the flusher takes an interval
    }
    std::printf("overflowed\n");
    std::fflush(stdout);
    const int rc = flushWhenConnected(60'000);
    std::printf(
        "recorded %llu dropped %llu\n", recorded, static_cast<unsigned long long>(perfdash::stats().droppedOperations));
    return rc == PERFDASH_OK ? 0 : 1;
}

/// A dashboard that refuses this process must say so: flush() is not OK, and what was recorded
/// is counted as dropped (rejected).
int refused(long n)
{
    const perfdash::OpId op = perfdash::operation("refused.op");
    for (long i = 0; i < n; ++i)
        perfdash::record(op, 1000, true);
    // Until the dashboard is there (the helper may start first) and has given its verdict.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    int rc;
    while ((rc = perfdash::flush(5000)) == PERFDASH_ENOTCONNECTED && perfdash::stats().droppedRejected == 0
        && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const perfdash::ClientStats s = perfdash::stats();
    std::printf("flush %s dropped %llu rejected %llu\n", perfdash_strerror(rc),
        static_cast<unsigned long long>(s.droppedOperations), static_cast<unsigned long long>(s.droppedRejected));
    std::fflush(stdout);
    return 0;
}

/// Printed after the library's exit handler: constructed before the library's first use.
struct AfterExit
{
    unsigned long long recorded = 0;
    bool armed = false;
    ~AfterExit()
    {
        if (!armed)
            return;
        const perfdash::ClientStats s = perfdash::stats();
        std::printf("recorded %llu dropped %llu at-exit %llu\n", recorded,
            static_cast<unsigned long long>(s.droppedOperations), static_cast<unsigned long long>(s.droppedAtExit));
        std::fflush(stdout);
    }
};

/// A host that recorded while no dashboard was there exits just after one came: what waits is
/// for its exit handler to send, or to count.
int exitBacklog()
{
    static AfterExit report;
    constexpr int Names = 2000, Widths = 40, Intervals = 8; // about 4.8 MB: kept whole (8 MiB)
    std::vector<perfdash::OpId> ops;
    for (int i = 0; i < Names; ++i)
        ops.push_back(perfdash::operation(("backlog." + std::to_string(i)).c_str()));
    for (int interval = 0; interval < Intervals; ++interval) {
        for (perfdash::OpId op : ops) {
            std::uint64_t ns = 200;
            for (int k = 0; k < Widths; ++k, ns += ns / 8) // each in a bucket of its own: wide frames
                perfdash::record(op, ns, true);
        }
        report.recorded += Names * Widths;
        perfdash::flush(0); // no dashboard: an interval kept for one to come
    }
    std::printf("backlog\n");
    std::fflush(stdout);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!perfdash::stats().connected && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    report.armed = true;
    std::exit(0);
}

int partial()
{
    const char* path = std::getenv("PERFDASH_SOCKET");
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
        return 1;
    std::string body;
    put(body, 1, 2); // version
    put(body, std::uint64_t(getpid()), 4);
    put(body, 0, 8);
    const std::string name = "half-frame";
    put(body, name.size(), 4);
    body += name;
    put(body, 0, 2); // argc
    std::string data = "PDSH";
    put(data, body.size() + 1, 4);
    data.push_back(1);
    data += body;
    put(data, 100, 4); // a MEMORY frame announced with 100 bytes...
    data.push_back(5);
    data += "only part"; // ...of which only these arrive
    if (::write(fd, data.data(), data.size()) != ssize_t(data.size()))
        return 1;
    std::printf("sent\n");
    std::fflush(stdout);
    char ack;
    if (::read(0, &ack, 1) < 0) // the test says when to die
        return 1;
    ::raise(SIGKILL);
    return 1;
}

int forked()
{
    const perfdash::OpId parentOp = perfdash::operation("parent.op");
    for (int i = 0; i < 10; ++i)
        perfdash::record(parentOp, 1000, true);
    if (flushWhenConnected(20'000) != PERFDASH_OK)
        return 1;
    std::printf("forking\n");
    std::fflush(stdout);
    const pid_t child = ::fork();
    if (child == 0) {
        const perfdash::OpId childOp = perfdash::operation("child.op");
        for (int i = 0; i < 20; ++i)
            perfdash::record(childOp, 2000, true);
        std::_Exit(flushWhenConnected(20'000) == PERFDASH_OK ? 0 : 3);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    std::printf("child %d\n", int(child));
    std::fflush(stdout);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 2;
}
} // namespace

int main(int argc, char** argv)
{
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "early")
        return early(argc > 2 ? std::atol(argv[2]) : 1000);
    if (mode == "stream")
        return stream();
    if (mode == "partial")
        return partial();
    if (mode == "fork")
        return forked();
    if (mode == "soak")
        return soak(argc > 2 ? std::atof(argv[2]) : 10.0);
    if (mode == "overflow")
        return overflow();
    if (mode == "refused")
        return refused(argc > 2 ? std::atol(argv[2]) : 1000);
    if (mode == "exit-backlog")
        return exitBacklog();
    std::fprintf(stderr,
        "usage: perfdash_test_client early N | stream | partial | fork | soak S | overflow | refused N | "
        "exit-backlog\n");
    return 2;
}
