// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/metricsstore.h"

class QIODevice;

namespace perfdash {

/**
 * Chrome Trace Event format (the JSON object form, {"traceEvents": [...]}), which Perfetto and
 * chrome://tracing open: each kept raw event as a complete ("X") event on its process and thread,
 * memory and CPU samples and counters as counter ("C") events, process and thread names as
 * metadata ("M") events. Timestamps are microseconds since the Unix epoch.
 */
namespace traceexport {
/// Writes the trace of every process in @p store; false when the device refused it.
bool write(const MetricsStore& store, QIODevice* device);
/// Writes @p path atomically; false with a sentence in @p error.
bool writeFile(const MetricsStore& store, const QString& path, QString* error);
} // namespace traceexport

} // namespace perfdash
