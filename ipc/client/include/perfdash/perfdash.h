/* SPDX-License-Identifier: MIT */
/*
 * perfdash client library, C API.
 *
 * Records the duration and outcome of named operations into thread-local histograms and ships
 * them, once every 500 ms from a background thread, to a perfdash dashboard over a local socket.
 * The recording calls never block, never allocate after the first use of a name on a thread, and
 * never make a system call. The program runs the same whether or not a dashboard is there.
 *
 * Environment:
 *   PERFDASH_SOCKET        where the dashboard listens (default: $XDG_RUNTIME_DIR/perfdash/perfdash.sock,
 *                          else /tmp/perfdash-<uid>/perfdash.sock)
 *   PERFDASH_DISABLE=1     every call is a no-op (returns PERFDASH_DISABLED)
 *   PERFDASH_SAMPLE_RATE   share of operations also sent as raw events, 0..1 (default 0.001)
 *   PERFDASH_SLOW_MS       operations at or over this are always sent as raw events (default 100)
 *   PERFDASH_NAME          the process name shown in the dashboard (default: the program's name)
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
#define PERFDASH_EINVAL (-1) /* a null pointer, an empty name, or a value out of range */
#define PERFDASH_ETOOMANY (-2) /* the table of operation names is full (4096 names) */
#define PERFDASH_ENOMEM (-3) /* memory for a new thread or operation could not be had */
#define PERFDASH_ETIMEDOUT (-4) /* perfdash_flush(): the data was not all sent in time */
#define PERFDASH_ENOTCONNECTED (-5) /* perfdash_flush(): no dashboard is connected */

/** The id of an operation name, from perfdash_operation(). */
typedef uint32_t perfdash_op;

/** A running operation: fill with perfdash_scope_begin(), close with perfdash_scope_end(). */
typedef struct perfdash_scope {
    perfdash_op op;
    uint64_t start;
    int clock; /* which clock start came from; private */
    int failed;
} perfdash_scope;

/** Looks up (or registers) @p name. Cache the id: this takes a lock, recording does not. */
PERFDASH_API int perfdash_operation(const char* name, perfdash_op* id);
/** Starts timing @p op. */
PERFDASH_API int perfdash_scope_begin(perfdash_scope* scope, perfdash_op op);
/** Marks the operation failed; it is still timed and counted. */
PERFDASH_API int perfdash_scope_fail(perfdash_scope* scope);
/** Stops timing and records the operation. */
PERFDASH_API int perfdash_scope_end(perfdash_scope* scope);
/** Records an operation measured elsewhere: @p ns nanoseconds, @p ok non-zero for success. */
PERFDASH_API int perfdash_record(perfdash_op op, uint64_t ns, int ok);
/** Same, by name (looks the name up each time). */
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
