// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "workerpool.h"

#include <QHostAddress>
#include <QObject>

class QTcpServer;
class QTcpSocket;

namespace perfdash {

class MetricsStore;

/**
 * A tiny HTTP/1.1 responder for Prometheus: GET /metrics answers the text exposition format
 * (version 0.0.4) with, per process and operation, a duration histogram (_bucket{le=...}, _sum,
 * _count, session-wide), an error counter, and per process memory, CPU and liveness gauges.
 * Written here because Qt 6.4 in Debian has no QHttpServer; it serves nothing else (404), reads
 * at most 8 KiB of a request, and closes each connection after its response. The text is built
 * on the worker pool.
 */
class MetricsEndpoint : public QObject
{
    Q_OBJECT
public:
    explicit MetricsEndpoint(MetricsStore* store, QObject* parent = nullptr);
    ~MetricsEndpoint() override;

    /// Parses "HOST:PORT" or "PORT" (then on the loopback interface).
    static bool parseAddress(const QString& text, QHostAddress* host, quint16* port, QString* error);
    bool listen(const QHostAddress& host, quint16 port, QString* error);
    quint16 port() const;

    /// The exposition text for @p store, as /metrics serves it.
    static QByteArray render(const MetricsStore& store);

private:
    void accept();
    void read(QTcpSocket* socket);

    MetricsStore* m_store;
    QTcpServer* m_server;
    WorkerPool m_pool;
};

} // namespace perfdash
