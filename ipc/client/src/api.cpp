// SPDX-License-Identifier: MIT
// The public C++ API over the parts: names, thread states, metrics, the flusher.
#include "api.h"
#include "clock.h"
#include "flusher.h"
#include "metrics.h"
#include "nametable.h"
#include "perfdash/perfdash.hpp"
#include "settings.h"
#include "threadstate.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

namespace perfdash {

NameTable g_ops;

namespace internal {
bool disabled() noexcept
{
    return global().disabled;
}

bool registered(OpId op) noexcept
{
    return op < g_ops.size();
}

Meta* unpack(const char* buffer, std::uint32_t bytes)
{
    if (!buffer || bytes == 0)
        return nullptr;
    try {
        auto* meta = new Meta;
        for (std::uint32_t at = 0; at + 4 <= bytes;) {
            std::uint16_t k, v;
            std::memcpy(&k, buffer + at, 2);
            std::memcpy(&v, buffer + at + 2, 2);
            at += 4;
            meta->emplace_back(std::string(buffer + at, k), std::string(buffer + at + k, v));
            at += std::uint32_t(k) + v;
        }
        return meta;
    } catch (...) {
        return nullptr;
    }
}

int record(OpId op, std::uint64_t ns, bool ok, int clock, std::uint64_t end, Meta* meta) noexcept
{
    if (op == FullOp) { // its name did not fit in the table: counted, so that nothing vanishes
        if (!global().disabled)
            global().unnamed.fetch_add(1, std::memory_order_relaxed);
        delete meta;
        return PERFDASH_ETOOMANY;
    }
    if (op == InvalidOp || !registered(op)) {
        delete meta;
        return global().disabled ? PERFDASH_DISABLED : PERFDASH_EINVAL;
    }
    ThreadState* ts = threadState();
    if (!ts) {
        global().stateless.fetch_add(1, std::memory_order_relaxed);
        delete meta;
        return PERFDASH_ENOMEM;
    }
    return recordOn(ts, op, ns, ok, clock, end, meta) ? PERFDASH_OK : PERFDASH_ENOMEM;
}

int finish(OpId op, std::uint64_t start, int which, bool ok, Meta* meta) noexcept
{
    const std::uint64_t end = clock::read(which);
    return record(op, clock::elapsedNs(start, end, which), ok, which, end, meta);
}

OpId lookup(const char* name, int* error) noexcept
{
    *error = PERFDASH_OK;
    if (!name || !*name) {
        *error = PERFDASH_EINVAL;
        return InvalidOp;
    }
    if (global().disabled) {
        *error = PERFDASH_DISABLED;
        return InvalidOp;
    }
    const std::uint32_t id = g_ops.intern(name);
    if (id == NameTable::Full) {
        *error = PERFDASH_ETOOMANY;
        return FullOp;
    }
    if (id == NameTable::NoMemory) {
        *error = PERFDASH_ENOMEM;
        return InvalidOp;
    }
    return id;
}
} // namespace internal

OpId operation(const char* name) noexcept
{
    int error;
    return internal::lookup(name, &error);
}

namespace detail {
std::uint64_t now(int& which) noexcept
{
    return clock::now(which);
}

void finish(OpId op, std::uint64_t start, int which, bool ok) noexcept
{
    internal::finish(op, start, which, ok, nullptr);
}

void finishWithMeta(OpId op, std::uint64_t start, int which, bool ok, const char* meta, std::uint32_t bytes,
    std::uint32_t lost) noexcept
{
    if (lost)
        global().truncatedMeta.fetch_add(lost, std::memory_order_relaxed);
    const std::uint64_t end = clock::read(which);
    const std::uint64_t ns = clock::elapsedNs(start, end, which);
    ThreadState* ts = t_state;
    if (!ts || !internal::registered(op)) {
        internal::record(op, ns, ok, which, end, internal::unpack(meta, bytes));
        return;
    }
    // The pairs become an allocation only when the event is kept (slow or sampled): draw first.
    if (!wantsRawEvent(ts, ns)) {
        recordOnSlow(ts, op, ns, recordFlags(ok, which) | RecordDrawn, end, nullptr);
        return;
    }
    recordOnSlow(ts, op, ns, recordFlags(ok, which) | RecordRaw, end, internal::unpack(meta, bytes));
}
} // namespace detail

void record(OpId op, std::uint64_t ns, bool ok) noexcept
{
    internal::record(op, ns, ok, clock::Monotonic, 0, nullptr);
}

void record(OpId op, std::uint64_t ns, bool ok, std::vector<std::pair<std::string, std::string>> meta) noexcept
{
    Meta* m = nullptr;
    if (!meta.empty())
        m = new (std::nothrow) Meta(std::move(meta));
    internal::record(op, ns, ok, clock::Monotonic, 0, m);
}

void record(const char* name, std::uint64_t ns, bool ok) noexcept
{
    record(operation(name), ns, ok);
}

void counter(const char* name, double delta) noexcept
{
    if (name && *name && !global().disabled)
        metrics::update(name, metrics::Counter, delta);
}

void gauge(const char* name, double value) noexcept
{
    if (name && *name && !global().disabled)
        metrics::update(name, metrics::Gauge, value);
}

void setSamplingRate(double rate) noexcept
{
    settings::setSamplingRate(rate);
}

void setSlowThresholdNs(std::uint64_t ns) noexcept
{
    settings::setSlowThresholdNs(ns);
}

int flush(int timeoutMs) noexcept
{
    Global& g = global();
    if (g.disabled)
        return PERFDASH_DISABLED;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(0, timeoutMs));
    // A fork() waiting for the locks goes first: flush(0) in a loop would otherwise take the mutex
    // back every time before the forking thread wakes up (mutexes are not fair), for seconds.
    while (g.forking.load(std::memory_order_relaxed))
        std::this_thread::yield();
    std::unique_lock lock(g.mutex);
    for (;;) {
        const std::uint64_t ticket = ++g.flushRequests;
        g.wake.notify_all();
        const bool cycled = g.flushed.wait_until(lock, deadline, [&] { return g.flushesDone >= ticket || g.stopping; });
        const bool up = g.linkUp.load(std::memory_order_relaxed);
        if (cycled && up && g.drained.load(std::memory_order_relaxed))
            return PERFDASH_OK;
        // The cycle tried to connect: no dashboard now means none for this flush (it keeps the
        // data for the next one, up to a minute), so say so at once rather than wait.
        if (!up && (cycled || g.stopping))
            return PERFDASH_ENOTCONNECTED;
        if (!cycled || g.stopping || std::chrono::steady_clock::now() >= deadline)
            return up ? PERFDASH_ETIMEDOUT : PERFDASH_ENOTCONNECTED;
        // The socket is full: try again shortly.
        g.flushed.wait_until(
            lock, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::milliseconds(10)));
    }
}

ClientStats stats() noexcept
{
    Global& g = global();
    ClientStats s;
    s.enabled = !g.disabled;
    s.connected = g.connected.load(std::memory_order_relaxed);
    s.connects = g.connects.load(std::memory_order_relaxed);
    s.droppedBytes = g.droppedBytesStat.load(std::memory_order_relaxed);
    s.framesSent = g.framesSent.load(std::memory_order_relaxed);
    Threads& all = threads();
    std::uint64_t events = all.deadDroppedEvents.load(std::memory_order_relaxed);
    std::uint64_t operations = all.deadDroppedOperations.load(std::memory_order_relaxed);
    std::uint64_t reentered = all.deadReentered.load(std::memory_order_relaxed);
    {
        std::lock_guard lock(all.mutex);
        for (ThreadState* ts : all.list) {
            events += ts->droppedEvents.load(std::memory_order_relaxed);
            operations += ts->droppedOperations.load(std::memory_order_relaxed);
            reentered += ts->reentered.load(std::memory_order_relaxed);
        }
        s.threadStates = all.list.size();
    }
    s.droppedEvents = events;
    s.droppedSignal = reentered;
    const std::uint64_t stateless = g.stateless.load(std::memory_order_relaxed);
    s.droppedNoMemory = operations - reentered + stateless;
    s.droppedUnnamed = g.unnamed.load(std::memory_order_relaxed);
    s.droppedAfterExit = all.afterExit.load(std::memory_order_relaxed);
    s.droppedRejected = g.rejectedOperations.load(std::memory_order_relaxed);
    s.droppedMetrics = metrics::g_table.dropped.load(std::memory_order_relaxed);
    s.truncatedMeta = g.truncatedMeta.load(std::memory_order_relaxed);
    s.clockBackwards = clock::g_state.backwards.load(std::memory_order_relaxed);
    s.threadBytes = all.bytes.load(std::memory_order_relaxed);
    s.counterClock = clock::g_state.ready.load(std::memory_order_relaxed) != 0;
    s.droppedUnread = g.unreadOperations.load(std::memory_order_relaxed);
    s.droppedAtExit = g.exitOperations.load(std::memory_order_relaxed);
    s.droppedOperations = g.droppedOperationsStat.load(std::memory_order_relaxed) + operations + stateless
        + s.droppedUnnamed + s.droppedAfterExit;
    return s;
}

} // namespace perfdash
