// SPDX-License-Identifier: GPL-3.0-or-later
// The checks of the plain C++17 test programs (client_unit, heap_unit): each failure is printed
// with its place and counted in g_failures, which the program's exit status reports. No
// framework: these programs build and run wherever the libraries they test do (aarch64 under
// qemu-user, musl).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstring>

inline int g_failures = 0;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                              \
            ++g_failures;                                                                                              \
        }                                                                                                              \
    } while (0)
#define CHECK_EQ(a, b)                                                                                                 \
    do {                                                                                                               \
        const auto va = (a);                                                                                           \
        const auto vb = (b);                                                                                           \
        if (!(va == vb)) {                                                                                             \
            std::fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a, #b,      \
                static_cast<long long>(va), static_cast<long long>(vb));                                               \
            ++g_failures;                                                                                              \
        }                                                                                                              \
    } while (0)
/// |a - b| <= tolerance, printed either way (where the figures are the point of the test).
#define CHECK_NEAR(a, b, tolerance)                                                                                    \
    do {                                                                                                               \
        const double va = double(a), vb = double(b), vt = double(tolerance);                                           \
        const bool ok = std::fabs(va - vb) <= vt;                                                                      \
        std::printf("%s %s = %.0f, %s = %.0f, off by %.0f (tolerance %.0f)\n", ok ? "ok" : "FAILED", #a, va, #b, vb,   \
            va - vb, vt);                                                                                              \
        if (!ok) {                                                                                                     \
            std::fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s ~ %s\n", __FILE__, __LINE__, #a, #b);                   \
            ++g_failures;                                                                                              \
        }                                                                                                              \
    } while (0)

/// One case of a test program: its name on the command line, and what it runs.
struct Case
{
    const char* name;
    void (*run)();
};

/// One case per process: `PROGRAM CASE` runs it and says PASS or FAIL (the exit status too),
/// `PROGRAM --list` lists them (ctest adds one test per case).
template <std::size_t N> int runCase(const char* program, const Case (&cases)[N], int argc, char** argv)
{
    if (argc == 2 && std::strcmp(argv[1], "--list") == 0) {
        for (const Case& c : cases)
            std::printf("%s\n", c.name);
        return 0;
    }
    for (const Case& c : cases) {
        if (argc == 2 && std::strcmp(argv[1], c.name) == 0) {
            c.run();
            std::printf("%s %s: %s\n", program, c.name, g_failures ? "FAIL" : "PASS");
            return g_failures ? 1 : 0;
        }
    }
    std::fprintf(stderr, "usage: %s <case>|--list\n", program);
    return 2;
}
