/* SPDX-License-Identifier: MIT */
/*
 * perfdash client library, C API.
 *
 * Records the duration and outcome of named operations into thread-local histograms and ships
 * them, once every 500 ms from a background thread, to a perfdash dashboard over a local socket.
 * The program runs the same whether or not a dashboard is there.
 *
 * Platforms: Linux on x86-64 and aarch64, with glibc or musl (C++17 and POSIX, nothing else).
 * Timestamps come from the CPU's counter (x86: invariant TSC; aarch64: CNTVCT_EL0), calibrated
 * against CLOCK_MONOTONIC after 50 ms, 1 s, 10 s and then every minute; from CLOCK_MONOTONIC
 * before that, on other CPUs, when the CPU's counter is not invariant, when the kernel fell back
 * to a slow clocksource (hpet, acpi_pm...: it does not trust the TSC), or with PERFDASH_NO_TSC=1.
 *
 * Guarantees:
 *   - Recording (scopes, records, counters, gauges) takes no lock and makes no system call. It
 *     allocates only the first time a thread uses an operation (a slot, and a page of 64 slots),
 *     the first time a duration falls in a range of 64 histogram buckets, and at the thread's first
 *     raw event (a ring of 1024); a name's first use anywhere copies it under a lock.
 *   - A thread's first recording must not come from a signal handler (it allocates its state);
 *     later ones may (counter and gauge always may, once their name is known).
 *   - fork() is safe at any time, from any thread, while others record and flush: the child is a
 *     new client with zero counts, its own connection and hello; the parent loses nothing.
 *   - Heap size is not read unless PERFDASH_HEAP=1 (then mallinfo2(), glibc >= 2.33, once every
 *     10 s: it walks the heap). An idle program costs one wake-up every 500 ms that reads
 *     /proc/self/statm and skips every histogram nothing was recorded into.
 *   - A scope whose end reads before its start (a counter that differs between cores) counts 0 ns.
 *
 * Every operation recorded is either counted by the dashboard or counted as dropped, in the
 * dashboard's drops and in perfdash::stats() (C++): given up while no dashboard was there for over
 * a minute (120 intervals or 8 MiB), queued past 8 MiB to a dashboard that does not read, kept for
 * a dashboard that refused this process (a wrong version, or a dashboard holding its limit of live
 * processes: also what it was sent before it refused), still waiting when the program exited (the
 * exit handler sends for up to PERFDASH_EXIT_TIMEOUT_MS while a dashboard reads, then counts the
 * rest and says so in a last DROPS; with no dashboard at exit, what was kept for one, only in
 * stats()), half-written when the connection broke, written to a dashboard that went away before
 * it said it read them (it answers a SYNC after each write; see docs/PROTOCOL.md); recorded on a
 * name past the table's 4096; recorded by a signal handler that interrupted a recording on the
 * same thread; without memory (for the thread's state, an operation's slot or a bucket page:
 * PERFDASH_ENOMEM); or after the library's exit handler (only in stats()). Raw events (the sampled
 * and slow ones, with their metadata) beyond a thread's 1024 per interval are dropped and counted;
 * their operations are still in the histograms. Metadata pairs that would make an event's frame
 * exceed the wire's 1 MiB limit are left out and counted; names and values are cut at 64 KiB.
 *
 * Environment:
 *   PERFDASH_SOCKET        where the dashboard listens (default: $XDG_RUNTIME_DIR/perfdash/perfdash.sock,
 *                          else /tmp/perfdash-<uid>/perfdash.sock)
 *   PERFDASH_DISABLE=1     every call is a no-op (returns PERFDASH_DISABLED)
 *   PERFDASH_SAMPLE_RATE   share of operations also sent as raw events, 0..1 (default 0.001)
 *   PERFDASH_SLOW_MS       operations at or over this are always sent as raw events (default 100)
 *   PERFDASH_NAME          the process name shown in the dashboard (default: the program's name)
 *   PERFDASH_HEAP=1        report the heap in use (glibc >= 2.33; off by default, see above)
 *   PERFDASH_NO_TSC=1      time with CLOCK_MONOTONIC only
 *   PERFDASH_EXIT_TIMEOUT_MS  how long the exit handler sends what waits to a dashboard that reads
 *                          slowly (default 2000, at most 60000; 0: no wait), plus at most 500 ms for
 *                          the last DROPS and GOODBYE; the rest is counted as dropped
 * perfdash_set_sampling_rate() and perfdash_set_slow_threshold_ns() win over the environment,
 * also when called before the library's first use.
 *
 * Every function returns PERFDASH_OK (0), PERFDASH_DISABLED (1), or a negative error code.
 */
#ifndef PERFDASH_H
#define PERFDASH_H

#include <stdint.h>

#if defined(__GNUC__)
#define PERFDASH_API __attribute__((visibility("default")))
#else
#define PERFDASH_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define PERFDASH_OK 0
#define PERFDASH_DISABLED 1 /* PERFDASH_DISABLE=1 is set: nothing was recorded (not an error) */
#define PERFDASH_EINVAL                                                                                                \
    (-1) /* a null pointer, an empty name, a value out of range, an id that perfdash_operation()                       \
            never returned, or a scope ended twice */
#define PERFDASH_ETOOMANY                                                                                              \
    (-2) /* the table of names is full (4096 operations, 4096 counters and gauges); the                                \
            operation or update is counted as dropped */
#define PERFDASH_ENOMEM (-3) /* memory for a new thread, operation or name could not be had; counted as dropped */
#define PERFDASH_ETIMEDOUT (-4) /* perfdash_flush(): the data was not all sent in time */
#define PERFDASH_ENOTCONNECTED (-5) /* perfdash_flush(): no dashboard is connected (returned at once) */

/** The id of an operation name, from perfdash_operation(). */
typedef uint32_t perfdash_op;

/** A running operation: fill with perfdash_scope_begin(), close with perfdash_scope_end(). */
typedef struct perfdash_scope
{
    perfdash_op op;
    uint64_t start;
    int clock; /* which clock start came from, -1 once ended; private */
    int failed;
} perfdash_scope;

/** Looks up (or registers) @p name. Lock-free once the name is known. When the table is full it
 *  returns PERFDASH_ETOOMANY and still sets an id, recording into which counts drops. */
PERFDASH_API int perfdash_operation(const char* name, perfdash_op* id);
/** Starts timing @p op. */
PERFDASH_API int perfdash_scope_begin(perfdash_scope* scope, perfdash_op op);
/** Marks the operation failed; it is still timed and counted. */
PERFDASH_API int perfdash_scope_fail(perfdash_scope* scope);
/** Stops timing and records the operation; a second call returns PERFDASH_EINVAL and counts nothing. */
PERFDASH_API int perfdash_scope_end(perfdash_scope* scope);
/** Records an operation measured elsewhere: @p ns nanoseconds, @p ok non-zero for success. */
PERFDASH_API int perfdash_record(perfdash_op op, uint64_t ns, int ok);
/** Same, by name (a lock-free lookup once the name is known). */
PERFDASH_API int perfdash_record_name(const char* name, uint64_t ns, int ok);
/** Adds @p delta to the counter @p name. */
PERFDASH_API int perfdash_counter_add(const char* name, double delta);
/** Sets the gauge @p name to @p value. */
PERFDASH_API int perfdash_gauge_set(const char* name, double value);
/** Share of operations sent as raw events, 0..1. */
PERFDASH_API int perfdash_set_sampling_rate(double rate);
/** Operations at or over @p ns are always sent as raw events; 0 turns that off. */
PERFDASH_API int perfdash_set_slow_threshold_ns(uint64_t ns);
/** Ships what was recorded now and waits up to @p timeout_ms until it is written to the socket. */
PERFDASH_API int perfdash_flush(int timeout_ms);
/** A sentence for an error code. */
PERFDASH_API const char* perfdash_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif /* PERFDASH_H */
