// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "ipc/descriptorbudget.h"

#include <QTcpServer>

#include <atomic>
#include <memory>

namespace perfdash {

/**
 * The QTcpServer an HTTP endpoint's QAbstractHttpServer is bound to (bind()), /metrics' and OTLP's:
 * Qt HTTP Server 6.4 has no connection cap, no timeout and no request size limit of its own, so this
 * keeps them before it sees a byte:
 * - at most maxConnections open at once, and no more than the process-wide HTTP budget shared by
 *   every endpoint, less budgetKeptFree (descriptorbudget); one more is answered 503 and closed;
 * - when accept() fails for want of a descriptor (EMFILE), the waiting connection is accepted
 *   through a spare descriptor and closed, and the listener goes on (QTcpServer alone pauses for
 *   good);
 * - a request announcing (Content-Length) or sending more than maxBodyBytes, headers over
 *   maxHeaderBytes, or more than maxRequestBytes in all, is answered 413 and the connection
 *   closed, before it is buffered;
 * - the request bytes held over every connection (read, not yet answered) stay under
 *   maxBytesInFlight: a request that would go past is answered 503 and closed, and what a
 *   connection held is given back (to the system too) when it closes;
 * - a connection idle for idleTimeoutMs, taking more than requestTimeoutMs to deliver one request
 *   (a client trickling a byte a second), or still without a response responseDeadlineMs after it
 *   opened or after its previous response, is closed.
 * Each refusal is counted (stats()) and said once per kind and episode (limitHit()): 192 stalled
 * clients are one line. Lives on one thread with the server it is bound to; the counters are
 * atomic, readable from any thread.
 */
class LimitedTcpServer : public QTcpServer
{
    Q_OBJECT
public:
    /// The defaults are OTLP's; /metrics sets its own (MetricsEndpoint).
    struct Limits
    {
        int maxConnections = descriptorbudget::otlpConnections(); ///< 256, or less of a small ulimit -n
        /// Places of the process's HTTP budget left to the other endpoints: OTLP leaves /metrics its
        /// share, so that a scraper gets its answer while exporters hold all that OTLP may.
        int budgetKeptFree = descriptorbudget::reservedForMetrics();
        qint64 maxBodyBytes = 16 << 20;
        qint64 maxHeaderBytes = 64 << 10;
        /// Headers and body of one request together; 0: only the two limits above.
        qint64 maxRequestBytes = 0;
        /// Request bytes read and not yet answered, over every connection: past it, 503.
        qint64 maxBytesInFlight = 64 << 20;
        int idleTimeoutMs = 30'000;
        int requestTimeoutMs = 60'000;
        /// From the connection (or the previous response) to the next response, whatever the
        /// client sends meanwhile; 0: none.
        int responseDeadlineMs = 0;
        /// Closes the connection once a response is out (Qt HTTP Server 6.4 keeps every connection
        /// alive): a scraper that connects per scrape then holds no descriptor between scrapes.
        bool closeAfterResponse = false;
        /// The Retry-After, in seconds, of the 503 a connection over the cap is answered; 0: none.
        int retryAfterS = 0;
    };
    struct Stats
    {
        int open = 0;
        quint64 accepted = 0;
        quint64 refusedLimit = 0; ///< over maxConnections or the shared HTTP budget (503)
        quint64 refusedDescriptors = 0; ///< accept failed for want of a file descriptor
        quint64 refusedMemory = 0; ///< answered 503: requests in flight held maxBytesInFlight
        quint64 oversized = 0; ///< answered 413
        quint64 timedOut = 0; ///< too slow, stalled, past the response deadline, or idle
        quint64 closedIdle = 0; ///< of timedOut: idle between requests (keep-alive), not a refusal
        qint64 bytesInFlight = 0; ///< request bytes held now, over every connection
    };

    /// @p name begins each sentence of limitHit() ("OTLP", "/metrics"); @p countedIn ends it,
    /// saying where the refusals are counted.
    LimitedTcpServer(const Limits& limits, const QString& name, const QString& countedIn, QObject* parent = nullptr);
    ~LimitedTcpServer() override;
    const Limits& limits() const noexcept { return m_limits; }
    Stats stats() const;

Q_SIGNALS:
    /// A connection was refused or closed for a limit: a sentence for the log and the window.
    void limitHit(const QString& message);

protected:
    void incomingConnection(qintptr handle) override;

private:
    class Guard;
    enum Said : unsigned { TooLarge = 1, Slow = 2, Memory = 4 };
    /// Emits limitHit once per kind until a request is answered again.
    void say(Said kind, const QString& what);
    /// Counts a refused connection; says so once per episode (until a connection is accepted again).
    void refuse(std::atomic<quint64>& counter, const QString& why);
    void onAcceptError(QAbstractSocket::SocketError error);

    Limits m_limits;
    QString m_name;
    QString m_countedIn;
    std::unique_ptr<SpareDescriptor> m_spare; // opened up front: at EMFILE there is none to open
    bool m_refusing = false;
    std::atomic<int> m_open { 0 };
    std::atomic<quint64> m_accepted { 0 };
    std::atomic<quint64> m_refusedLimit { 0 };
    std::atomic<quint64> m_refusedDescriptors { 0 };
    std::atomic<quint64> m_refusedMemory { 0 };
    std::atomic<quint64> m_oversized { 0 };
    std::atomic<quint64> m_timedOut { 0 };
    std::atomic<quint64> m_closedIdle { 0 };
    std::atomic<qint64> m_inFlight { 0 };
    unsigned m_said = 0; // the kinds of refusal said in this episode; the server's thread only
};

} // namespace perfdash
