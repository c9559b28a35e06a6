// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer target for the OTLP/protobuf decoder and what follows it: the first byte picks traces or
// metrics and whether the rest is gzip; the decoded telemetry then goes into a store, so that odd
// values (bounds, scales, offsets, times) reach the histogram conversions too.
#include "core/metricsstore.h"
#include "http/gunzip.h"
#include "otlp/otlpingest.h"
#include "otlp/otlpprotobuf.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static perfdash::MetricsStore store;
    static perfdash::OtlpIngest ingest(&store);
    if (size == 0)
        return 0;
    const std::uint8_t mode = data[0];
    QByteArray body(reinterpret_cast<const char*>(data + 1), qsizetype(size - 1));
    if (mode & 2) {
        QByteArray inflated;
        if (perfdash::gunzip(body, 1 << 20, inflated) != perfdash::GunzipResult::Ok)
            return 0;
        body = inflated;
    }
    perfdash::otlp::DecodeOptions options;
    options.attributesFromNs = (mode & 4) ? 0 : ~quint64(0);
    ingest.setHideInternalSpans(mode & 8);
    QString error;
    if (mode & 1) {
        perfdash::otlp::Metrics metrics;
        if (perfdash::otlp::decodeMetricsProtobuf(body, metrics, &error, options))
            ingest.applyMetrics(metrics);
        else if (error.isEmpty())
            __builtin_trap(); // a refusal always says why
    } else {
        perfdash::otlp::Traces traces;
        if (perfdash::otlp::decodeTracesProtobuf(body, traces, &error, options))
            ingest.applyTraces(traces);
        else if (error.isEmpty())
            __builtin_trap();
    }
    return 0;
}
