// SPDX-License-Identifier: GPL-3.0-or-later
#include "http/limitedtcpserver.h"

#include <QElapsedTimer>
#include <QTcpSocket>
#include <QTimer>

#include <utility>

#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace perfdash {

namespace {

/// A response that ends the connection; @p headers, each line with its CRLF, go with it.
QByteArray plainResponse(int status, QByteArrayView reason, QByteArrayView text, QByteArrayView headers = {})
{
    return "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason
        + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "
        + QByteArray::number(text.size() + 1) + "\r\n" + headers + "\r\n" + text + '\n';
}

/// The Content-Length of the request whose start @p head holds; -1 when not (yet) known.
qint64 contentLength(QByteArrayView head)
{
    const qsizetype end = head.indexOf("\r\n\r\n");
    const QByteArrayView headers = end < 0 ? head : head.first(end);
    for (qsizetype pos = headers.indexOf("\r\n"); pos >= 0;) {
        const qsizetype next = headers.indexOf("\r\n", pos + 2);
        const QByteArrayView line = headers.sliced(pos + 2, (next < 0 ? headers.size() : next) - pos - 2);
        const qsizetype colon = line.indexOf(':');
        if (colon > 0 && line.first(colon).trimmed().compare("content-length", Qt::CaseInsensitive) == 0) {
            bool ok = false;
            const qint64 n = line.sliced(colon + 1).trimmed().toLongLong(&ok);
            return ok && n >= 0 ? n : -1;
        }
        if (next < 0)
            break;
        pos = next;
    }
    return -1;
}

// Chunked bodies carry sizes and line ends besides the data.
constexpr qint64 ChunkFraming = 4096;

} // namespace

/// One connection's limits: a child of its socket, so it goes with it.
class LimitedTcpServer::Guard : public QObject
{
public:
    Guard(LimitedTcpServer* server, QTcpSocket* socket)
        : QObject(socket)
        , m_server(server)
        , m_socket(socket)
    {
        m_idle.setSingleShot(true);
        m_idle.setInterval(server->m_limits.idleTimeoutMs);
        connect(&m_idle, &QTimer::timeout, this, [this] { timeOut(m_pending > 0 ? Late::Stalled : Late::Idle); });
        m_idle.start();
        m_deadline.setSingleShot(true);
        m_deadline.setInterval(server->m_limits.responseDeadlineMs);
        connect(&m_deadline, &QTimer::timeout, this, [this] { timeOut(Late::Stalled); });
        if (server->m_limits.responseDeadlineMs > 0)
            m_deadline.start();
        // Connected before Qt HTTP Server connects its own: this runs first on each read.
        connect(socket, &QTcpSocket::readyRead, this, &Guard::onReadyRead);
        connect(socket, &QTcpSocket::bytesWritten, this, &Guard::onBytesWritten);
    }
    ~Guard() override
    {
        const bool large = m_largest > (1 << 20);
        release();
        if (large) {
            // The request's buffers go with the socket, after this; then the heap can shrink. glibc
            // keeps freed memory of a thread's arena otherwise, and 60 unfinished 15 MiB bodies
            // stayed as 1.9 GB of resident memory after they closed.
            QTimer::singleShot(0, m_server, [] {
#if defined(__GLIBC__)
                ::malloc_trim(0);
#endif
            });
        }
    }

private:
    void onReadyRead()
    {
        m_idle.start();
        if (m_closing) {
            m_socket->readAll(); // refused: nothing more reaches the HTTP server
            return;
        }
        const LimitedTcpServer::Limits& limits = m_server->m_limits;
        const qint64 available = m_socket->bytesAvailable();
        if (m_pending == 0)
            m_requestTimer.start();
        else if (m_requestTimer.hasExpired(limits.requestTimeoutMs))
            return timeOut(Late::Slow);
        if (limits.maxRequestBytes > 0 && m_pending + available > limits.maxRequestBytes)
            return refuse(m_pending + available, limits.maxRequestBytes, "request too large");
        if (m_headerBytes < 0) {
            const QByteArray head = m_socket->peek(std::min<qint64>(available, limits.maxHeaderBytes));
            const qint64 length = contentLength(head);
            if (length > limits.maxBodyBytes)
                return refuseBody(length);
            // The blank line may straddle two reads: the last bytes of the previous one come first.
            const QByteArray seen = m_tail + head;
            const qsizetype end = seen.indexOf("\r\n\r\n");
            if (end >= 0)
                m_headerBytes = m_pending - m_tail.size() + end + 4; // the byte count below bounds the body
            else if (m_pending + available >= limits.maxHeaderBytes)
                return refuseBody(m_pending + available);
            m_tail = seen.right(3);
        }
        // What every connection holds together is bounded, not only each request: the bytes read
        // are buffered by Qt HTTP Server until the request is whole.
        const qint64 before = m_server->m_inFlight.fetch_add(available);
        if (before + available > limits.maxBytesInFlight) {
            m_server->m_inFlight.fetch_sub(available);
            return refuseMemory();
        }
        m_held += available;
        m_largest = std::max(m_largest, m_held);
        m_pending += available;
        if (m_headerBytes >= 0 && m_pending - m_headerBytes > limits.maxBodyBytes + ChunkFraming)
            return refuseBody(m_pending - m_headerBytes);
    }

    void onBytesWritten()
    {
        if (!m_closing && m_pending > 0)
            m_server->m_said = 0; // a request answered: the next refusal of each kind is said again
        m_pending = 0; // a response went out: the next bytes are a new request
        m_headerBytes = -1;
        m_tail.clear();
        if (!m_closing)
            release();
        m_idle.start();
        if (m_closing || m_socket->bytesToWrite() > 0)
            return; // the response is out once nothing of it is left to write
        if (m_server->m_limits.closeAfterResponse) {
            m_closing = true;
            m_socket->disconnectFromHost();
        } else if (m_server->m_limits.responseDeadlineMs > 0) {
            m_deadline.start(); // the next response is due from now
        }
    }

    /// Gives back what this connection's request held of the total in flight.
    void release()
    {
        m_server->m_inFlight.fetch_sub(std::exchange(m_held, 0));
    }

    void refuseMemory()
    {
        m_server->m_refusedMemory.fetch_add(1, std::memory_order_relaxed);
        m_server->say(Said::Memory,
            tr("requests in flight hold %1 bytes, the limit: further ones are answered 503 until they are done")
                .arg(m_server->m_limits.maxBytesInFlight));
        close(plainResponse(503, "Service Unavailable", "too many requests in flight; retry later"));
    }

    /// Over maxBodyBytes, or headers over maxHeaderBytes.
    void refuseBody(qint64 bytes)
    {
        const qint64 limit = m_server->m_limits.maxBodyBytes;
        refuse(bytes, limit, QByteArray(QByteArray("request body over ") + QByteArray::number(limit) + " bytes"));
    }

    /// Answers 413 with @p text: @p bytes are over @p limit.
    void refuse(qint64 bytes, qint64 limit, QByteArrayView text)
    {
        m_server->m_oversized.fetch_add(1, std::memory_order_relaxed);
        m_server->say(Said::TooLarge, tr("HTTP request of %1 bytes refused: at most %2").arg(bytes).arg(limit));
        close(plainResponse(413, "Payload Too Large", text));
    }

    /// Idle: nothing asked since the last response. Stalled: a request (or the response to one)
    /// still incomplete when a timer ran out. Slow: a request that took longer than its time.
    enum class Late { Idle, Stalled, Slow };
    void timeOut(Late late)
    {
        m_server->m_timedOut.fetch_add(1, std::memory_order_relaxed);
        if (late == Late::Idle) { // between requests: closing an idle keep-alive connection refuses nothing
            m_server->m_closedIdle.fetch_add(1, std::memory_order_relaxed);
            m_socket->abort();
            return;
        }
        m_server->say(Said::Slow, tr("a request came too slowly or stalled: connection closed"));
        if (late == Late::Slow)
            close(plainResponse(408, "Request Timeout", "request took too long"));
        else
            m_socket->abort();
    }

    void close(const QByteArray& response)
    {
        m_closing = true; // what it held is given back when the socket goes (Qt HTTP Server holds it till then)
        m_socket->readAll();
        m_socket->write(response);
        m_socket->disconnectFromHost();
        m_idle.start(); // a peer that never reads the answer is dropped
    }

    LimitedTcpServer* m_server;
    QTcpSocket* m_socket;
    QTimer m_idle;
    QTimer m_deadline; // responseDeadlineMs
    QElapsedTimer m_requestTimer;
    qint64 m_pending = 0;
    QByteArray m_tail; // the last bytes of the headers read so far
    qint64 m_headerBytes = -1; // where this request's body starts; -1 until its headers are in
    qint64 m_held = 0; // of the server's bytes in flight: this request's
    qint64 m_largest = 0;
    bool m_closing = false;
};

void LimitedTcpServer::say(Said kind, const QString& what)
{
    if (m_said & kind)
        return;
    m_said |= kind;
    Q_EMIT limitHit(tr("%1: %2 (counted in %3)").arg(m_name, what, m_countedIn));
}

LimitedTcpServer::LimitedTcpServer(const Limits& limits, const QString& name, const QString& countedIn, QObject* parent)
    : QTcpServer(parent)
    , m_limits(limits)
    , m_name(name)
    , m_countedIn(countedIn)
    , m_spare(std::make_unique<SpareDescriptor>())
{
    connect(this, &QTcpServer::acceptError, this, &LimitedTcpServer::onAcceptError);
}

LimitedTcpServer::~LimitedTcpServer() = default;

LimitedTcpServer::Stats LimitedTcpServer::stats() const
{
    return Stats { m_open.load(), m_accepted.load(), m_refusedLimit.load(), m_refusedDescriptors.load(),
        m_refusedMemory.load(), m_oversized.load(), m_timedOut.load(), m_closedIdle.load(), m_inFlight.load() };
}

void LimitedTcpServer::refuse(std::atomic<quint64>& counter, const QString& why)
{
    counter.fetch_add(1, std::memory_order_relaxed);
    if (std::exchange(m_refusing, true))
        return;
    Q_EMIT limitHit(tr("%1: refusing connections: %2 (counted in %3)").arg(m_name, why, m_countedIn));
}

void LimitedTcpServer::onAcceptError(QAbstractSocket::SocketError error)
{
    if (m_spare->recover(this, error))
        refuse(m_refusedDescriptors, tr("no file descriptor left"));
}

void LimitedTcpServer::incomingConnection(qintptr handle)
{
    auto* socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(handle)) {
        delete socket;
        ::close(int(handle)); // the socket did not take it
        return;
    }
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    const bool overOwn = m_open.load() >= m_limits.maxConnections;
    if (overOwn || !descriptorbudget::acquireHttpConnection(m_limits.budgetKeptFree)) {
        QString why = tr("%1 connections open, the limit").arg(m_limits.maxConnections);
        if (!overOwn) { // the other HTTP endpoints hold the rest of the budget
            why = tr("the HTTP endpoints hold %1 connections, their share of the descriptors")
                      .arg(descriptorbudget::httpConnectionBudget());
            if (m_limits.budgetKeptFree > 0)
                why += tr(" less the %1 kept for the others").arg(m_limits.budgetKeptFree);
        }
        refuse(m_refusedLimit, why);
        // A client told 503 retries; one whose connection is reset cannot tell a full dashboard
        // from a dead one. Its request is read and dropped, so that closing does not reset the
        // answer away.
        connect(socket, &QTcpSocket::readyRead, socket, [socket] { socket->readAll(); });
        const QByteArray retryAfter = m_limits.retryAfterS > 0
            ? "Retry-After: " + QByteArray::number(m_limits.retryAfterS) + "\r\n"
            : QByteArray();
        socket->write(plainResponse(503, "Service Unavailable", "too many connections", retryAfter));
        socket->disconnectFromHost();
        QTimer::singleShot(1000, socket, &QObject::deleteLater);
        return;
    }
    new HttpConnectionPlace(socket);
    m_refusing = false;
    m_accepted.fetch_add(1, std::memory_order_relaxed);
    m_open.fetch_add(1);
    connect(socket, &QObject::destroyed, this, [this] { m_open.fetch_sub(1); });
    new Guard(this, socket);
    addPendingConnection(socket);
}

} // namespace perfdash
