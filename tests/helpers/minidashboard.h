// SPDX-License-Identifier: GPL-3.0-or-later
// A dashboard in plain POSIX for the client library's tests (no Qt, so they also run under
// ThreadSanitizer, qemu-user and musl): accepts connections one after another and tallies the
// frames of docs/PROTOCOL.md that the tests look at.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <map>
#include <mutex>
#include <poll.h>
#include <string>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace perfdashtest {

inline std::uint64_t le(const unsigned char* p, int bytes)
{
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i)
        v |= std::uint64_t(p[i]) << (8 * i);
    return v;
}

struct Tally
{
    std::uint64_t operations = 0; // in HISTOGRAM frames
    std::uint64_t errors = 0;
    std::uint64_t sumNs = 0; // of HISTOGRAM frames
    std::uint64_t maxNs = 0; // the largest max of a HISTOGRAM frame
    std::uint64_t events = 0; // EVENT frames
    std::uint64_t eventMetaPairs = 0;
    std::uint64_t maxFrame = 0;
    std::uint64_t memoryFrames = 0;
    std::uint64_t lastHeap = 0;
    std::uint64_t dropsOperations = 0; // the last DROPS frame's third field
    std::uint64_t connections = 0;
    std::uint64_t syncsAnswered = 0; // RECEIVED frames sent, over all connections
    std::uint64_t rejected = 0; // connections refused with REJECT
    std::uint64_t rings = 0; // RINGS frames, over all connections
    int ringsState = -1; // the last one's: 0 stopped, 1 ready, 2 unavailable
    int ringsFd = -1;
    std::uint64_t ringsToken = 0;
    std::uint64_t ringsBytes = 0;
    std::string ringsReason;
    std::map<std::string, double> metrics; // the last value of each
    std::map<std::string, int> metricFrames; // how many METRIC frames per name, on this connection
};

class MiniDashboard
{
public:
    explicit MiniDashboard(const std::string& path)
        : m_path(path)
    {
        m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr {};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        ::unlink(path.c_str());
        if (::bind(m_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(m_fd, 8) != 0) {
            std::perror("minidashboard: listen");
            std::exit(2);
        }
        m_thread = std::thread([this] { run(); });
    }
    ~MiniDashboard()
    {
        // The reader may be between two connections, or accept one more from the backlog (a fork
        // child's): shut down whatever it holds until it has ended.
        m_stopping = true;
        resumeReading();
        ::shutdown(m_fd, SHUT_RDWR);
        while (!m_done.load()) {
            dropClient();
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        m_thread.join();
        ::close(m_fd);
        ::unlink(m_path.c_str());
    }
    /// Stops reading (the client's bytes stay in the kernel) until resumeReading() or dropUnread().
    void pauseReading()
    {
        std::unique_lock lock(m_mutex);
        m_paused = true;
        // Returns once the reader is parked, not inside a read() that would still take bytes.
        m_changed.wait_for(lock, std::chrono::seconds(30), [&] { return m_parked || m_client.load() < 0; });
    }
    void resumeReading()
    {
        std::lock_guard lock(m_mutex);
        m_paused = false;
        m_changed.notify_all();
    }
    /// Closes the current connection without reading what it holds (as a dashboard that dies),
    /// then reads again: the client reconnects.
    void dropUnread()
    {
        std::lock_guard lock(m_mutex);
        m_dropUnread = true;
        m_paused = false;
        m_changed.notify_all();
    }
    /// Reads at most @p bytes every @p pauseMs (a dashboard that is slow to read); 0 bytes: no limit.
    void throttleReading(std::size_t bytes, int pauseMs)
    {
        std::lock_guard lock(m_mutex);
        m_throttleBytes = bytes;
        m_throttleMs = pauseMs;
    }
    /// Answers the next HELLO with REJECT and closes that connection.
    void rejectNext(const std::string& reason)
    {
        std::lock_guard lock(m_mutex);
        m_reject = reason;
    }
    /// Sends PROFILE to the client now and to every later connection after its HELLO (start), or
    /// once (stop); @p entries: the ring size asked for (0: the client's default).
    void profile(bool start, std::uint32_t entries = 0)
    {
        std::lock_guard lock(m_mutex);
        m_profiling = start;
        m_profileEntries = entries;
        m_profileDue = true;
    }
    /// Closes the current connection (the client reconnects); its per-connection tallies restart.
    void dropClient()
    {
        if (const int c = m_client.load(); c >= 0)
            ::shutdown(c, SHUT_RDWR);
    }
    Tally tally()
    {
        std::lock_guard lock(m_mutex);
        return m_tally;
    }
    /// Waits until @p done(tally) or @p timeout; the last tally.
    Tally waitFor(
        const std::function<bool(const Tally&)>& done, std::chrono::milliseconds timeout = std::chrono::seconds(30))
    {
        std::unique_lock lock(m_mutex);
        m_changed.wait_for(lock, timeout, [&] { return done(m_tally); });
        return m_tally;
    }

private:
    void frame(const unsigned char* p, std::size_t length)
    {
        const unsigned char* body = p + 5;
        const std::size_t size = length - 1;
        std::lock_guard lock(m_mutex);
        m_tally.maxFrame = std::max<std::uint64_t>(m_tally.maxFrame, length);
        switch (p[4]) {
        case 3: { // HISTOGRAM: u32 op, u64 wall, u64 errors, u64 sum, u64 min, u64 max, u64 overflow, u32 n, n x (u16,
                  // u32)
            std::uint64_t total = le(body + 44, 8);
            const std::uint64_t n = le(body + 52, 4);
            for (std::uint64_t i = 0; i < n && 56 + (i + 1) * 6 <= size; ++i)
                total += le(body + 56 + i * 6 + 2, 4);
            m_tally.operations += total;
            m_tally.errors += le(body + 12, 8);
            m_tally.sumNs += le(body + 20, 8);
            if (total > 0)
                m_tally.maxNs = std::max(m_tally.maxNs, le(body + 36, 8));
            break;
        }
        case 4: // EVENT: u32 op, u64 start, u64 duration, u8 ok, u64 tid, u16 n, ...
            m_tally.events++;
            m_tally.eventMetaPairs += le(body + 29, 2);
            break;
        case 5:
            m_tally.memoryFrames++;
            m_tally.lastHeap = le(body + 16, 8);
            break;
        case 6: { // METRIC: u8 kind, str name, f64 value
            const std::size_t n = std::size_t(le(body + 1, 4));
            const std::string name(reinterpret_cast<const char*>(body + 5), n);
            const std::uint64_t bits = le(body + 5 + n, 8);
            double v;
            std::memcpy(&v, &bits, sizeof v);
            m_tally.metrics[name] = v;
            m_tally.metricFrames[name]++;
            break;
        }
        case 7:
            if (size >= 24)
                m_tally.dropsOperations = le(body + 16, 8);
            break;
        case 10: { // RINGS: u8 state, i32 fd, u64 token, u64 bytes, str reason
            m_tally.rings++;
            m_tally.ringsState = body[0];
            m_tally.ringsFd = int(std::int32_t(le(body + 1, 4)));
            m_tally.ringsToken = le(body + 5, 8);
            m_tally.ringsBytes = le(body + 13, 8);
            m_tally.ringsReason.assign(reinterpret_cast<const char*>(body + 25), std::size_t(le(body + 21, 4)));
            break;
        }
        default:
            break;
        }
        m_changed.notify_all();
    }

    void run()
    {
        for (;;) {
            const int c = ::accept(m_fd, nullptr, nullptr);
            if (c < 0 || m_stopping.load()) {
                if (c >= 0)
                    ::close(c);
                m_done = true;
                return;
            }
            {
                std::lock_guard lock(m_mutex);
                m_tally.connections++;
                m_tally.metricFrames.clear();
                m_tally.metrics.clear(); // what a new connection gets, it must be sent again
            }
            m_client = c;
            std::string buffer;
            ssize_t n;
            bool preface = true;
            std::uint64_t bytesRead = 0;
            while (waitToRead(c) && (n = ::read(c, m_chunk.data(), readSize())) > 0) {
                buffer.append(m_chunk.data(), std::size_t(n));
                bytesRead += std::uint64_t(n);
                std::size_t at = 0;
                if (preface && buffer.size() >= 4) {
                    at = 4;
                    preface = false;
                }
                bool synced = false, rejected = false;
                while (!preface && buffer.size() - at >= 5) {
                    const auto* p = reinterpret_cast<const unsigned char*>(buffer.data() + at);
                    const std::size_t length = std::size_t(le(p, 4));
                    if (buffer.size() - at - 4 < length)
                        break;
                    if (p[4] == 1 && takeReject(c)) { // HELLO, refused
                        rejected = true;
                        break;
                    }
                    if (p[4] == 1) { // HELLO: WELCOME, u16 version 1, u16 flags (answers SYNC)
                        reply(c, 0x81, std::string("\x01\x00\x01\x00", 4));
                        std::lock_guard lock(m_mutex);
                        m_profileDue = m_profileDue || m_profiling; // a new connection is asked again
                        m_connectionHello = c;
                    }
                    synced |= p[4] == 9; // SYNC
                    frame(p, length);
                    at += 4 + length;
                }
                if (rejected)
                    break;
                if (synced) // RECEIVED: u64 bytes read
                    reply(c, 0x83, std::string(reinterpret_cast<const char*>(&bytesRead), 8));
                buffer.erase(0, at);
                sendProfile(c, preface);
            }
            m_client = -1;
            {
                std::lock_guard lock(m_mutex);
                m_connectionHello = -1;
            }
            ::close(c);
            m_changed.notify_all();
        }
    }

    /// How much the next read may take; a throttled reader waits its pause first.
    std::size_t readSize()
    {
        std::size_t bytes = 0;
        int pause = 0;
        {
            std::lock_guard lock(m_mutex);
            bytes = m_throttleBytes;
            pause = m_throttleMs;
        }
        if (bytes == 0)
            return m_chunk.size();
        std::this_thread::sleep_for(std::chrono::milliseconds(pause));
        return std::min(bytes, m_chunk.size());
    }

    /// False when the connection is to be closed unread.
    bool waitToRead(int c)
    {
        for (;;) {
            {
                std::unique_lock lock(m_mutex);
                m_parked = m_paused;
                m_changed.notify_all();
                m_changed.wait(lock, [&] { return !m_paused || m_dropUnread || m_stopping.load(); });
                m_parked = false;
                if (m_dropUnread) {
                    m_dropUnread = false;
                    return false;
                }
            }
            // Readable (or closed) within 20 ms, else look at the flags again: a pause must not
            // wait behind a blocking read.
            sendProfile(c, false);
            pollfd p { c, POLLIN, 0 };
            if (::poll(&p, 1, 20) != 0 || m_stopping.load())
                return true;
        }
    }

    /// PROFILE (u8 start, u32 entries) when one is due and the connection said HELLO.
    void sendProfile(int c, bool beforeHello)
    {
        std::string body;
        {
            std::lock_guard lock(m_mutex);
            if (!m_profileDue || beforeHello || m_connectionHello != c)
                return;
            m_profileDue = false;
            body += char(m_profiling ? 1 : 0);
            body.append(reinterpret_cast<const char*>(&m_profileEntries), 4);
        }
        reply(c, 0x84, body);
    }

    bool takeReject(int c)
    {
        std::string reason;
        {
            std::lock_guard lock(m_mutex);
            if (m_reject.empty())
                return false;
            reason.swap(m_reject);
            m_tally.rejected++;
        }
        const auto length = std::uint32_t(reason.size());
        reply(c, 0x82, std::string(reinterpret_cast<const char*>(&length), 4) + reason); // REJECT: str reason
        return true;
    }

    void reply(int c, unsigned char type, const std::string& body)
    {
        const auto length = std::uint32_t(body.size() + 1);
        std::string frame(reinterpret_cast<const char*>(&length), 4);
        frame += char(type);
        frame += body;
        if (::send(c, frame.data(), frame.size(), MSG_NOSIGNAL) != ssize_t(frame.size()))
            return; // the client went away
        if (type == 0x83) {
            std::lock_guard lock(m_mutex);
            m_tally.syncsAnswered++;
            m_changed.notify_all();
        }
    }

    std::vector<char> m_chunk = std::vector<char>(1 << 16);
    std::string m_path;
    int m_fd = -1;
    std::size_t m_throttleBytes = 0; // under m_mutex
    int m_throttleMs = 0;
    bool m_paused = false; // under m_mutex, as the three below
    bool m_parked = false; // the reader saw the pause and reads no more
    bool m_dropUnread = false;
    bool m_profiling = false; // under m_mutex, as the three below
    bool m_profileDue = false;
    std::uint32_t m_profileEntries = 0;
    int m_connectionHello = -1; // the connection that said HELLO (the reader's)
    std::string m_reject;
    std::thread m_thread;
    std::atomic<int> m_client { -1 };
    std::atomic<bool> m_stopping { false };
    std::atomic<bool> m_done { false };
    std::mutex m_mutex;
    std::condition_variable m_changed;
    Tally m_tally;
};

/// A fresh socket path in a fresh directory, also set as PERFDASH_SOCKET.
inline std::string socketPath()
{
    char dir[] = "/tmp/perfdash-client-XXXXXX";
    if (!::mkdtemp(dir))
        std::exit(2);
    std::string path = std::string(dir) + "/s.sock";
    ::setenv("PERFDASH_SOCKET", path.c_str(), 1);
    return path;
}

/// The scope rings' segment that @p t names (its descriptor and size, from the RINGS frame), mapped
/// read-only through /proc/PID/fd/N as a dashboard maps it; null when it cannot be. Unmapped with
/// munmap(p, t.ringsBytes).
inline const char* mapRings(const Tally& t)
{
    const std::string path = "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(t.ringsFd);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return nullptr;
    void* p = ::mmap(nullptr, t.ringsBytes, PROT_READ, MAP_SHARED, fd, 0);
    ::close(fd);
    return p == MAP_FAILED ? nullptr : static_cast<const char*>(p);
}

} // namespace perfdashtest
