// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "http/listenerrefusals.h"

class QTextStream;

namespace perfdash {

class IngestServer;
class MetricsEndpoint;
class MetricsStore;
class OtlpReceiver;

/// The table a headless run prints every few seconds: each process, its busiest operations over
/// the last 10 s, its drops, and what the dashboard refused (@p others: the listeners besides
/// @p otlp, OTLP/gRPC).
void printTable(QTextStream& out, const MetricsStore& store, const IngestServer& server, const MetricsEndpoint& metrics,
    const OtlpReceiver& otlp, const QList<ListenerRefusals>& others = {});

} // namespace perfdash
