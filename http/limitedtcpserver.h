// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "ipc/descriptorbudget.h"

#include <QTcpServer>

#include <atomic>
#include <memory>

namespace perfdash {

/**
 * The QTcpServer a QAbstractHttpServer is bound to (bind()), keeping an HTTP endpoint's limits
 * before Qt HTTP Server sees a byte, since Qt 6.4's has none of its own:
 * - at most maxConnections open at once (256), and no more than the process-wide HTTP budget that
 *   it shares with /metrics, less the places kept for /metrics (descriptorbudget); one more is answered 503 and
 *   closed, counted, and said once per episode of refusals;
 * - when accept() fails for want of a descriptor (EMFILE), the waiting connection is accepted
 *   through a spare descriptor and closed, counted, and the listener goes on (QTcpServer alone
 *   pauses for good);
 * - a request announcing (Content-Length) or sending more than maxBodyBytes, or headers over
 *   maxHeaderBytes, is answered 413 and the connection closed, before it is buffered;
 * - the request bytes held over every connection (read, not yet answered) stay under
 *   maxBytesInFlight: a request that would go past is answered 503 and closed, and what a
 *   connection held is given back (to the system too) when it closes;
 * - a connection idle for idleTimeoutMs, or taking more than requestTimeoutMs to deliver one
 *   request (a client trickling a byte a second), is closed.
 * Each refusal is counted. Self-contained so that any HTTP endpoint of perfdash can use it.
 * Lives on one thread with the server it is bound to.
 */
class LimitedTcpServer : public QTcpServer
{
    Q_OBJECT
public:
    struct Limits
    {
        qint64 maxBodyBytes = 16 << 20;
        qint64 maxHeaderBytes = 64 << 10;
        int maxConnections = descriptorbudget::otlpConnections(); ///< 256, or less of a small ulimit -n
        /// Request bytes read and not yet answered, over every connection: past it, 503.
        qint64 maxBytesInFlight = 64 << 20;
        int idleTimeoutMs = 30'000;
        int requestTimeoutMs = 60'000;
    };
    struct Stats
    {
        quint64 accepted = 0;
        quint64 refused = 0; ///< over maxConnections or the shared HTTP budget
        quint64 refusedDescriptors = 0; ///< accept failed for want of a file descriptor
        quint64 tooLarge = 0;
        quint64 timedOut = 0; ///< idle or too slow
        int open = 0;
        quint64 refusedMemory = 0; ///< answered 503: requests in flight held maxBytesInFlight
        quint64 closedIdle = 0; ///< of timedOut: idle between requests (keep-alive), not a refusal
        qint64 bytesInFlight = 0; ///< request bytes held now, over every connection
    };

    explicit LimitedTcpServer(const Limits& limits, QObject* parent = nullptr);
    ~LimitedTcpServer() override;
    Limits limits() const { return m_limits; }
    Stats stats() const;

Q_SIGNALS:
    /// A connection was refused or closed for a limit: a sentence for the log.
    void limitHit(const QString& message);

protected:
    void incomingConnection(qintptr handle) override;

private:
    class Guard;
    enum Said : unsigned { TooLarge = 1, Slow = 2, Memory = 4 };
    /// Emits limitHit once per kind until a request is answered again: 192 stalled clients are one line.
    void say(Said kind, const QString& message);
    /// Counts a refused connection; says so once per episode (until a connection is accepted again).
    void refuse(std::atomic<quint64>& counter, const QString& why);
    void onAcceptError(QAbstractSocket::SocketError error);

    Limits m_limits;
    std::unique_ptr<SpareDescriptor> m_spare; // opened up front: at EMFILE there is none to open
    bool m_refusing = false;
    std::atomic<quint64> m_accepted { 0 };
    std::atomic<quint64> m_refused { 0 };
    std::atomic<quint64> m_refusedDescriptors { 0 };
    std::atomic<quint64> m_tooLarge { 0 };
    std::atomic<quint64> m_timedOut { 0 };
    std::atomic<int> m_open { 0 };
    std::atomic<quint64> m_refusedMemory { 0 };
    std::atomic<quint64> m_closedIdle { 0 };
    std::atomic<qint64> m_inFlight { 0 };
    unsigned m_said = 0; // the kinds of refusal said in this episode; the server's thread only
};

} // namespace perfdash
