// SPDX-License-Identifier: MIT
// perfdash client library, C++ API. See perfdash.h for what it does, the environment it reads and
// the guarantees it makes; this header adds what is C++ only.
#pragma once

#include "perfdash.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

/* PERFDASH_ENABLE=0 (like Tracy's TRACY_ENABLE) compiles every PERFDASH_* macro to nothing: no
 * call, no symbol, no static. Functions called directly still work. Default: 1. */
#ifndef PERFDASH_ENABLE
#define PERFDASH_ENABLE 1
#endif

namespace perfdash {

using OpId = std::uint32_t;
/// The id of no operation: recording into it does nothing (what every lookup returns when disabled).
inline constexpr OpId InvalidOp = 0xffffffffu;
/// What operation() returns once the table holds 4096 names: recording into it is not counted in
/// any histogram but counted as dropped (ClientStats::droppedUnnamed, and in the dashboard's drops).
inline constexpr OpId FullOp = 0xfffffffeu;

/// Looks up (or registers) an operation name. Lock-free and allocation-free for a known name;
/// the first use of a name takes a lock and copies it. Returns InvalidOp when disabled, FullOp when
/// the name table is full.
PERFDASH_API OpId operation(const char* name) noexcept;

/// Records an operation measured elsewhere. An id that operation() never returned is ignored
/// (it would credit another name); the C API says PERFDASH_EINVAL.
PERFDASH_API void record(OpId op, std::uint64_t ns, bool ok = true) noexcept;
PERFDASH_API void record(const char* name, std::uint64_t ns, bool ok = true) noexcept;
/// The same with key/value metadata, which travels only if the operation is sent as a raw event
/// (slow or sampled). Unlike the others it allocates: for operations worth describing.
PERFDASH_API void record(
    OpId op, std::uint64_t ns, bool ok, std::vector<std::pair<std::string, std::string>> meta) noexcept;
/// Adds @p delta to a counter, or sets a gauge; shipped with the next interval, and every value again
/// to a new connection. Lock-free and allocation-free after a name's first use (then also safe in
/// a signal handler). At most 4096 names; an update past that, or on a counter's name used as a
/// gauge (or back), is dropped and counted (ClientStats::droppedMetrics).
PERFDASH_API void counter(const char* name, double delta = 1.0) noexcept;
PERFDASH_API void gauge(const char* name, double value) noexcept;

/// Settings made before the library's lazy start hold (they win over PERFDASH_SAMPLE_RATE and
/// PERFDASH_SLOW_MS); made later, they apply from the next operation on.
PERFDASH_API void setSamplingRate(double rate) noexcept;
PERFDASH_API void setSlowThresholdNs(std::uint64_t ns) noexcept;
/// Ships what was recorded now and waits up to @p timeoutMs until it is on the socket. Returns
/// PERFDASH_OK, PERFDASH_ENOTCONNECTED at once when no dashboard is there (the data is kept for
/// later), PERFDASH_ETIMEDOUT, or PERFDASH_DISABLED.
PERFDASH_API int flush(int timeoutMs = 1000) noexcept;

/**
 * What the library has done so far, for diagnostics and tests. Every operation the program
 * recorded is either counted by the dashboard or in droppedOperations, which is the sum of the
 * droppedX fields marked (ops) plus the operations in droppedBytes.
 */
struct ClientStats
{
    bool enabled = false;
    bool connected = false;
    std::uint64_t connects = 0;
    std::uint64_t droppedEvents
        = 0; ///< raw events that did not fit in their thread's ring (still counted in histograms)
    std::uint64_t droppedBytes = 0; ///< data given up while no dashboard was there, or it did not read
    std::uint64_t framesSent = 0;
    std::uint64_t droppedOperations = 0; ///< every recorded operation the dashboard will never count
    std::uint64_t droppedSignal = 0; ///< (ops) recorded by a signal handler that interrupted a recording on its thread
    std::uint64_t droppedNoMemory = 0; ///< (ops) no memory for the thread's state, slot or bucket page
    std::uint64_t droppedUnnamed = 0; ///< (ops) recorded on FullOp: the name table was full
    std::uint64_t droppedAfterExit = 0; ///< (ops) recorded after the exit handler sent the last interval
    std::uint64_t droppedRejected = 0; ///< of the operations in droppedBytes: kept for a dashboard that refused us
    std::uint64_t droppedMetrics = 0; ///< counter/gauge updates dropped (table full, or kind mismatch)
    std::uint64_t truncatedMeta
        = 0; ///< metadata pairs left out (an event over the 1 MiB frame limit, or Scope's 256 bytes)
    std::uint64_t clockBackwards = 0; ///< scopes whose end read before their start, recorded as 0 ns
    std::uint64_t threadStates
        = 0; ///< per-thread states the flusher reads (live threads, and dead ones not yet harvested)
    std::uint64_t threadBytes = 0; ///< memory those states hold
    bool counterClock = false; ///< timestamps come from the CPU's counter (TSC, CNTVCT), not clock_gettime()
    /// of the operations in droppedBytes: written to a dashboard that went away before it said it read them
    std::uint64_t droppedUnread = 0;
    /// of the operations in droppedBytes: given up by the exit handler, which sends what waits for
    /// PERFDASH_EXIT_TIMEOUT_MS (default 2000) while a dashboard reads, and tells it in a last DROPS;
    /// with no dashboard at exit, what was kept for one
    std::uint64_t droppedAtExit = 0;
};
PERFDASH_API ClientStats stats() noexcept;

namespace detail {
PERFDASH_API std::uint64_t now(int& clock) noexcept;
PERFDASH_API void finish(OpId op, std::uint64_t start, int clock, bool ok) noexcept;
PERFDASH_API void finishWithMeta(OpId op, std::uint64_t start, int clock, bool ok, const char* meta,
    std::uint32_t bytes, std::uint32_t lost) noexcept;
/// Scope's: the clock reading and this thread's count of uncaught exceptions, read cheaply
/// (std::uncaught_exceptions() costs more than the rest of a scope); end() compares them.
PERFDASH_API std::uint64_t begin(int& clock, unsigned& exceptions) noexcept;
/// begin() that names the operation, for the dashboard's profiler (an Enter record while the
/// process is profiled). Programs built against older headers call begin(): their scopes are
/// named at their end.
PERFDASH_API std::uint64_t beginOp(OpId op, int& clock, unsigned& exceptions) noexcept;
PERFDASH_API void end(OpId op, std::uint64_t start, int clock, unsigned exceptions, bool failed) noexcept;
PERFDASH_API void endWithMeta(OpId op, std::uint64_t start, int clock, unsigned exceptions, bool failed,
    const char* meta, std::uint32_t bytes, std::uint32_t lost) noexcept;
} // namespace detail

/**
 * Times the enclosing block as one operation. It fails when fail() was called or when an exception
 * unwinds through it. meta() attaches key/value pairs, which travel only if the operation is sent
 * as a raw event (slow or sampled): they are copied into the Scope itself (256 bytes; what does not
 * fit is left out and counted in ClientStats::truncatedMeta), and become an allocation only for an
 * event that is kept.
 */
class Scope
{
public:
    explicit Scope(OpId op) noexcept
        : m_op(op)
    {
        if (m_op != InvalidOp)
            m_start = detail::beginOp(m_op, m_clock, m_exceptions);
    }
    explicit Scope(const char* name) noexcept
        : Scope(operation(name))
    {
    }
    ~Scope()
    {
        if (m_op == InvalidOp)
            return;
        if (m_metaBytes || m_metaLost)
            detail::endWithMeta(m_op, m_start, m_clock, m_exceptions, m_failed, m_meta, m_metaBytes, m_metaLost);
        else
            detail::end(m_op, m_start, m_clock, m_exceptions, m_failed);
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

    void fail() noexcept { m_failed = true; }
    Scope& meta(std::string_view key, std::string_view value) noexcept
    {
        if (m_op == InvalidOp)
            return *this;
        const std::size_t need = 4 + key.size() + value.size();
        if (need > sizeof m_meta - m_metaBytes) {
            ++m_metaLost;
            return *this;
        }
        const auto k = std::uint16_t(key.size()), v = std::uint16_t(value.size());
        char* at = m_meta + m_metaBytes;
        std::memcpy(at, &k, 2);
        std::memcpy(at + 2, &v, 2);
        std::memcpy(at + 4, key.data(), key.size());
        std::memcpy(at + 4 + key.size(), value.data(), value.size());
        m_metaBytes += std::uint32_t(need);
        return *this;
    }

private:
    OpId m_op;
    std::uint64_t m_start = 0;
    int m_clock = 0;
    unsigned m_exceptions = 0;
    bool m_failed = false;
    std::uint32_t m_metaBytes = 0;
    std::uint32_t m_metaLost = 0;
    char m_meta[256]; // written only by meta(): an empty scope does not touch it
};

/// Runs @p f as operation @p name and returns its result; an exception marks it failed and
/// propagates. The name's lookup is lock-free and allocation-free after its first use.
template <typename F> decltype(auto) track(const char* name, F&& f)
{
    Scope scope(name);
    return std::forward<F>(f)();
}

/// What PERFDASH_SCOPE_VAR declares when PERFDASH_ENABLE is 0: the same calls, doing nothing.
struct NoScope
{
    void fail() noexcept { }
    NoScope& meta(std::string_view, std::string_view) noexcept { return *this; }
};

} // namespace perfdash

#define PERFDASH_CAT_INNER(a, b) a##b
#define PERFDASH_CAT(a, b) PERFDASH_CAT_INNER(a, b)
#if PERFDASH_ENABLE
/// Times the rest of the block as @p name (a string literal); the name is looked up once per call site.
#define PERFDASH_SCOPE(name) PERFDASH_SCOPE_VAR(PERFDASH_CAT(perfdashScope_, __LINE__), name)
/// Same, naming the Scope variable so that the block can call fail() or meta() on it.
#define PERFDASH_SCOPE_VAR(var, name)                                                                                  \
    static const ::perfdash::OpId PERFDASH_CAT(var, _op) = ::perfdash::operation(name);                                \
    ::perfdash::Scope var(PERFDASH_CAT(var, _op))
/// Adds @p delta to the counter @p name / sets the gauge @p name.
#define PERFDASH_COUNTER(name, delta) ::perfdash::counter(name, delta)
#define PERFDASH_GAUGE(name, value) ::perfdash::gauge(name, value)
#else
#define PERFDASH_SCOPE(name) static_cast<void>(0)
#define PERFDASH_SCOPE_VAR(var, name) [[maybe_unused]] ::perfdash::NoScope var
#define PERFDASH_COUNTER(name, delta) static_cast<void>(0)
#define PERFDASH_GAUGE(name, value) static_cast<void>(0)
#endif
