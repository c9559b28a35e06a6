// SPDX-License-Identifier: GPL-3.0-or-later
// fork() in a program that uses the client library, under load: 4 threads recording 400 operations,
// one thread calling perfdash::flush(0) in a loop, and the main thread forking again and again. The
// child records, flushes and exits through the library's exit handler. A deadlock anywhere (the
// atfork handlers against the flusher, or the child's first steps) is a hang: a watchdog turns it
// into a failure. No Qt, so ThreadSanitizer sees everything.
//   client_fork [--seconds N]   (the suite runs 3 s; the long stress test is --seconds 40)
#include <perfdash/perfdash.hpp>

#include <atomic>
#include <chrono>
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

namespace {
std::atomic<bool> g_stop { false };
std::atomic<std::uint64_t> g_progress { 0 }; // forks completed; the watchdog checks that it moves

/// A dashboard that accepts every connection and reads it to the end, so clients never block.
void serve(int listener)
{
    for (;;) {
        const int c = ::accept(listener, nullptr, nullptr);
        if (c < 0)
            return;
        std::thread([c] {
            char chunk[65536];
            while (::read(c, chunk, sizeof chunk) > 0) { }
            ::close(c);
        }).detach();
    }
}
} // namespace

int main(int argc, char** argv)
{
    double seconds = 3;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--seconds") == 0)
            seconds = std::atof(argv[i + 1]);

    char dir[] = "/tmp/perfdash-fork-XXXXXX";
    if (!::mkdtemp(dir))
        return 2;
    const std::string path = std::string(dir) + "/s.sock";
    ::setenv("PERFDASH_SOCKET", path.c_str(), 1);
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 64) != 0) {
        std::perror("client_fork: listen");
        return 2;
    }
    std::thread(serve, listener).detach();

    // The watchdog: no fork completed for 20 s is a hang (one fork takes milliseconds).
    std::thread([] {
        std::uint64_t last = ~std::uint64_t(0);
        auto since = std::chrono::steady_clock::now();
        while (!g_stop.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            const std::uint64_t now = g_progress.load();
            if (now != last) {
                last = now;
                since = std::chrono::steady_clock::now();
            } else if (std::chrono::steady_clock::now() - since > std::chrono::seconds(20)) {
                std::fprintf(stderr, "client_fork: HANG: no fork completed for 20 s after %llu forks\n",
                    static_cast<unsigned long long>(now));
                std::fflush(stderr);
                std::_Exit(1);
            }
        }
    }).detach();

    constexpr int Operations = 400;
    std::vector<perfdash::OpId> ops;
    for (int i = 0; i < Operations; ++i)
        ops.push_back(perfdash::operation(("fork.op" + std::to_string(i)).c_str()));

    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([t, &ops] {
            std::uint64_t i = std::uint64_t(t);
            while (!g_stop.load(std::memory_order_relaxed)) {
                perfdash::record(ops[i % Operations], i % 100'000, i % 13 != 0);
                if (i % 64 == 0)
                    perfdash::counter("fork.loops");
                ++i;
            }
        });
    }
    threads.emplace_back([] {
        while (!g_stop.load(std::memory_order_relaxed))
            perfdash::flush(0);
    });

    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    int failures = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        const pid_t pid = ::fork();
        if (pid < 0) {
            std::perror("client_fork: fork");
            failures++;
            break;
        }
        if (pid == 0) {
            // The child: a separate client. It starts with nothing recorded and counts only its own.
            const perfdash::ClientStats before = perfdash::stats();
            for (int i = 0; i < 1000; ++i)
                perfdash::record(ops[std::size_t(i) % Operations], 1000, true);
            perfdash::flush(2000);
            std::exit(before.droppedOperations == 0 && before.connects == 0 ? 0 : 3); // runs the exit handler
        }
        // The child must exit on its own, quickly; one that does not within 20 s is a hang.
        const auto childDeadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        int status = 0;
        pid_t done = 0;
        while ((done = ::waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < childDeadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        if (done == 0) {
            std::fprintf(stderr, "client_fork: HANG: child %d did not exit within 20 s\n", int(pid));
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            failures++;
            break;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            std::fprintf(stderr, "client_fork: child %d ended with status %d\n", int(pid), status);
            failures++;
        }
        g_progress.fetch_add(1);
    }
    g_stop.store(true);
    for (auto& t : threads)
        t.join();
    std::printf("client_fork: %llu forks in %.0f s, %d failures\n", static_cast<unsigned long long>(g_progress.load()),
        seconds, failures);
    ::unlink(path.c_str());
    ::rmdir(dir);
    return failures == 0 && g_progress.load() > 0 ? 0 : 1;
}
