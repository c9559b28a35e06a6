// SPDX-License-Identifier: GPL-3.0-or-later
#include "http/limitedtcpserver.h"

#include <QElapsedTimer>
#include <QTcpSocket>
#include <QTimer>

#include <utility>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace perfdash {

namespace {

QByteArray plainResponse(int status, QByteArrayView reason, QByteArrayView text)
{
    return "HTTP/1.1 " + QByteArray::number(status) + ' ' + reason
        + "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: "
        + QByteArray::number(text.size() + 1) + "\r\n\r\n" + text + '\n';
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
        connect(&m_idle, &QTimer::timeout, this,
            [this] { timeOut(m_pending > 0 ? QStringLiteral("stalled") : QStringLiteral("idle")); });
        m_idle.start();
        // Connected before Qt HTTP Server connects its own: this runs first on each read.
        connect(socket, &QTcpSocket::readyRead, this, &Guard::onReadyRead);
        connect(socket, &QTcpSocket::bytesWritten, this, [this] {
            if (!m_closing && m_pending > 0)
                m_server->m_said = 0; // a request answered: the next refusal of each kind is said again
            m_pending = 0; // a response went out: the next bytes are a new request
            m_headerBytes = -1;
            m_tail.clear();
            if (!m_closing)
                release();
            m_idle.start();
        });
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
            return timeOut(QStringLiteral("slow"));
        if (m_headerBytes < 0) {
            const QByteArray head = m_socket->peek(std::min<qint64>(available, limits.maxHeaderBytes));
            const qint64 length = contentLength(head);
            if (length > limits.maxBodyBytes)
                return refuse(length);
            // The blank line may straddle two reads: the last bytes of the previous one come first.
            const QByteArray seen = m_tail + head;
            const qsizetype end = seen.indexOf("\r\n\r\n");
            if (end >= 0)
                m_headerBytes = m_pending - m_tail.size() + end + 4; // the byte count below bounds the body
            else if (m_pending + available >= limits.maxHeaderBytes)
                return refuse(m_pending + available);
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
            return refuse(m_pending - m_headerBytes);
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
            tr("OTLP: requests in flight hold %1 bytes, the limit: further ones are answered 503 until they are done "
               "(counted in the receiver's refusals)")
                .arg(m_server->m_limits.maxBytesInFlight));
        close(plainResponse(503, "Service Unavailable", "too many requests in flight; retry later"));
    }

    void refuse(qint64 bytes)
    {
        m_server->m_tooLarge.fetch_add(1, std::memory_order_relaxed);
        m_server->say(Said::TooLarge,
            tr("OTLP: HTTP request of %1 bytes refused (at most %2; counted in the receiver's refusals)")
                .arg(bytes)
                .arg(m_server->m_limits.maxBodyBytes));
        close(plainResponse(413, "Payload Too Large",
            QByteArray(
                QByteArray("request body over ") + QByteArray::number(m_server->m_limits.maxBodyBytes) + " bytes")));
    }

    void timeOut(const QString& why)
    {
        m_server->m_timedOut.fetch_add(1, std::memory_order_relaxed);
        if (why == u"idle") { // between requests: closing an idle keep-alive connection refuses nothing
            m_server->m_closedIdle.fetch_add(1, std::memory_order_relaxed);
            m_socket->abort();
            return;
        }
        m_server->say(Said::Slow,
            tr("OTLP: a request came too slowly or stalled: connection closed (counted in the receiver's refusals)"));
        if (why == u"slow")
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
    QElapsedTimer m_requestTimer;
    qint64 m_pending = 0;
    QByteArray m_tail; // the last bytes of the headers read so far
    qint64 m_headerBytes = -1; // where this request's body starts; -1 until its headers are in
    qint64 m_held = 0; // of the server's bytes in flight: this request's
    qint64 m_largest = 0;
    bool m_closing = false;
};

void LimitedTcpServer::say(Said kind, const QString& message)
{
    if (m_said & kind)
        return;
    m_said |= kind;
    Q_EMIT limitHit(message);
}

LimitedTcpServer::LimitedTcpServer(const Limits& limits, QObject* parent)
    : QTcpServer(parent)
    , m_limits(limits)
    , m_spare(std::make_unique<SpareDescriptor>())
{
    connect(this, &QTcpServer::acceptError, this, &LimitedTcpServer::onAcceptError);
}

LimitedTcpServer::~LimitedTcpServer() = default;

LimitedTcpServer::Stats LimitedTcpServer::stats() const
{
    Stats s { m_accepted.load(), m_refused.load(), m_refusedDescriptors.load(), m_tooLarge.load(), m_timedOut.load(),
        m_open.load() };
    s.refusedMemory = m_refusedMemory.load();
    s.closedIdle = m_closedIdle.load();
    s.bytesInFlight = m_inFlight.load();
    return s;
}

void LimitedTcpServer::refuse(std::atomic<quint64>& counter, const QString& why)
{
    counter.fetch_add(1, std::memory_order_relaxed);
    if (std::exchange(m_refusing, true))
        return;
    Q_EMIT limitHit(tr("OTLP: refusing connections: %1 (counted in the receiver's refused connections)").arg(why));
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
        return;
    }
    const bool overOwn = m_open.load() >= m_limits.maxConnections;
    if (overOwn || !descriptorbudget::acquireHttpConnection(descriptorbudget::reservedForMetrics())) {
        refuse(m_refused,
            overOwn ? tr("%1 open already, the limit").arg(m_limits.maxConnections)
                    : tr("the HTTP endpoints hold %1 connections, their share of the descriptors less /metrics' %2")
                          .arg(descriptorbudget::httpConnectionBudget())
                          .arg(descriptorbudget::reservedForMetrics()));
        connect(socket, &QTcpSocket::readyRead, socket, [socket] { socket->readAll(); }); // no reset over the answer
        socket->write(plainResponse(503, "Service Unavailable", "too many connections"));
        socket->disconnectFromHost();
        connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
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
