// SPDX-License-Identifier: GPL-3.0-or-later
#include "http/refusalsummary.h"

#include "core/metricsstore.h"

namespace perfdash {

QString refusalSummary(const MetricsStore& store, const IngestServer::Stats& ingest,
    const LimitedTcpServer::Stats& http, const QList<ListenerRefusals>& listeners)
{
    const MetricsStore::Refusals refused = store.refusals();
    quint64 any = ingest.refused + ingest.rejectedProcessLimit + ingest.rejectedVersion + ingest.closedProtocol
        + http.refusedLimit + http.refusedDescriptors + http.timedOut + http.oversized + refused.processLimit
        + refused.counterLimit + refused.gaugeLimit + refused.invalidValues;
    for (const ListenerRefusals& l : listeners) {
        any += l.total();
        for (const ListenerRefusals::Reason& r : l.rejectedItems)
            any += r.count;
    }
    if (any == 0)
        return {};
    QString line
        = QStringLiteral("refused: connections %1 (limit %2, no descriptor %3, other uid %4; %5 open of %6), "
                         "HTTP %7 (limit %8, timed out %9, too large %10), messages over the process limit %11 "
                         "(clients told so: %12), counters %13, gauges %14, invalid values %15, "
                         "clients of a wrong version %16, connections not speaking the protocol %17")
              .arg(ingest.refused)
              .arg(ingest.refusedLimit)
              .arg(ingest.refusedDescriptors)
              .arg(ingest.refusedUid)
              .arg(ingest.connections)
              .arg(ingest.maxConnections)
              .arg(http.refusedLimit + http.refusedDescriptors + http.timedOut + http.oversized)
              .arg(http.refusedLimit + http.refusedDescriptors)
              .arg(http.timedOut)
              .arg(http.oversized)
              .arg(refused.processLimit)
              .arg(ingest.rejectedProcessLimit)
              .arg(refused.counterLimit)
              .arg(refused.gaugeLimit)
              .arg(refused.invalidValues)
              .arg(ingest.rejectedVersion)
              .arg(ingest.closedProtocol);
    for (const ListenerRefusals& l : listeners) {
        quint64 rejected = 0;
        for (const ListenerRefusals::Reason& r : l.rejectedItems)
            rejected += r.count;
        if (l.total() + rejected > 0) // a listener that refused nothing is not worth a word
            line += QStringLiteral(", ") + l.describe();
    }
    return line;
}

} // namespace perfdash
