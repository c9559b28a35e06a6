// SPDX-License-Identifier: MIT
// The C API: the C++ one with error codes, and checks that C callers need (ids, scopes ended twice).
#include "api.h"
#include "clock.h"
#include "metrics.h"
#include "perfdash/perfdash.h"
#include "perfdash/perfdash.hpp"
#include "scope.h"
#include "scoperings.h"

extern "C" {

int perfdash_operation(const char* name, perfdash_op* id)
{
    if (!name || !*name || !id)
        return PERFDASH_EINVAL;
    int error;
    *id = perfdash::internal::lookup(name, &error);
    return error;
}

int perfdash_scope_begin(perfdash_scope* scope, perfdash_op op)
{
    if (!scope)
        return PERFDASH_EINVAL;
    scope->op = op;
    scope->failed = 0;
    scope->clock = -1;
    scope->start = 0;
    if (op == perfdash::InvalidOp || (op != perfdash::FullOp && !perfdash::internal::registered(op)))
        return perfdash::internal::disabled() ? PERFDASH_DISABLED : PERFDASH_EINVAL;
    unsigned exceptions = 0; // C has none: the scope fails only when told
    scope->start = perfdash::detail::beginOp(op, scope->clock, exceptions);
    return PERFDASH_OK;
}

int perfdash_scope_fail(perfdash_scope* scope)
{
    if (!scope)
        return PERFDASH_EINVAL;
    scope->failed = 1;
    return PERFDASH_OK;
}

int perfdash_scope_end(perfdash_scope* scope)
{
    if (!scope)
        return PERFDASH_EINVAL;
    if (scope->clock < 0
        || scope->clock > (perfdash::clock::Counter | perfdash::tracing::Traced)) // never begun, or ended
        return perfdash::internal::disabled() ? PERFDASH_DISABLED : PERFDASH_EINVAL;
    const int which = scope->clock;
    scope->clock = -1;
    return perfdash::internal::endScope(scope->op, scope->start, which, ~0u, scope->failed != 0);
}

int perfdash_record(perfdash_op op, uint64_t ns, int ok)
{
    return perfdash::internal::record(op, ns, ok != 0, perfdash::clock::Monotonic, 0, nullptr);
}

int perfdash_record_name(const char* name, uint64_t ns, int ok)
{
    perfdash_op op = 0;
    const int rc = perfdash_operation(name, &op);
    return rc == PERFDASH_OK || rc == PERFDASH_ETOOMANY ? perfdash_record(op, ns, ok) : rc;
}

int perfdash_counter_add(const char* name, double delta)
{
    if (!name || !*name)
        return PERFDASH_EINVAL;
    if (perfdash::internal::disabled())
        return PERFDASH_DISABLED;
    return perfdash::metrics::update(name, perfdash::metrics::Counter, delta);
}

int perfdash_gauge_set(const char* name, double value)
{
    if (!name || !*name)
        return PERFDASH_EINVAL;
    if (perfdash::internal::disabled())
        return PERFDASH_DISABLED;
    return perfdash::metrics::update(name, perfdash::metrics::Gauge, value);
}

int perfdash_set_sampling_rate(double rate)
{
    if (!(rate >= 0.0 && rate <= 1.0))
        return PERFDASH_EINVAL;
    perfdash::setSamplingRate(rate);
    return PERFDASH_OK;
}

int perfdash_set_slow_threshold_ns(uint64_t ns)
{
    perfdash::setSlowThresholdNs(ns);
    return PERFDASH_OK;
}

int perfdash_flush(int timeout_ms)
{
    if (timeout_ms < 0)
        return PERFDASH_EINVAL;
    return perfdash::flush(timeout_ms);
}

const char* perfdash_strerror(int code)
{
    switch (code) {
    case PERFDASH_OK:
        return "success";
    case PERFDASH_DISABLED:
        return "perfdash is disabled (PERFDASH_DISABLE is set)";
    case PERFDASH_EINVAL:
        return "invalid argument (or an unregistered id, or a scope ended twice)";
    case PERFDASH_ETOOMANY:
        return "too many names (at most 4096); counted as dropped";
    case PERFDASH_ENOMEM:
        return "out of memory; counted as dropped";
    case PERFDASH_ETIMEDOUT:
        return "timed out before everything was sent";
    case PERFDASH_ENOTCONNECTED:
        return "no perfdash dashboard is connected";
    default:
        return "unknown error";
    }
}

} // extern "C"
