/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The C API from C (C99): every call and its documented errors. Built by the suite against the
 * library, and by tools/client-portability with musl-gcc (compile and header check on musl). */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <perfdash/perfdash.h>

#include <stdio.h>
#include <stdlib.h>

static int failures = 0;
#define EXPECT(call, code)                                                                                             \
    do {                                                                                                               \
        const int rc_ = (call);                                                                                        \
        if (rc_ != (code)) {                                                                                           \
            fprintf(stderr, "client_c:%d: %s returned %d (%s), expected %d\n", __LINE__, #call, rc_,                   \
                perfdash_strerror(rc_), (code));                                                                       \
            ++failures;                                                                                                \
        }                                                                                                              \
    } while (0)

int main(void)
{
    perfdash_op op, other;
    perfdash_scope scope;
    setenv("PERFDASH_SOCKET", "/nonexistent/perfdash.sock", 1);
    EXPECT(perfdash_set_sampling_rate(0.5), PERFDASH_OK);
    EXPECT(perfdash_operation("c.op", &op), PERFDASH_OK);
    EXPECT(perfdash_operation("c.other", &other), PERFDASH_OK);
    EXPECT(perfdash_scope_begin(&scope, op), PERFDASH_OK);
    EXPECT(perfdash_scope_fail(&scope), PERFDASH_OK);
    EXPECT(perfdash_scope_end(&scope), PERFDASH_OK);
    EXPECT(perfdash_scope_end(&scope), PERFDASH_EINVAL);
    EXPECT(perfdash_record(op, 1000, 1), PERFDASH_OK);
    EXPECT(perfdash_record(other + 100, 1000, 1), PERFDASH_EINVAL);
    EXPECT(perfdash_record_name("c.byname", 1000, 0), PERFDASH_OK);
    EXPECT(perfdash_counter_add("c.counter", 2), PERFDASH_OK);
    EXPECT(perfdash_gauge_set("c.gauge", 3), PERFDASH_OK);
    EXPECT(perfdash_gauge_set("c.counter", 3), PERFDASH_EINVAL);
    EXPECT(perfdash_set_sampling_rate(-1), PERFDASH_EINVAL);
    EXPECT(perfdash_operation(NULL, &op), PERFDASH_EINVAL);
    EXPECT(perfdash_flush(3000), PERFDASH_ENOTCONNECTED);
    printf("client_c: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
