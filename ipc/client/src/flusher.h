// SPDX-License-Identifier: MIT
// The process-wide client: the flusher thread, its connection to the dashboard, and what it keeps
// while there is none. Lock order, everywhere: Global::cycleMutex, Global::mutex, then a
// NameTable's mutex or Threads::mutex (never two of those at once); the atfork handlers take
// them in that order too. The connection's state belongs to the thread holding cycleMutex.
#pragma once

#include "clock.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace perfdash {

inline constexpr std::size_t MaxHistoryBytes = 8u << 20; // while no dashboard is there
inline constexpr int MaxHistoryIntervals = 120; // one minute of 500 ms intervals
inline constexpr std::size_t MaxPendingBytes = 8u << 20; // written to a dashboard that does not read
inline constexpr std::size_t MaxUnconfirmedBytes = 8u << 20; // past this, the oldest is taken as read

struct Global
{
    bool disabled = false;
    bool heap = false; // PERFDASH_HEAP=1 and the C library can say
    std::string socketPath;
    std::string processName;
    std::vector<std::string> commandLine;

    // Held by the flusher for a whole cycle: the connection's state below is its alone.
    std::mutex cycleMutex;
    std::atomic<bool> forking { false }; // a fork() waits for cycleMutex: do not start another cycle
    std::atomic<bool> linkUp { false }; // after the last cycle: connected,
    std::atomic<bool> drained { false }; // and everything written, and the dashboard took us (WELCOME)
    // The flusher thread and flush() requests, under mutex.
    std::mutex mutex;
    std::condition_variable wake;
    std::condition_variable flushed;
    std::thread flusher;
    bool stopping = false;
    std::uint64_t flushRequests = 0;
    std::uint64_t flushesDone = 0;
    int fd = -1;
    bool welcomed = false;
    bool rejected = false; // the last dashboard said REJECT: it is asked again 30 s later, not before
    bool resendMetrics = false; // a new connection gets every counter and gauge
    std::uint32_t definedOps = 0; // DefineOp frames sent on this connection
    std::deque<std::string> pending; // frames not yet written; the first may be partly written
    std::size_t pendingOffset = 0;
    std::size_t pendingBytes = 0;
    // Writes on this connection that carried operations and that the dashboard has not yet said it
    // read (RECEIVED, its answer to our SYNC): what of them it never read is lost with it if it goes
    // away, so counted then, frame by frame.
    struct Unconfirmed
    {
        std::uint64_t start; // offset in the connection's stream, preface included
        std::string frames;
    };
    std::deque<Unconfirmed> unconfirmed;
    std::size_t unconfirmedBytes = 0;
    std::uint64_t written = 0; // bytes written on this connection
    std::uint64_t writtenOperations = 0; // operations in the frames written whole on this connection
    std::uint64_t confirmed = 0; // bytes of it the dashboard said it read
    std::uint64_t syncedTo = 0; // the stream offset the last SYNC asked about
    bool confirms = false; // the dashboard said in WELCOME that it answers SYNC
    std::deque<std::string> history; // intervals recorded while no dashboard was there
    std::size_t historyBytes = 0;
    std::string inbox;
    int connectFailures = 0;
    std::uint64_t nextConnectMs = 0;
    std::uint64_t originMono = 0;
    std::uint64_t originWall = 0;
    std::uint64_t nextHeapMs = 0;
    std::uint64_t lastHeap = ~std::uint64_t(0);
    std::uint64_t droppedBytes = 0;
    std::uint64_t droppedOperations = 0; // recorded operations in droppedBytes
    int exitTimeoutMs = 2000; // PERFDASH_EXIT_TIMEOUT_MS: how long the exit handler sends what waits
    std::uint64_t lastDropsSent = ~std::uint64_t(0);
    clock::Calibrator calibrator;

    std::atomic<bool> connected { false };
    std::atomic<std::uint64_t> connects { 0 };
    std::atomic<std::uint64_t> framesSent { 0 };
    std::atomic<std::uint64_t> droppedBytesStat { 0 };
    std::atomic<std::uint64_t> droppedOperationsStat { 0 };
    std::atomic<std::uint64_t> rejectedOperations { 0 }; // of those: given up because the dashboard refused us
    std::atomic<std::uint64_t> unreadOperations { 0 }; // of those: written, then the dashboard went away unread
    std::atomic<std::uint64_t> exitOperations { 0 }; // of those: given up by the exit handler (farewell())
    std::atomic<std::uint64_t> truncatedMeta { 0 }; // metadata pairs left out so that an event fits a frame
    std::atomic<std::uint64_t> unnamed { 0 }; // operations recorded on a name past the table's 4096
    std::atomic<std::uint64_t> stateless { 0 }; // operations of a thread whose state could not be allocated
};

/// The client, started on first use (reads the environment, starts the flusher). Never destroyed:
/// threads may record until the very end.
Global& global() noexcept;
/// The client if it was started, else null (for paths that must not start it).
Global* startedGlobal() noexcept;

void flusherMain(Global& g);
/// The exit handler's cycle: what was recorded, then what waits, for at most g.exitTimeoutMs while
/// the dashboard reads; what is still not sent then is given up, counted, and said in a last DROPS
/// (when the dashboard reads it). With no dashboard, what was kept for one is counted as given up.
void farewell(Global& g);
/// One interval: harvest, connect if due, write, read replies. Under g.mutex.
void cycle(Global& g, bool periodic);
/// Forgets the stream of one connection (what was written and confirmed on it, its replies, its
/// WELCOME): the next connection starts afresh. Under g.mutex.
void forgetStream(Global& g) noexcept;
/// The operations counted by the HISTOGRAM frames of @p frames that end after byte @p from.
std::uint64_t operationsIn(const std::string& frames, std::size_t from = 0);

} // namespace perfdash
