// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "otlp/otlpdata.h"

#include <QByteArrayView>

#include <memory>

namespace perfdash::otlp {

/**
 * OTLP/JSON (the protobuf messages in proto3's JSON mapping: lowerCamelCase keys, 64-bit
 * integers as strings or numbers, enums as numbers or names) decoded with simdjson's DOM parser.
 * Unknown fields are ignored, as the spec says. Pure: bytes in, values out, so tests and the fuzz
 * target feed it directly. One decoder keeps its parser's buffers between requests; not
 * thread-safe.
 */
class JsonDecoder
{
public:
    JsonDecoder();
    ~JsonDecoder();
    JsonDecoder(const JsonDecoder&) = delete;
    JsonDecoder& operator=(const JsonDecoder&) = delete;

    /// An ExportTraceServiceRequest. False with a reason (the JSON path of the problem) in @p error.
    bool decodeTraces(QByteArrayView body, Traces& out, QString* error, const DecodeOptions& options = {});
    /// An ExportMetricsServiceRequest.
    bool decodeMetrics(QByteArrayView body, Metrics& out, QString* error, const DecodeOptions& options = {});

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl;
};

} // namespace perfdash::otlp
