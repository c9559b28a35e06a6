// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "otlp/otlpdata.h"

#include <QByteArray>
#include <QByteArrayView>

namespace perfdash::otlp {

/// OTLP/protobuf: an ExportTraceServiceRequest (otlp/proto/otlp_trace.proto, our own declaration of
/// the fields we read). False with a reason in @p error when the bytes are not that message.
bool decodeTracesProtobuf(QByteArrayView body, Traces& out, QString* error, const DecodeOptions& options = {});
/// An ExportMetricsServiceRequest (otlp/proto/otlp_metrics.proto).
bool decodeMetricsProtobuf(QByteArrayView body, Metrics& out, QString* error, const DecodeOptions& options = {});

/// Export*ServiceResponse bodies: empty partial_success when nothing was rejected.
QByteArray encodeTraceResponseProtobuf(qint64 rejected, const QString& message);
QByteArray encodeMetricsResponseProtobuf(qint64 rejected, const QString& message);

} // namespace perfdash::otlp
