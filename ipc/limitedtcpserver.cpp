// SPDX-License-Identifier: GPL-3.0-or-later
#include "limitedtcpserver.h"

#include <QElapsedTimer>
#include <QTcpSocket>
#include <QTimer>

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
        connect(&m_idle, &QTimer::timeout, this, [this] { timeOut(QStringLiteral("idle")); });
        m_idle.start();
        // Connected before Qt HTTP Server connects its own: this runs first on each read.
        connect(socket, &QTcpSocket::readyRead, this, &Guard::onReadyRead);
        connect(socket, &QTcpSocket::bytesWritten, this, [this] {
            m_pending = 0; // a response went out: the next bytes are a new request
            m_headerBytes = -1;
            m_tail.clear();
            m_idle.start();
        });
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
        m_pending += available;
        if (m_headerBytes >= 0 && m_pending - m_headerBytes > limits.maxBodyBytes + ChunkFraming)
            return refuse(m_pending - m_headerBytes);
    }

    void refuse(qint64 bytes)
    {
        m_server->m_tooLarge.fetch_add(1, std::memory_order_relaxed);
        Q_EMIT m_server->limitHit(
            tr("HTTP request of %1 bytes refused (at most %2)").arg(bytes).arg(m_server->m_limits.maxBodyBytes));
        close(plainResponse(413, "Payload Too Large",
            QByteArray(QByteArray("request body over ") + QByteArray::number(m_server->m_limits.maxBodyBytes) + " bytes")));
    }

    void timeOut(const QString& why)
    {
        m_server->m_timedOut.fetch_add(1, std::memory_order_relaxed);
        Q_EMIT m_server->limitHit(why == u"slow" ? tr("HTTP client too slow: connection closed")
                                                 : tr("HTTP connection idle: closed"));
        if (why == u"slow")
            close(plainResponse(408, "Request Timeout", "request took too long"));
        else
            m_socket->abort();
    }

    void close(const QByteArray& response)
    {
        m_closing = true;
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
    bool m_closing = false;
};

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
    return Stats { m_accepted.load(), m_refused.load(), m_refusedDescriptors.load(), m_tooLarge.load(), m_timedOut.load(),
        m_open.load() };
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
    if (overOwn || !descriptorbudget::acquireHttpConnection()) {
        refuse(m_refused,
            overOwn ? tr("%1 open already, the limit").arg(m_limits.maxConnections)
                    : tr("the HTTP endpoints hold %1 connections, their share of the descriptors")
                          .arg(descriptorbudget::httpConnectionBudget()));
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
