// SPDX-License-Identifier: GPL-3.0-or-later
// A program whose only names are in a separate debug file (tests/CMakeLists.txt strips it and
// keeps its DWARF apart, for a debuginfod server): prints the address of a function of its own,
// then waits for its standard input to close.
#include <cstdio>
#include <unistd.h>

namespace debuginfodtarget {
__attribute__((noinline)) unsigned fetchedByBuildId(unsigned x)
{
    for (int i = 0; i < 1000; ++i)
        x = x * 1664525u + 1013904223u;
    return x;
}
} // namespace debuginfodtarget

int main()
{
    std::printf("%p\n", reinterpret_cast<void*>(&debuginfodtarget::fetchedByBuildId));
    std::printf("ready %u\n", debuginfodtarget::fetchedByBuildId(1));
    std::fflush(stdout);
    char byte;
    while (::read(0, &byte, 1) > 0) { }
    return 0;
}
