// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QTcpServer>

#include <atomic>
#include <memory>

namespace perfdash {

class SpareDescriptor;

/// What one HTTP listener tolerates. The defaults suit local scrapers and OTLP exporters.
struct HttpLimits
{
    /// Open connections at once; the excess is answered 503 and closed at once, counted as refused.
    int maxConnections = 64;
    /// From the connection (or the previous response) to the next response: a client that sends
    /// nothing, stops in the middle of its headers or trickles its body is closed after this.
    int requestTimeoutMs = 10'000;
    /// Bytes of one request (headers and body); a larger one is answered 413 and closed.
    qint64 maxRequestBytes = 64 * 1024;
    /// Closes the connection once a response is out (Qt HTTP Server 6.4 keeps every connection
    /// alive): a scraper that connects per scrape then holds no descriptor between scrapes.
    bool closeAfterResponse = false;
};

/**
 * The TCP listener to bind a QHttpServer to (QAbstractHttpServer::bind): Qt HTTP Server 6.4 has no
 * idle timeout, no request size limit and no connection cap, so this adds them below it. Each
 * accepted connection gets a deadline timer, a byte count checked before the HTTP server reads
 * (its readyRead slot is connected first) and a place under the cap; descriptors running out
 * (EMFILE) refuse the waiting connection through a spare descriptor instead of pausing the
 * listener for good, as QTcpServer does. Counters are atomic, readable from any thread.
 */
class HttpGuard : public QTcpServer
{
    Q_OBJECT
public:
    struct Stats
    {
        int open = 0;
        quint64 accepted = 0;
        quint64 refusedLimit = 0; ///< over maxConnections
        quint64 refusedDescriptors = 0; ///< the process had no descriptor left
        quint64 timedOut = 0;
        quint64 oversized = 0;
    };

    explicit HttpGuard(const HttpLimits& limits, const QString& name, QObject* parent = nullptr);
    ~HttpGuard() override;

    const HttpLimits& limits() const noexcept { return m_limits; }
    Stats stats() const;

Q_SIGNALS:
    /// A sentence for the log and the window, once per episode of refusals (not once per connection).
    void problem(const QString& message);

protected:
    void incomingConnection(qintptr descriptor) override;

private:
    void refuse(std::atomic<quint64>& counter, const QString& why);
    /// Answers 503 on @p descriptor and closes it.
    void answerUnavailable(qintptr descriptor);
    void onAcceptError(QAbstractSocket::SocketError error);

    HttpLimits m_limits;
    QString m_name;
    std::unique_ptr<SpareDescriptor> m_spare; // opened up front: at EMFILE there is none to open
    bool m_refusing = false; // inside an episode of refusals: said once already
    std::atomic<int> m_open { 0 };
    std::atomic<quint64> m_accepted { 0 };
    std::atomic<quint64> m_refusedLimit { 0 };
    std::atomic<quint64> m_refusedDescriptors { 0 };
    std::atomic<quint64> m_timedOut { 0 };
    std::atomic<quint64> m_oversized { 0 };
};

} // namespace perfdash
