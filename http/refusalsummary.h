// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "http/limitedtcpserver.h"
#include "http/listenerrefusals.h"
#include "ipc/ingestserver.h"

#include <QString>

namespace perfdash {

class MetricsStore;

/**
 * What the dashboard refused so far, in one line, for the headless table, the end of a headless
 * run and the window's tooltip: the ingest socket's connections (and the clients told REJECT at
 * the process limit), /metrics, what the store refused, and each other listener (OTLP). Empty when
 * nothing was refused.
 */
QString refusalSummary(const MetricsStore& store, const IngestServer::Stats& ingest,
    const LimitedTcpServer::Stats& http, const QList<ListenerRefusals>& listeners = {});

} // namespace perfdash
