// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target for the OTLP/protobuf decoder and what follows it (fuzz/otlpfuzz.h).
#include "fuzz/otlpfuzz.h"
#include "otlp/otlpprotobuf.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    return perfdash::fuzz::otlpInput(
        data, size, perfdash::otlp::decodeTracesProtobuf, perfdash::otlp::decodeMetricsProtobuf);
}
