// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target for the OTLP/json decoder and what follows it (fuzz/otlpfuzz.h).
#include "fuzz/otlpfuzz.h"
#include "otlp/otlpjson.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    using namespace perfdash::otlp;
    static JsonDecoder json;
    return perfdash::fuzz::otlpInput(
        data, size,
        [](QByteArrayView body, Traces& out, QString* error, const DecodeOptions& options) {
            return json.decodeTraces(body, out, error, options);
        },
        [](QByteArrayView body, Metrics& out, QString* error, const DecodeOptions& options) {
            return json.decodeMetrics(body, out, error, options);
        });
}
