// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "http/limitedtcpserver.h"
#include "http/listenerrefusals.h"
#include "toolkit/workerpool.h"

#include <QHostAddress>
#include <QObject>

#include <functional>

class QTcpSocket;

class QHttpServer;

namespace perfdash {

class IngestServer;
class MetricsStore;

/**
 * Prometheus: GET /metrics on Qt HTTP Server answers the text exposition format (version 0.0.4)
 * with, per process and operation, a duration histogram (_bucket{le=...}, _sum, _count,
 * session-wide), an error counter, per process memory, CPU and liveness gauges, and perfdash's
 * own counters (connections, refusals, drops). A LimitedTcpServer puts a connection cap, a
 * response deadline and a request size limit below the HTTP server. The text is built on the worker pool.
 */
class MetricsEndpoint : public QObject
{
    Q_OBJECT
public:
    explicit MetricsEndpoint(MetricsStore* store, QObject* parent = nullptr);
    ~MetricsEndpoint() override;

    /// Limits take effect at listen().
    void setLimits(const LimitedTcpServer::Limits& limits) { m_limits = limits; }
    bool listen(const QHostAddress& host, quint16 port, QString* error);
    quint16 port() const;
    /// The ingest server whose counters /metrics shows too (may be null).
    void setIngestServer(const IngestServer* server) { m_ingest = server; }
    LimitedTcpServer::Stats httpStats() const;
    /// Another listener whose refusals /metrics shows (`perfdash_<name>_refused_total{reason}`...);
    /// @p refusals is called on this object's thread at each scrape.
    void addListener(std::function<ListenerRefusals()> refusals);

    /// The exposition text for @p store, as /metrics serves it; with @p ingest, @p http and
    /// @p listeners, perfdash's own counters too.
    static QByteArray render(const MetricsStore& store, const IngestServer* ingest = nullptr,
        const LimitedTcpServer* http = nullptr, const QList<ListenerRefusals>& listeners = {});

Q_SIGNALS:
    /// Connections or requests refused for a limit (the cap, descriptors, size, time): once per
    /// kind and episode.
    void problem(const QString& message);

private:
    /// Writes the 200 response with @p body, unless the client is gone.
    static void answer(QTcpSocket* socket, const QByteArray& body);

    MetricsStore* m_store;
    const IngestServer* m_ingest = nullptr;
    QHttpServer* m_http;
    LimitedTcpServer* m_guard = nullptr;
    LimitedTcpServer::Limits m_limits;
    QList<std::function<ListenerRefusals()>> m_listeners;
    WorkerPool m_pool;
};

} // namespace perfdash
