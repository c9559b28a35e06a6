// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/descriptorbudget.h"

#include <QTimer>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

namespace perfdash {

namespace descriptorbudget {
int descriptorLimit()
{
    rlimit limit {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY)
        return 1024;
    return int(std::min<rlim_t>(limit.rlim_cur, 1 << 20));
}

int reserve()
{
    // Measured: a headless run with --prometheus, --record and two exports holds about 30.
    return std::clamp(descriptorLimit() / 4, 32, 256);
}

int socketConnections()
{
    const int usable = std::max(8, descriptorLimit() - reserve());
    return std::max(4, usable * 3 / 4);
}

int httpConnections()
{
    const int usable = std::max(8, descriptorLimit() - reserve());
    return std::max(2, usable - usable * 3 / 4);
}

namespace {
std::atomic<int> g_httpOpen { 0 };
std::atomic<int> g_httpBudget { 0 }; // 0: httpConnections()
} // namespace

bool acquireHttpConnection(int keepFree)
{
    const int budget = httpConnectionBudget() - std::max(0, keepFree);
    int open = g_httpOpen.load();
    do {
        if (open >= budget)
            return false;
    } while (!g_httpOpen.compare_exchange_weak(open, open + 1));
    return true;
}

void releaseHttpConnection()
{
    g_httpOpen.fetch_sub(1);
}

int reservedForMetrics()
{
    return std::max(1, httpConnectionBudget() / 4);
}

int otlpConnections()
{
    return std::clamp(httpConnectionBudget() - reservedForMetrics(), 1, 256);
}

int httpConnectionsOpen()
{
    return g_httpOpen.load();
}

int httpConnectionBudget()
{
    const int set = g_httpBudget.load();
    return set > 0 ? set : httpConnections();
}

void setHttpConnectionBudget(int connections)
{
    g_httpBudget = std::max(0, connections);
}
} // namespace descriptorbudget

SpareDescriptor::SpareDescriptor()
    : m_fd(::open("/dev/null", O_RDONLY | O_CLOEXEC))
{
}

SpareDescriptor::~SpareDescriptor()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

bool SpareDescriptor::acceptAndDrop(int listenFd)
{
    if (m_fd < 0)
        m_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (m_fd < 0)
        return false;
    ::close(m_fd);
    m_fd = -1;
    const int fd = ::accept4(listenFd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0)
        ::close(fd);
    m_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    return fd >= 0;
}

bool SpareDescriptor::recover(QTcpServer* server, QAbstractSocket::SocketError error)
{
    if (error != QAbstractSocket::SocketResourceError)
        return false;
    const bool dropped = acceptAndDrop(int(server->socketDescriptor()));
    QTimer::singleShot(50, server, [server] { server->resumeAccepting(); });
    return dropped;
}

} // namespace perfdash
