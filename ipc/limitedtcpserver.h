// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QTcpServer>

#include <atomic>

namespace perfdash {

/**
 * The QTcpServer a QAbstractHttpServer is bound to (bind()), keeping an HTTP endpoint's limits
 * before Qt HTTP Server sees a byte, since Qt 6.4's has none of its own:
 * - at most maxConnections open at once; one more is answered 503 and closed;
 * - a request announcing (Content-Length) or sending more than maxBodyBytes, or headers over
 *   maxHeaderBytes, is answered 413 and the connection closed, before it is buffered;
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
        int maxConnections = 256;
        int idleTimeoutMs = 30'000;
        int requestTimeoutMs = 60'000;
    };
    struct Stats
    {
        quint64 accepted = 0;
        quint64 refused = 0; ///< over maxConnections
        quint64 tooLarge = 0;
        quint64 timedOut = 0; ///< idle or too slow
        int open = 0;
    };

    explicit LimitedTcpServer(const Limits& limits, QObject* parent = nullptr);
    Limits limits() const { return m_limits; }
    Stats stats() const;

Q_SIGNALS:
    /// A connection was refused or closed for a limit: a sentence for the log.
    void limitHit(const QString& message);

protected:
    void incomingConnection(qintptr handle) override;

private:
    class Guard;
    Limits m_limits;
    std::atomic<quint64> m_accepted { 0 };
    std::atomic<quint64> m_refused { 0 };
    std::atomic<quint64> m_tooLarge { 0 };
    std::atomic<quint64> m_timedOut { 0 };
    std::atomic<int> m_open { 0 };
};

} // namespace perfdash
