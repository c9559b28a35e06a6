// SPDX-License-Identifier: GPL-3.0-or-later
// Test helper: allocates and touches N MiB, says "ready", and holds it until stdin closes.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

int main(int argc, char** argv)
{
    const long mib = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 100;
    std::vector<char> block(std::size_t(mib) * 1024 * 1024);
    std::memset(block.data(), 0x5a, block.size()); // touch every page so it is resident
    std::printf("ready\n");
    std::fflush(stdout);
    while (std::getchar() != EOF) { }
    return block[block.size() / 2] == 0x5a ? 0 : 1;
}
