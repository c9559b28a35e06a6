// SPDX-License-Identifier: MIT
// The C API: thin wrappers over the C++ one, with error codes.
#include "perfdash/perfdash.h"
#include "perfdash/perfdash.hpp"

namespace {
bool disabled() noexcept
{
    return !perfdash::stats().enabled;
}
} // namespace

extern "C" {

int perfdash_operation(const char* name, perfdash_op* id)
{
    if (!name || !*name || !id)
        return PERFDASH_EINVAL;
    if (disabled()) {
        *id = perfdash::InvalidOp;
        return PERFDASH_DISABLED;
    }
    *id = perfdash::operation(name);
    return *id == perfdash::InvalidOp ? PERFDASH_ETOOMANY : PERFDASH_OK;
}

int perfdash_scope_begin(perfdash_scope* scope, perfdash_op op)
{
    if (!scope)
        return PERFDASH_EINVAL;
    scope->op = op;
    scope->failed = 0;
    scope->clock = 0;
    scope->start = 0;
    if (op == perfdash::InvalidOp)
        return disabled() ? PERFDASH_DISABLED : PERFDASH_EINVAL;
    scope->start = perfdash::detail::now(scope->clock);
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
    if (scope->op == perfdash::InvalidOp)
        return disabled() ? PERFDASH_DISABLED : PERFDASH_EINVAL;
    perfdash::detail::finish(scope->op, scope->start, scope->clock, !scope->failed, nullptr);
    return PERFDASH_OK;
}

int perfdash_record(perfdash_op op, uint64_t ns, int ok)
{
    if (op == perfdash::InvalidOp)
        return disabled() ? PERFDASH_DISABLED : PERFDASH_EINVAL;
    perfdash::record(op, ns, ok != 0);
    return PERFDASH_OK;
}

int perfdash_record_name(const char* name, uint64_t ns, int ok)
{
    perfdash_op op = 0;
    const int rc = perfdash_operation(name, &op);
    return rc == PERFDASH_OK ? perfdash_record(op, ns, ok) : rc;
}

int perfdash_counter_add(const char* name, double delta)
{
    if (!name || !*name)
        return PERFDASH_EINVAL;
    if (disabled())
        return PERFDASH_DISABLED;
    perfdash::counter(name, delta);
    return PERFDASH_OK;
}

int perfdash_gauge_set(const char* name, double value)
{
    if (!name || !*name)
        return PERFDASH_EINVAL;
    if (disabled())
        return PERFDASH_DISABLED;
    perfdash::gauge(name, value);
    return PERFDASH_OK;
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
    case PERFDASH_OK: return "success";
    case PERFDASH_DISABLED: return "perfdash is disabled (PERFDASH_DISABLE is set)";
    case PERFDASH_EINVAL: return "invalid argument";
    case PERFDASH_ETOOMANY: return "too many operation names (at most 4096)";
    case PERFDASH_ENOMEM: return "out of memory";
    case PERFDASH_ETIMEDOUT: return "timed out before everything was sent";
    case PERFDASH_ENOTCONNECTED: return "no perfdash dashboard is connected";
    default: return "unknown error";
    }
}

} // extern "C"
