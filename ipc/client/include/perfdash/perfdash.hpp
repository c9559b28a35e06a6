// SPDX-License-Identifier: MIT
// perfdash client library, C++ API. See perfdash.h for what it does and the environment it reads.
#pragma once

#include "perfdash.h"

#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace perfdash {

using OpId = std::uint32_t;
/// The id of no operation: recording into it does nothing (what every lookup returns when disabled).
inline constexpr OpId InvalidOp = 0xffffffffu;

/// Looks up (or registers) an operation name. Takes a lock: call once per call site and keep the id
/// (PERFDASH_SCOPE does). Returns InvalidOp when disabled or when the name table is full.
PERFDASH_API OpId operation(const char* name) noexcept;

/// Records an operation measured elsewhere.
PERFDASH_API void record(OpId op, std::uint64_t ns, bool ok = true) noexcept;
PERFDASH_API void record(const char* name, std::uint64_t ns, bool ok = true) noexcept;
/// The same with key/value metadata, which travels only if the operation is sent as a raw event
/// (slow or sampled). Unlike the others it allocates: for operations worth describing.
PERFDASH_API void record(OpId op, std::uint64_t ns, bool ok, std::vector<std::pair<std::string, std::string>> meta) noexcept;
/// Adds @p delta to a counter, or sets a gauge; shipped with the next interval.
PERFDASH_API void counter(const char* name, double delta = 1.0) noexcept;
PERFDASH_API void gauge(const char* name, double value) noexcept;

PERFDASH_API void setSamplingRate(double rate) noexcept;
PERFDASH_API void setSlowThresholdNs(std::uint64_t ns) noexcept;
/// Ships what was recorded now and waits up to @p timeoutMs until it is on the socket.
PERFDASH_API int flush(int timeoutMs = 1000) noexcept;

/// What the library has done so far, for diagnostics and tests.
struct ClientStats {
    bool enabled = false;
    bool connected = false;
    std::uint64_t connects = 0;
    std::uint64_t droppedEvents = 0; ///< raw events that did not fit in their thread's ring
    std::uint64_t droppedBytes = 0; ///< data given up while no dashboard was there, or it did not read
    std::uint64_t framesSent = 0;
    std::uint64_t droppedOperations = 0; ///< recorded operations in droppedBytes: the dashboard never counts them
};
PERFDASH_API ClientStats stats() noexcept;

namespace detail {
    PERFDASH_API std::uint64_t now(int& clock) noexcept;
    PERFDASH_API void finish(OpId op, std::uint64_t start, int clock, bool ok,
        std::unique_ptr<std::vector<std::pair<std::string, std::string>>> meta) noexcept;
} // namespace detail

/**
 * Times the enclosing block as one operation. It fails when fail() was called or when an exception
 * unwinds through it. meta() attaches key/value pairs, which travel only if the operation is sent
 * as a raw event (slow or sampled).
 */
class Scope
{
public:
    explicit Scope(OpId op) noexcept
        : m_op(op)
    {
        if (m_op != InvalidOp)
            m_start = detail::now(m_clock);
    }
    explicit Scope(const char* name) noexcept
        : Scope(operation(name))
    {
    }
    ~Scope()
    {
        if (m_op != InvalidOp)
            detail::finish(m_op, m_start, m_clock, !m_failed && std::uncaught_exceptions() <= m_exceptions,
                std::move(m_meta));
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

    void fail() noexcept { m_failed = true; }
    Scope& meta(std::string key, std::string value)
    {
        if (m_op == InvalidOp)
            return *this;
        if (!m_meta)
            m_meta = std::make_unique<std::vector<std::pair<std::string, std::string>>>();
        m_meta->emplace_back(std::move(key), std::move(value));
        return *this;
    }

private:
    OpId m_op;
    std::uint64_t m_start = 0;
    int m_clock = 0;
    int m_exceptions = std::uncaught_exceptions();
    bool m_failed = false;
    std::unique_ptr<std::vector<std::pair<std::string, std::string>>> m_meta;
};

/// Runs @p f as operation @p name and returns its result; an exception marks it failed and propagates.
template <typename F>
decltype(auto) track(const char* name, F&& f)
{
    Scope scope(name);
    return std::forward<F>(f)();
}

} // namespace perfdash

#define PERFDASH_CAT_INNER(a, b) a##b
#define PERFDASH_CAT(a, b) PERFDASH_CAT_INNER(a, b)
/// Times the rest of the block as @p name (a string literal); the name is looked up once per call site.
#define PERFDASH_SCOPE(name) PERFDASH_SCOPE_VAR(PERFDASH_CAT(perfdashScope_, __LINE__), name)
/// Same, naming the Scope variable so that the block can call fail() or meta() on it.
#define PERFDASH_SCOPE_VAR(var, name)                                                                                  \
    static const ::perfdash::OpId PERFDASH_CAT(var, _op) = ::perfdash::operation(name);                                \
    ::perfdash::Scope var(PERFDASH_CAT(var, _op))
