// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QObject>
#include <QTcpServer>

namespace perfdash {

/**
 * Connections cost file descriptors, and a process that runs out of them cannot accept, open an
 * export or read /proc. The connection caps of the ingest socket and the HTTP endpoints are shares
 * of RLIMIT_NOFILE, with a reserve kept for everything else, so that a flood of connections is
 * refused with a count instead of taking the descriptors the rest of the dashboard needs.
 */
namespace descriptorbudget {
/// The soft RLIMIT_NOFILE of this process (1024 when it cannot be read).
int descriptorLimit();
/// Descriptors kept for files, /proc, threads' event dispatchers, the capture database.
int reserve();
/// Connections the ingest socket may hold at once: three quarters of what the reserve leaves.
int socketConnections();
/// Connections every HTTP endpoint together may hold at once: the remaining quarter.
int httpConnections();

/// The HTTP budget is one for the whole process: /metrics and OTLP (each a LimitedTcpServer)
/// take a place for each connection they hold and give it back when it
/// closes, so that together they stay within httpConnectionBudget(). Thread-safe.
/// False when taking one would leave fewer than @p keepFree places (OTLP keeps /metrics' reserve free).
bool acquireHttpConnection(int keepFree = 0);
void releaseHttpConnection();
/// Places of the HTTP budget OTLP leaves to /metrics (a quarter, at least one): a scraper gets
/// its answer, OTLP's refusals in it, while exporters hold all that OTLP may.
int reservedForMetrics();
/// OTLP's own cap: at most 256 connections (docs/OTLP.md), fewer when the budget less
/// reservedForMetrics() is smaller (a low ulimit -n).
int otlpConnections();
/// Places taken now, by every HTTP listener.
int httpConnectionsOpen();
/// httpConnections(), unless set otherwise (tests; 0 goes back to it).
int httpConnectionBudget();
void setHttpConnectionBudget(int connections);
} // namespace descriptorbudget

/**
 * One place of the HTTP budget (descriptorbudget::acquireHttpConnection()), given back when the
 * connection's socket, its parent, is deleted: whenever and however that happens, the place is
 * released exactly once.
 */
class HttpConnectionPlace final : public QObject
{
public:
    explicit HttpConnectionPlace(QObject* socket)
        : QObject(socket)
    {
    }
    ~HttpConnectionPlace() override { descriptorbudget::releaseHttpConnection(); }
};

/**
 * One descriptor held open on /dev/null so that a listener that hits EMFILE can close it, accept
 * the waiting connection, close that at once (counted as refused) and take the spare back. Without
 * it, a level-triggered listener spins on a connection it can never accept, and QLocalServer
 * closes itself. (The trick nginx and libev use.)
 */
class SpareDescriptor final
{
public:
    SpareDescriptor();
    ~SpareDescriptor();
    SpareDescriptor(const SpareDescriptor&) = delete;
    SpareDescriptor& operator=(const SpareDescriptor&) = delete;

    /// Accepts one connection from @p listenFd and closes it; false when not even that was possible.
    bool acceptAndDrop(int listenFd);
    /// For a QTcpServer's acceptError: on a resource error (EMFILE) it paused itself and would stay
    /// paused; drops the waiting connection and resumes accepting shortly. True when one was dropped
    /// (the caller counts it as refused).
    bool recover(QTcpServer* server, QAbstractSocket::SocketError error);

private:
    int m_fd = -1;
};

} // namespace perfdash
