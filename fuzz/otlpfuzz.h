// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

// What the two OTLP fuzz targets share: the first byte picks traces or metrics (bit 0), whether the
// rest is gzip (bit 1), attributes read or not (bit 2) and internal spans hidden (bit 3); the
// decoded telemetry then goes into a store, so that odd values (bounds, scales, offsets, times)
// reach the histogram conversions too. A refusal must always say why.
#include "core/metricsstore.h"
#include "http/gunzip.h"
#include "otlp/otlpdata.h"
#include "otlp/otlpingest.h"

#include <cstddef>
#include <cstdint>

namespace perfdash::fuzz {

/// @p decodeTraces and @p decodeMetrics: bool(body, out, error, options), as the decoders are.
template <typename DecodeTraces, typename DecodeMetrics>
int otlpInput(const std::uint8_t* data, std::size_t size, DecodeTraces decodeTraces, DecodeMetrics decodeMetrics)
{
    static MetricsStore store;
    static OtlpIngest ingest(&store);
    if (size == 0)
        return 0;
    const std::uint8_t mode = data[0];
    QByteArray body(reinterpret_cast<const char*>(data + 1), qsizetype(size - 1));
    if (mode & 2) {
        QByteArray inflated;
        if (gunzip(body, 1 << 20, inflated) != GunzipResult::Ok)
            return 0;
        body = inflated;
    }
    otlp::DecodeOptions options;
    options.attributesFromNs = (mode & 4) ? 0 : ~quint64(0);
    ingest.setHideInternalSpans(mode & 8);
    QString error;
    if (mode & 1) {
        otlp::Metrics metrics;
        if (decodeMetrics(body, metrics, &error, options))
            ingest.applyMetrics(metrics);
        else if (error.isEmpty())
            __builtin_trap();
    } else {
        otlp::Traces traces;
        if (decodeTraces(body, traces, &error, options))
            ingest.applyTraces(traces);
        else if (error.isEmpty())
            __builtin_trap();
    }
    return 0;
}

} // namespace perfdash::fuzz
