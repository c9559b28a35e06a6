// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target for the NDJSON side of the decoder: every input is an NDJSON stream (a '{' is
// put in front), so the fuzzer spends its time in the line splitting and the JSON parsing.
#include "ipc/framedecoder.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    perfdash::protocol::FrameDecoder decoder;
    std::vector<perfdash::protocol::Message> out;
    decoder.feed("{", out);
    const std::size_t chunk = size > 0 ? std::size_t(data[0] % 128) + 1 : 1;
    for (std::size_t i = 0; i < size && !decoder.failed(); i += chunk) {
        decoder.feed(
            QByteArrayView(reinterpret_cast<const char*>(data + i), qsizetype(std::min(chunk, size - i))), out);
        if (out.size() > 4096)
            out.clear();
    }
    if (decoder.buffered() > perfdash::protocol::MaxLineBytes + 65536)
        __builtin_trap();
    return 0;
}
