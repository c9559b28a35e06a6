/* SPDX-License-Identifier: MIT */
/* A C program instrumented with perfdash: times two operations, counts errors, keeps a gauge. */
#include <perfdash/perfdash.h>

#include <stdio.h>

static unsigned long work(unsigned long n)
{
    unsigned long x = n;
    for (int i = 0; i < 1000; ++i)
        x = x * 6364136223846793005ul + 1442695040888963407ul;
    return x;
}

int main(void)
{
    perfdash_op parse, compute;
    int rc = perfdash_operation("example.parse", &parse);
    if (rc < 0) {
        fprintf(stderr, "perfdash: %s\n", perfdash_strerror(rc));
        return 1;
    }
    perfdash_operation("example.compute", &compute);

    unsigned long sink = 0;
    for (unsigned long i = 0; i < 1000; ++i) {
        perfdash_scope scope;
        perfdash_scope_begin(&scope, parse);
        sink += work(i);
        if (i % 100 == 0)
            perfdash_scope_fail(&scope); /* one in a hundred fails */
        perfdash_scope_end(&scope);

        perfdash_scope_begin(&scope, compute);
        sink += work(i * 3);
        perfdash_scope_end(&scope);
    }
    perfdash_gauge_set("example.queue", 3);
    perfdash_counter_add("example.batches", 1);

    rc = perfdash_flush(5000);
    printf("example_c: %lu, flush: %s\n", sink % 10, perfdash_strerror(rc));
    return 0;
}
