// SPDX-License-Identifier: GPL-3.0-or-later
// PERFDASH_ENABLE=0 compiles every PERFDASH_* macro to nothing: this program uses each of them and
// is deliberately NOT linked with the library, so one that still referenced it would not link.
#define PERFDASH_ENABLE 0
#include <perfdash/perfdash.hpp>

#include <cstdio>

namespace {
int work(int i)
{
    PERFDASH_SCOPE("disabled.scope");
    PERFDASH_SCOPE_VAR(scope, "disabled.named");
    scope.meta("i", "1").meta("j", "2");
    if (i % 2)
        scope.fail();
    PERFDASH_COUNTER("disabled.counter", 1.0);
    PERFDASH_GAUGE("disabled.gauge", double(i));
    return i * 2;
}
} // namespace

int main()
{
    int sum = 0;
    for (int i = 0; i < 10; ++i)
        sum += work(i);
    std::printf("client_disabled: %d\n", sum);
    return sum == 90 ? 0 : 1;
}
