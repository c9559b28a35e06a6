// SPDX-License-Identifier: MIT
// A C++ program instrumented with perfdash: scopes, metadata, track() and exceptions.
#include <perfdash/perfdash.hpp>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace {
int lookup(int key)
{
    PERFDASH_SCOPE_VAR(scope, "example.lookup");
    scope.meta("key", std::to_string(key));
    if (key % 50 == 0)
        throw std::runtime_error("not found"); // marks the operation failed
    return key * 2;
}
} // namespace

int main()
{
    int sum = 0;
    for (int i = 1; i <= 1000; ++i) {
        try {
            sum += lookup(i);
        } catch (const std::exception&) {
        }
        sum += perfdash::track("example.render", [i] { return i % 7; });
    }
    perfdash::counter("example.requests", 1000);
    const int rc = perfdash::flush(5000);
    std::printf("example_cpp: %d, flush: %s\n", sum % 10, perfdash_strerror(rc));
    return 0;
}
