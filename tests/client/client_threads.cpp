// SPDX-License-Identifier: GPL-3.0-or-later
// The client library's threads, without Qt (so ThreadSanitizer sees all of it): 8 recording
// threads, threads that come and go, counters, flushes from several threads, and a minimal
// dashboard in plain POSIX that counts what arrives. Exit 0 when every recorded operation arrived.
#include <perfdash/perfdash.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace {
std::uint64_t le(const unsigned char* p, int bytes)
{
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v |= std::uint64_t(p[i]) << (8 * i);
    return v;
}

/// Accepts one connection after another and counts the operations in HISTOGRAM frames.
class Dashboard
{
public:
    explicit Dashboard(const std::string& path)
    {
        m_fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr {};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        ::unlink(path.c_str());
        if (::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(m_fd, 4) != 0) {
            std::perror("client_threads: listen");
            std::exit(2);
        }
        m_thread = std::thread([this] { run(); });
    }
    ~Dashboard()
    {
        ::shutdown(m_fd, SHUT_RDWR);
        if (const int c = m_client.load(); c >= 0)
            ::shutdown(c, SHUT_RDWR); // the client keeps its connection until it exits
        m_thread.join();
        ::close(m_fd);
    }
    std::uint64_t operations() const { return m_operations.load(); }
    /// Waits until @p expected operations were counted, or @p timeout passed; what was counted.
    std::uint64_t waitFor(std::uint64_t expected, std::chrono::seconds timeout)
    {
        std::unique_lock<std::mutex> lock(m_mutex);
        m_counted.wait_for(lock, timeout, [&] { return m_operations.load() >= expected; });
        return m_operations.load();
    }

private:
    void run()
    {
        for (;;) {
            const int c = ::accept(m_fd, nullptr, nullptr);
            if (c < 0)
                return;
            m_client = c;
            std::string buffer;
            char chunk[65536];
            ssize_t n;
            while ((n = ::read(c, chunk, sizeof chunk)) > 0) {
                buffer.append(chunk, std::size_t(n));
                std::size_t at = 0;
                if (buffer.compare(0, 4, "PDSH") == 0)
                    at = 4;
                while (buffer.size() - at >= 5) {
                    const auto* p = reinterpret_cast<const unsigned char*>(buffer.data() + at);
                    const std::size_t length = std::size_t(le(p, 4));
                    if (buffer.size() - at - 4 < length)
                        break;
                    if (p[4] == 3) { // HISTOGRAM: u32 op, 6 x u64, u32 n, n x (u16, u32)
                        const unsigned char* body = p + 5;
                        std::uint64_t total = le(body + 4 + 40, 8); // overflow
                        const std::uint64_t count = le(body + 52, 4);
                        for (std::uint64_t i = 0; i < count; ++i)
                            total += le(body + 56 + i * 6 + 2, 4);
                        {
                            std::lock_guard<std::mutex> lock(m_mutex);
                            m_operations += total;
                        }
                        m_counted.notify_all();
                    }
                    at += 4 + length;
                }
                buffer.erase(0, at);
            }
            m_client = -1;
            ::close(c);
        }
    }

    int m_fd;
    std::thread m_thread;
    std::atomic<std::uint64_t> m_operations { 0 };
    std::mutex m_mutex;
    std::condition_variable m_counted;
    std::atomic<int> m_client { -1 };
};
} // namespace

int main()
{
    char dir[] = "/tmp/perfdash-tsan-XXXXXX";
    if (!::mkdtemp(dir))
        return 2;
    const std::string path = std::string(dir) + "/s.sock";
    ::setenv("PERFDASH_SOCKET", path.c_str(), 1);
    Dashboard dashboard(path);

    constexpr int Threads = 8, PerThread = 200'000;
    std::vector<std::thread> threads;
    for (int t = 0; t < Threads; ++t) {
        threads.emplace_back([t] {
            const perfdash::OpId op = perfdash::operation(t % 2 ? "odd.op" : "even.op");
            for (int i = 0; i < PerThread; ++i) {
                if (i % 1000 == 0) {
                    PERFDASH_SCOPE_VAR(scope, "scoped.op");
                    scope.meta("i", std::to_string(i));
                    if (i % 3000 == 0)
                        scope.fail();
                } else if (i % 2) {
                    perfdash::Scope scope(op); // counted at the thread's next recording, or by the flusher
                } else {
                    perfdash::record(op, std::uint64_t(i % 5000) * 100, i % 7 != 0);
                }
                if (i % 50'000 == 0) {
                    perfdash::counter("loops");
                    perfdash::gauge("progress", double(i));
                    perfdash::flush(0); // flushes race with recording, on purpose
                }
            }
        });
    }
    // Short-lived threads: their data must arrive after they are gone.
    for (int round = 0; round < 20; ++round) {
        std::thread([] {
            for (int i = 0; i < 1000; ++i)
                perfdash::record("short.op", 10, true);
        }).join();
    }
    for (auto& t : threads)
        t.join();
    const std::uint64_t expected = std::uint64_t(Threads) * PerThread + 20 * 1000;
    // Written to the socket is not yet counted: wait for the reader, generously (a loaded machine).
    const int flushed = perfdash::flush(30'000);
    const std::uint64_t got = dashboard.waitFor(expected, std::chrono::seconds(60));
    if (flushed != 0)
        std::printf("client_threads: flush: %s\n", perfdash_strerror(flushed));
    std::printf("client_threads: recorded %llu, the dashboard counted %llu\n",
        static_cast<unsigned long long>(expected), static_cast<unsigned long long>(got));
    return got == expected ? 0 : 1;
}
