// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "http/limitedtcpserver.h"
#include "http/listenerrefusals.h"

#include <QHostAddress>
#include <QObject>
#include <QThread>

#include <functional>
#include <memory>

class QHttpServerRequest;
class QHttpServerResponse;

namespace perfdash {

class MetricsStore;
class OtlpIngest;

/**
 * OTLP/HTTP receiver on Qt HTTP Server, on a thread of its own: POST /v1/traces and
 * POST /v1/metrics, application/x-protobuf or application/json, identity or gzip
 * Content-Encoding. Answers as the OTLP spec says: 200 with an Export*ServiceResponse in the
 * request's content type (partial_success when some spans or points were rejected), 400 with a
 * google.rpc.Status saying why for a body that does not decode, 413 for a body over the limit
 * (announced, sent or inflated), 415 for another content type or encoding, 405 for another
 * method. Connections are bounded by a LimitedTcpServer (count, idle and request time, sizes);
 * their count shares the process's HTTP budget with /metrics (descriptorbudget.h).
 * What it decodes goes to the store through OtlpIngest.
 */
class OtlpReceiver : public QObject
{
    Q_OBJECT
public:
    struct Limits
    {
        LimitedTcpServer::Limits http;
        qint64 maxInflatedBytes = 64 << 20; ///< a gzip body may inflate to this much
    };
    struct Stats
    {
        quint64 requests = 0; ///< answered 200
        quint64 badRequests = 0; ///< 400
        quint64 unsupported = 0; ///< 405 and 415
        quint64 tooLarge = 0; ///< 413, at any stage
        quint64 spans = 0; ///< counted as operations, by the ingest (OTLP/gRPC's too: the ingest is shared)
        quint64 hiddenSpans = 0; ///< by the ingest, like spans
        quint64 rejectedSpans = 0; ///< in the requests this receiver answered
        quint64 points = 0; ///< applied by the ingest, like spans
        quint64 rejectedPoints = 0; ///< in the requests this receiver answered
        quint64 refusedConnections = 0; ///< over the cap or the HTTP budget shared with /metrics (503)
        quint64 refusedDescriptors = 0; ///< accept failed for want of a file descriptor
        quint64 timedOut = 0; ///< requests too slow or stalled, and idle connections closed
        quint64 closedIdle = 0; ///< of timedOut: idle between requests, which refuses nothing
        quint64 refusedMemory = 0; ///< 503: the requests in flight held Limits::http.maxBytesInFlight
        qint64 bytesInFlight = 0; ///< request bytes held now, over every connection
        int openConnections = 0;
        quint64 acceptedConnections = 0;
    };

    explicit OtlpReceiver(MetricsStore* store, QObject* parent = nullptr);
    ~OtlpReceiver() override;

    void setLimits(const Limits& limits); ///< before listen()
    /// False with a sentence in @p error when the address cannot be served (in use, not ours).
    bool listen(const QHostAddress& host, quint16 port, QString* error);
    void close();
    bool isListening() const;
    quint16 port() const; ///< the bound port (listen(…, 0) picks one)
    QString address() const; ///< "127.0.0.1:4318"

    /// Internal spans (Express middlewares, …) are left out of the operations while on; still counted.
    void setHideInternalSpans(bool hide);
    bool hideInternalSpans() const;
    /// Counts since the receiver was made (a close() and listen() from the menu keep them).
    Stats stats() const;
    /// Every refusal by reason, as /metrics, the headless summary and the window show them.
    ListenerRefusals refusals() const;

    /// Runs @p work on the receiver's thread with its OtlpIngest, after what is queued there, whether
    /// or not it listens: another transport (OtlpGrpcReceiver) feeds the store through the same
    /// ingest on the same thread, so that the store is fed by one thread and a service sending over
    /// both is one process. Work posted while the receiver is being destroyed is not run: whoever
    /// posts stops doing so first.
    void runOnIngestThread(std::function<void(OtlpIngest&)> work);

Q_SIGNALS:
    /// A request was refused: a sentence for the log and the window.
    void problem(const QString& message);

private:
    class Worker;
    QThread m_thread;
    QObject m_ingestContext; // lives on m_thread: what runOnIngestThread() runs in
    Worker* m_worker;
    std::unique_ptr<OtlpIngest> m_ingest;
    Limits m_limits;
    Stats m_closed; // what the listeners closed before counted
};

} // namespace perfdash
