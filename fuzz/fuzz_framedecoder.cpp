// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target for the frame decoder (binary and NDJSON). Build with clang:
//   CXX=clang++ cmake -S . -B build-fuzz -DPERFDASH_FUZZ=ON && cmake --build build-fuzz --target fuzz_framedecoder
//   build-fuzz/bin/fuzz_framedecoder fuzz/corpus -max_total_time=600
// The first input byte picks a chunk size, so the fuzzer also explores how the stream is split.
#include "ipc/framedecoder.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size == 0)
        return 0;
    const std::size_t chunk = std::size_t(data[0] % 64) + 1;
    perfdash::protocol::FrameDecoder decoder;
    std::vector<perfdash::protocol::Message> out;
    for (std::size_t i = 1; i < size && !decoder.failed(); i += chunk) {
        const std::size_t n = std::min(chunk, size - i);
        decoder.feed(QByteArrayView(reinterpret_cast<const char*>(data + i), qsizetype(n)), out);
        if (out.size() > 4096)
            out.clear(); // the consumer's job; keeps the fuzzer's memory flat
    }
    if (decoder.buffered() > perfdash::protocol::MaxLineBytes + 65536)
        __builtin_trap(); // bounded buffers are a promise
    return 0;
}
