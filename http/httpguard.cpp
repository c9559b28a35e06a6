// SPDX-License-Identifier: GPL-3.0-or-later
#include "http/httpguard.h"

#include "ipc/descriptorbudget.h"

#include <QPointer>
#include <QTcpSocket>
#include <QTimer>

#include <memory>
#include <unistd.h>

namespace perfdash {

HttpGuard::HttpGuard(const HttpLimits& limits, const QString& name, QObject* parent)
    : QTcpServer(parent)
    , m_limits(limits)
    , m_name(name)
    , m_spare(std::make_unique<SpareDescriptor>())
{
    connect(this, &QTcpServer::acceptError, this, &HttpGuard::onAcceptError);
}

HttpGuard::~HttpGuard() = default;

HttpGuard::Stats HttpGuard::stats() const
{
    return Stats { m_open.load(), m_accepted.load(), m_refusedLimit.load(), m_refusedDescriptors.load(),
        m_timedOut.load(), m_oversized.load() };
}

void HttpGuard::refuse(std::atomic<quint64>& counter, const QString& why)
{
    ++counter;
    if (std::exchange(m_refusing, true))
        return;
    Q_EMIT problem(QStringLiteral("%1: refusing connections: %2 (counted in perfdash_http_connections_refused_total)")
                       .arg(m_name, why));
}

void HttpGuard::answerUnavailable(qintptr descriptor)
{
    // A scraper told 503 retries; one whose connection is reset cannot tell a full dashboard from a
    // dead one. Its request is read and dropped, so that closing does not reset the answer away.
    auto* socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        ::close(int(descriptor));
        return;
    }
    connect(socket, &QTcpSocket::readyRead, socket, [socket] { socket->readAll(); });
    socket->write("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n"
                  "Connection: close\r\nRetry-After: 1\r\n\r\ntoo many connections\n");
    socket->disconnectFromHost();
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);
    QTimer::singleShot(1000, socket, &QObject::deleteLater);
}

void HttpGuard::onAcceptError(QAbstractSocket::SocketError error)
{
    if (m_spare->recover(this, error))
        refuse(m_refusedDescriptors, QStringLiteral("no file descriptor left"));
}

void HttpGuard::incomingConnection(qintptr descriptor)
{
    const bool overOwn = m_open.load() >= m_limits.maxConnections;
    if (overOwn || !descriptorbudget::acquireHttpConnection()) { // or the other HTTP endpoints hold the rest
        refuse(m_refusedLimit,
            overOwn ? QStringLiteral("%1 connections open, the limit").arg(m_limits.maxConnections)
                    : QStringLiteral("the HTTP endpoints hold %1 connections, their share of the descriptors")
                          .arg(descriptorbudget::httpConnectionBudget()));
        answerUnavailable(descriptor);
        return;
    }
    auto* socket = new QTcpSocket(this);
    if (!socket->setSocketDescriptor(descriptor)) {
        delete socket;
        ::close(int(descriptor));
        descriptorbudget::releaseHttpConnection();
        return;
    }
    new HttpConnectionPlace(socket);
    m_refusing = false;
    ++m_accepted;
    ++m_open;
    connect(socket, &QObject::destroyed, this, [this] { --m_open; });
    connect(socket, &QTcpSocket::disconnected, socket, &QObject::deleteLater);

    struct State
    {
        qint64 received = 0;
        bool closing = false;
    };
    auto state = std::make_shared<State>();
    auto* deadline = new QTimer(socket);
    deadline->setSingleShot(true);
    deadline->setInterval(m_limits.requestTimeoutMs);
    connect(deadline, &QTimer::timeout, socket, [this, socket] {
        ++m_timedOut;
        socket->abort();
        socket->deleteLater();
    });
    deadline->start();
    // Connected before QHttpServer's slot, so it runs first and sees the bytes it is about to read.
    connect(socket, &QTcpSocket::readyRead, socket, [this, socket, state] {
        if (state->closing) {
            socket->readAll();
            return;
        }
        state->received += socket->bytesAvailable();
        if (state->received <= m_limits.maxRequestBytes)
            return;
        state->closing = true;
        ++m_oversized;
        socket->readAll(); // nothing left for the HTTP server to parse
        socket->write("HTTP/1.1 413 Payload Too Large\r\nContent-Type: text/plain\r\nContent-Length: 18\r\n"
                      "Connection: close\r\n\r\nrequest too large\n");
        socket->disconnectFromHost();
    });
    connect(socket, &QTcpSocket::bytesWritten, socket, [this, socket, state, deadline] {
        if (state->closing || socket->bytesToWrite() > 0)
            return;
        if (m_limits.closeAfterResponse) {
            state->closing = true;
            socket->disconnectFromHost();
            return;
        }
        state->received = 0; // a response went out: the next request starts from nothing
        deadline->start();
    });
    addPendingConnection(socket);
}

} // namespace perfdash
