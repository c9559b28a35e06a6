// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "http/listenerrefusals.h"
#include "ipc/descriptorbudget.h"

#include <QHostAddress>
#include <QObject>

#include <memory>

namespace grpc {
class Server;
}

namespace perfdash {

class OtlpReceiver;

/**
 * OTLP/gRPC receiver (gRPC C++'s callback generic service, no generated stubs): unary
 * /opentelemetry.proto.collector.trace.v1.TraceService/Export and
 * /opentelemetry.proto.collector.metrics.v1.MetricsService/Export, protobuf messages, identity or
 * gzip (grpc-encoding, inflated by gRPC). Answers OK with an Export*ServiceResponse
 * (partial_success when some spans or points were rejected), INVALID_ARGUMENT with the decoder's
 * reason for a message that does not decode, RESOURCE_EXHAUSTED for a message over the size limit
 * or a call over the call or memory limits, UNIMPLEMENTED for any other method.
 *
 * It decodes and applies on the OTLP/HTTP receiver's thread with its OtlpIngest
 * (OtlpReceiver::runOnIngestThread): gRPC's threads only copy the message and hand it over, so the
 * store is fed by one thread and a service sending over both transports is one process;
 * --otlp-hide-internal is the ingest's, so it applies here too. @p http must outlive this.
 *
 * What gRPC 1.51 lets a server bound, and what this does with it: the size of one message
 * (Limits::grpcMaxMessageBytes, after gzip: gRPC refuses a larger one itself, and the call only sees
 * its message missing; this refuses and counts what is over Limits::maxMessageBytes), streams
 * per connection (GRPC_ARG_MAX_CONCURRENT_STREAMS), idle connections (GRPC_ARG_MAX_CONNECTION_IDLE_MS)
 * and the age of a connection, with a grace for the calls in it (GRPC_ARG_MAX_CONNECTION_AGE_MS,
 * _GRACE_MS: a call that stalls ends there), the memory of its buffers (a ResourceQuota). It has
 * no cap on the number of connections; this bounds the calls in flight over every connection
 * (Limits::maxCalls) and the message bytes they hold (Limits::maxBytesInFlight) itself, refusing
 * past either with RESOURCE_EXHAUSTED.
 */
class OtlpGrpcReceiver : public QObject
{
    Q_OBJECT
public:
    struct Limits
    {
        int maxCalls = descriptorbudget::otlpConnections(); ///< calls in flight: the HTTP receiver's connections
        int maxStreamsPerConnection = 16;
        qint64 maxMessageBytes = 16 << 20; ///< the HTTP receiver's maxBodyBytes, after gzip
        /// gRPC's own bound (the HTTP receiver's maxInflatedBytes): past it gRPC answers
        /// RESOURCE_EXHAUSTED itself, and the call is counted as cancelled (it cannot tell apart).
        qint64 grpcMaxMessageBytes = 64 << 20;
        qint64 maxBytesInFlight = 64 << 20; ///< messages received and not yet answered, over every call
        qint64 quotaBytes = 128 << 20; ///< gRPC's own buffers (ResourceQuota)
        int idleTimeoutMs = 30'000; ///< a connection without calls is closed
        int maxConnectionAgeMs = 60'000; ///< then a connection is told to go (GOAWAY)...
        int connectionAgeGraceMs = 60'000; ///< ...and closed this much later, calls in it or not
    };
    struct Stats
    {
        quint64 calls = 0; ///< calls received, whatever became of them
        quint64 requests = 0; ///< answered OK
        quint64 badRequests = 0; ///< INVALID_ARGUMENT: the message does not decode
        quint64 unimplemented = 0; ///< UNIMPLEMENTED: another method
        quint64 tooLarge = 0; ///< RESOURCE_EXHAUSTED: a message over maxMessageBytes
        quint64 refusedCalls = 0; ///< RESOURCE_EXHAUSTED: over maxCalls
        quint64 refusedMemory = 0; ///< RESOURCE_EXHAUSTED: the messages in flight held maxBytesInFlight
        /// Ended without their message: cancelled by the client, the connection closed or aged out,
        /// or a message over grpcMaxMessageBytes.
        quint64 cancelled = 0;
        quint64 rejectedSpans = 0; ///< in the requests answered OK, their partial_success
        quint64 rejectedPoints = 0;
        int callsInFlight = 0;
        qint64 bytesInFlight = 0;
    };

    explicit OtlpGrpcReceiver(OtlpReceiver* http, QObject* parent = nullptr);
    ~OtlpGrpcReceiver() override;

    void setLimits(const Limits& limits); ///< before listen()
    /// False with a sentence in @p error when the address cannot be served (in use, not ours).
    bool listen(const QHostAddress& host, quint16 port, QString* error);
    /// Stops taking calls and waits for those in flight to be answered (their data is then in the
    /// store). Counts are kept.
    void close();
    bool isListening() const;
    quint16 port() const; ///< the bound port (listen(…, 0) picks one)
    QString address() const; ///< "127.0.0.1:4317"

    /// Counts since the receiver was made; readable from any thread.
    Stats stats() const;
    /// Every refusal by reason ("otlp_grpc", "OTLP/gRPC"), as /metrics, the headless summary and
    /// the window show them; open and accepted are calls, gRPC's connections being its own.
    ListenerRefusals refusals() const;

Q_SIGNALS:
    /// A call was refused: a sentence for the log and the window, once per kind until a call goes
    /// through. Emitted from gRPC's threads.
    void problem(const QString& message);

private:
    class Service;
    struct Counters;
    friend class GrpcCall;
    friend class GrpcRefusal;
    OtlpReceiver* m_http;
    Limits m_limits;
    std::shared_ptr<Counters> m_counters;
    std::unique_ptr<Service> m_service;
    std::unique_ptr<grpc::Server> m_server;
    QHostAddress m_host;
    quint16 m_port = 0;
};

} // namespace perfdash
