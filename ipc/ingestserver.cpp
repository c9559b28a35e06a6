// SPDX-License-Identifier: GPL-3.0-or-later
#include "ipc/ingestserver.h"

#include "core/metricsstore.h"
#include "core/processsampler.h"
#include "core/safepath.h"
#include "ipc/descriptorbudget.h"
#include "ipc/framedecoder.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QSocketNotifier>
#include <QTimer>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

namespace perfdash {

namespace {
constexpr qint64 ReadChunk = 256 * 1024;
// Backpressure: while this many batches wait for the store, sockets are not read. Their data
// stays in Qt's bounded read buffer and the kernel's, and senders slow down or count drops.
constexpr qsizetype MaxWaitingBatches = 512;
// How long a stop may spend reading what connected clients already sent.
constexpr qint64 MaxDrainMs = 2000;
/// How long connections may wait in the kernel's backlog while the cap is reached before the
/// waiting ones are refused: a client that churns outruns our reading of its hang-ups, and
/// those free places within milliseconds; idle connections hogging the cap do not.
constexpr qint64 CapGraceMs = 1000;
/// Connections accepted per wake-up of the listener before the thread goes back to its event
/// loop: a client connecting flat out otherwise kept it accepting, so that nothing was read and
/// every accepted connection stayed open (14,800 of them in 1.5 s, 4-9 KB each, until the cap).
constexpr int AcceptsPerTurn = 32;

/// The directory of a default socket path is ours alone: created 0700, refused if another user
/// owns it or it is a symbolic link (lstat; chmod through O_NOFOLLOW, so a link planted between
/// the check and the chmod is not followed either). An explicit path's directory is the user's
/// choice, but a symlink there that another user owns is refused too.
bool prepareDirectory(const QString& dir, bool isDefault, QString* error)
{
    const QByteArray native = QFile::encodeName(dir);
    struct stat st
    {
    };
    if (::lstat(native.constData(), &st) != 0) {
        if (!QDir().mkpath(dir)) {
            *error = QStringLiteral("cannot create the socket directory %1").arg(dir);
            return false;
        }
    } else if (S_ISLNK(st.st_mode)) {
        if (isDefault || st.st_uid != ::getuid()) {
            safepath::checkOwnDirectory(dir, error);
            return false;
        }
        return true; // the user's own link to a directory of their choice
    }
    if (!isDefault)
        return true;
    if (!safepath::checkOwnDirectory(dir, error))
        return false;
    const int fd = ::open(native.constData(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_uid != ::getuid()) {
        if (fd >= 0)
            ::close(fd);
        *error = QStringLiteral("cannot use the socket directory %1: %2")
                     .arg(dir, QString::fromLocal8Bit(std::strerror(errno)));
        return false;
    }
    if ((st.st_mode & 077) != 0)
        ::fchmod(fd, 0700);
    ::close(fd);
    return true;
}

/// A socket file is stale when nothing answers on it; then it may be removed.
bool clearStale(const QString& path, QString* error)
{
    struct stat st
    {
    };
    if (::lstat(QFile::encodeName(path).constData(), &st) != 0)
        return true; // nothing there
    if (!S_ISSOCK(st.st_mode)) {
        *error = QStringLiteral("%1 exists and is not a socket; refusing to replace it").arg(path);
        return false;
    }
    QLocalSocket probe;
    probe.connectToServer(path);
    if (probe.waitForConnected(1000)) {
        *error = QStringLiteral("another perfdash is already listening on %1").arg(path);
        return false;
    }
    QLocalServer::removeServer(path);
    return true;
}

struct PeerCredentials
{
    bool known = false;
    qint64 pid = 0;
    uid_t uid = 0;
};

PeerCredentials peerOf(int fd)
{
    PeerCredentials c;
    ucred cred {};
    socklen_t length = sizeof cred;
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0) {
        c.known = true;
        c.pid = cred.pid;
        c.uid = cred.uid;
    }
    return c;
}
} // namespace

/// Lives on the ingest thread: the server socket and every connection.
class IngestServer::Worker : public QObject
{
public:
    Worker(IngestServer* owner, int maxConnections)
        : m_owner(owner)
        , m_resume(new QTimer(this)) // a child, so that it moves to the ingest thread with the worker
        , m_maxConnections(maxConnections)
    {
        // The apply thread found no place for a client the hello check let in (a race at the limit).
        connect(owner, &IngestServer::processLimitReached, this, &Worker::rejectForProcessLimit);
        m_resume->setSingleShot(true);
        m_resume->setInterval(5);
        connect(m_resume, &QTimer::timeout, this, [this] {
            const QList<QLocalSocket*> sockets = m_connections.keys();
            for (QLocalSocket* socket : sockets)
                read(socket);
            if (m_notifier)
                m_notifier->setEnabled(true); // accept() looks at the store, the cap and descriptors again
        });
    }

    ~Worker() override { closeListener(); }

    /// Our own listening socket rather than QLocalServer's: QLocalServer closes itself (and removes
    /// the socket file) when accept() fails with EMFILE, and its backlog is 50.
    bool listen(const QString& path, QString* error)
    {
        const QByteArray native = QFile::encodeName(path);
        sockaddr_un address {};
        if (std::size_t(native.size()) >= sizeof address.sun_path) {
            *error = QStringLiteral("cannot listen on %1: the path is longer than %2 bytes")
                         .arg(path)
                         .arg(sizeof address.sun_path - 1);
            return false;
        }
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path, native.constData(), std::size_t(native.size()));
        m_listenFd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m_listenFd < 0 || ::bind(m_listenFd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0
            || ::chmod(native.constData(), 0600) != 0 || ::listen(m_listenFd, SOMAXCONN) != 0) {
            *error = QStringLiteral("cannot listen on %1: %2").arg(path, QString::fromLocal8Bit(std::strerror(errno)));
            closeListener();
            return false;
        }
        m_notifier = new QSocketNotifier(qintptr(m_listenFd), QSocketNotifier::Read, this);
        connect(m_notifier, &QSocketNotifier::activated, this, [this] { accept(AcceptsPerTurn); });
        m_pauseAccepting = new QTimer(this);
        m_pauseAccepting->setSingleShot(true);
        connect(m_pauseAccepting, &QTimer::timeout, this, [this] {
            if (m_notifier)
                m_notifier->setEnabled(true);
        });
        return true;
    }

    void close()
    {
        // What clients sent before the end is theirs to see counted: a command that flushed and
        // exited may not even be accepted yet. Accept what waits, then read what the kernel holds,
        // bounded so that a client sending flat out cannot hold the stop up.
        if (m_listenFd >= 0)
            accept(std::numeric_limits<int>::max(), true);
        QElapsedTimer draining;
        draining.start();
        const QList<QLocalSocket*> sockets = m_connections.keys();
        for (QLocalSocket* socket : sockets) {
            do {
                read(socket, true);
            } while (m_connections.contains(socket) && draining.elapsed() < MaxDrainMs && socket->waitForReadyRead(0));
            if (!m_connections.contains(socket))
                continue; // closed for bad input while draining
            // Everything was read: say so, so that the client does not count it as lost.
            if (const Connection* c = m_connections.value(socket); c->decoder.syncs() > 0) {
                socket->write(protocol::encodeReceived(c->bytesRead));
                socket->flush();
            }
            socket->disconnect(this);
            socket->abort();
            finish(socket, QStringLiteral("perfdash stopped"), false);
        }
        closeListener();
    }

    void setProfiled(qint64 pid, bool profiled, quint32 ringEntries)
    {
        if (profiled)
            m_profiled.insert(pid, ringEntries);
        else if (!m_profiled.remove(pid))
            return;
        for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it)
            if (it.value()->peerPid == pid && it.value()->welcomed
                && it.value()->decoder.mode() == protocol::FrameDecoder::Mode::Binary)
                it.key()->write(protocol::encodeProfile(profiled, ringEntries));
    }

    Stats stats() const
    {
        Stats s;
        s.connections = m_connectionCount.load();
        s.accepted = m_accepted.load();
        s.refused = m_refusedUid.load() + m_refusedLimit.load() + m_refusedDescriptors.load();
        s.refusedUid = m_refusedUid.load();
        s.refusedLimit = m_refusedLimit.load();
        s.refusedDescriptors = m_refusedDescriptors.load();
        s.rejectedProcessLimit = m_rejectedProcessLimit.load();
        s.rejectedVersion = m_rejectedVersion.load();
        s.closedProtocol = m_closedProtocol.load();
        s.maxConnections = m_maxConnections;
        s.bytes = m_bytes.load();
        s.messages = m_messages.load();
        return s;
    }

private:
    struct Connection
    {
        quint64 id = 0;
        qint64 peerPid = 0;
        protocol::FrameDecoder decoder;
        quint64 reportedMalformed = 0;
        bool welcomed = false;
        quint64 bytesRead = 0; // preface included: what RECEIVED tells the client
        quint64 answeredSyncs = 0;
    };

    void closeListener()
    {
        delete m_notifier;
        m_notifier = nullptr;
        if (m_listenFd >= 0)
            ::close(m_listenFd);
        m_listenFd = -1;
    }

    /// Counts a refusal, and says so once per episode: a flood must not become a flood of messages.
    /// Said through connectionProblem only, which the application prints (and the window shows):
    /// a qWarning() as well printed every refusal twice.
    void refuse(std::atomic<quint64>& counter, const QString& why)
    {
        ++counter;
        if (std::exchange(m_refusing, true))
            return;
        Q_EMIT m_owner->connectionProblem(QStringLiteral("refusing connections: %1").arg(why));
    }

    /// The store has no place for a binary client (MaxProcesses live processes): it is told so with
    /// REJECT, as a client of the wrong version is, instead of WELCOME, and counts what it sent as
    /// dropped; what it sent is counted here as refused (MetricsStore::Refusals::processLimit).
    void rejectForProcessLimit(quint64 connection)
    {
        for (auto it = m_connections.cbegin(); it != m_connections.cend(); ++it) {
            if (it.value()->id == connection) {
                reject(it.key(), processLimitReason());
                return;
            }
        }
    }

    static QString processLimitReason()
    {
        return QStringLiteral("the dashboard holds %1 live processes, its limit; nothing this process sends is counted")
            .arg(MetricsStore::MaxProcesses);
    }

    void reject(QLocalSocket* socket, const QString& reason)
    {
        Connection* c = m_connections.value(socket);
        if (!c || c->decoder.mode() != protocol::FrameDecoder::Mode::Binary)
            return; // NDJSON has no way back: its lines are counted as refused, one by one
        ++m_rejectedProcessLimit;
        read(socket, true); // what it sent before the verdict goes to the store, to be counted as refused
        if (!m_connections.contains(socket))
            return;
        socket->write(protocol::encodeReject(reason));
        socket->disconnect(this);
        socket->flush();
        socket->disconnectFromServer(); // closes once the reject is written
        finish(socket, reason, true);
    }

    /// Accepts up to @p most waiting connections (the listener is level-triggered: the rest wake it
    /// again); while @p stopping, all of them, however far behind the store is.
    void accept(int most, bool stopping = false)
    {
        for (int taken = 0; m_listenFd >= 0 && taken < most; ++taken) {
            if (!stopping && storeIsBehind()) {
                // Backpressure for connections too: a client that connects, sends and hangs up
                // flat out is read in full at its hang-up, so pausing reads alone never held it
                // back, and the batches waiting for the store grew without bound (0.8 KB a cycle).
                // Waiting connections stay in the kernel's backlog; the client's connect() waits.
                m_notifier->setEnabled(false);
                if (!m_resume->isActive())
                    m_resume->start();
                return;
            }
            if (m_connections.size() >= m_maxConnections) {
                if (!m_atCapSince.isValid())
                    m_atCapSince.start();
                if (!m_atCapSince.hasExpired(CapGraceMs)) {
                    m_notifier->setEnabled(false); // finish() or the timer lets them in
                    m_pauseAccepting->start(20);
                    return;
                }
            } else {
                m_atCapSince.invalidate();
            }
            const int fd = ::accept4(m_listenFd, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0) {
                if (errno == EINTR || errno == ECONNABORTED)
                    continue;
                if (errno == EMFILE || errno == ENFILE) {
                    if (m_spare.acceptAndDrop(m_listenFd)) {
                        refuse(m_refusedDescriptors,
                            QStringLiteral(
                                "the dashboard has no file descriptor left (ulimit -n %1); %2 connections are open")
                                .arg(descriptorbudget::descriptorLimit())
                                .arg(m_connections.size()));
                        continue;
                    }
                    // Not even the spare: stop listening for a moment rather than spin.
                    m_notifier->setEnabled(false);
                    m_pauseAccepting->start(100);
                }
                return; // EAGAIN: nothing more waits
            }
            if (m_connections.size() >= m_maxConnections) {
                ::close(fd);
                refuse(m_refusedLimit,
                    QStringLiteral(
                        "%1 connections are open, the limit under ulimit -n %2; the excess is closed and counted")
                        .arg(m_maxConnections)
                        .arg(descriptorbudget::descriptorLimit()));
                continue;
            }
            const PeerCredentials peer = peerOf(fd);
            if (!peer.known || peer.uid != ::getuid()) {
                ::close(fd);
                refuse(m_refusedUid,
                    peer.known ? QStringLiteral("a connection from uid %1 (pid %2): only uid %3 may connect")
                                     .arg(peer.uid)
                                     .arg(peer.pid)
                                     .arg(::getuid())
                               : QStringLiteral("a connection whose peer could not be identified"));
                continue;
            }
            auto* socket = new QLocalSocket(this);
            if (!socket->setSocketDescriptor(qintptr(fd))) {
                ::close(fd);
                delete socket;
                continue;
            }
            m_refusing = false; // the episode is over: a later refusal is said again
            ++m_accepted;
            ++m_connectionCount;
            auto* c = new Connection;
            c->id = ++m_nextId;
            c->peerPid = peer.pid;
            m_connections.insert(socket, c);
            socket->setReadBufferSize(1 << 20); // Qt stops reading from the kernel beyond this
            connect(socket, &QLocalSocket::readyRead, this, [this, socket] { read(socket); });
            connect(socket, &QLocalSocket::disconnected, this, [this, socket] {
                read(socket, true); // whatever arrived just before, backpressure or not
                finish(socket, {}, true);
            });
            read(socket);
        }
    }

    bool storeIsBehind() const { return m_owner->m_batcher->waiting() > MaxWaitingBatches; }

    void read(QLocalSocket* socket, bool last = false)
    {
        Connection* c = m_connections.value(socket);
        if (!c)
            return;
        if (!last && storeIsBehind()) {
            if (!m_resume->isActive())
                m_resume->start(); // the store is behind: look again in a moment
            return;
        }
        IngestBatch batch;
        batch.connection = c->id;
        batch.peerPid = c->peerPid;
        bool rejected = false;
        QByteArray chunk;
        while (socket->bytesAvailable() > 0 && !c->decoder.failed()) {
            chunk = socket->read(ReadChunk);
            m_bytes += quint64(chunk.size());
            c->bytesRead += quint64(chunk.size());
            const std::size_t before = batch.messages.size();
            c->decoder.feed(chunk, batch.messages);
            if (!c->welcomed && c->decoder.helloSeen()) {
                c->welcomed = true;
                if (c->decoder.mode() == protocol::FrameDecoder::Mode::Binary) {
                    if (m_owner->m_store->hasRoomFor(c->peerPid)) {
                        socket->write(protocol::encodeWelcome());
                        if (const auto p = m_profiled.constFind(c->peerPid); p != m_profiled.cend())
                            socket->write(protocol::encodeProfile(true, p.value()));
                    } else {
                        rejected = true; // told once what it sent so far is on its way to the store
                    }
                }
            }
            Q_UNUSED(before);
        }
        if (c->decoder.malformed() != c->reportedMalformed) {
            batch.newMalformed = c->decoder.malformed() - c->reportedMalformed;
            batch.lastProblem = c->decoder.lastProblem();
            c->reportedMalformed = c->decoder.malformed();
            qWarning("perfdash: connection %llu (pid %lld): %s", c->id, static_cast<long long>(c->peerPid),
                qUtf8Printable(batch.lastProblem));
        }
        m_messages += batch.messages.size();
        const bool failed = c->decoder.failed();
        if (!failed && !rejected)
            acknowledge(socket, c); // a rejected client is told nothing was read: it counts all it sent
        if (!batch.messages.empty() || batch.newMalformed)
            m_owner->m_batcher->add(std::move(batch));
        if (rejected && !failed)
            return reject(socket, processLimitReason());
        if (failed) {
            const QString reason = c->decoder.error();
            ++(c->decoder.rejectReason().isEmpty() ? m_closedProtocol : m_rejectedVersion);
            Q_EMIT m_owner->connectionProblem(QStringLiteral("pid %1: %2").arg(c->peerPid).arg(reason));
            if (!c->decoder.rejectReason().isEmpty() && c->decoder.mode() == protocol::FrameDecoder::Mode::Binary)
                socket->write(protocol::encodeReject(c->decoder.rejectReason()));
            socket->disconnect(this);
            socket->flush();
            socket->disconnectFromServer(); // closes once the reject is written
            finish(socket, reason, true);
        }
    }

    /// Answers the client's SYNC frames: what it wrote up to here was read, not lost in the kernel.
    void acknowledge(QLocalSocket* socket, Connection* c)
    {
        if (c->decoder.syncs() == c->answeredSyncs)
            return;
        c->answeredSyncs = c->decoder.syncs();
        // A client that asks and does not read its answers gets none: it asks again with its next SYNC.
        if (socket->bytesToWrite() < 4096)
            socket->write(protocol::encodeReceived(c->bytesRead));
    }

    void finish(QLocalSocket* socket, const QString& error, bool later)
    {
        Connection* c = m_connections.take(socket);
        if (!c)
            return;
        --m_connectionCount;
        if (m_atCapSince.isValid() && m_notifier && !m_notifier->isEnabled())
            m_notifier->setEnabled(true); // a place is free for one waiting in the backlog
        IngestBatch closing;
        closing.connection = c->id;
        closing.peerPid = c->peerPid;
        closing.closed = true;
        closing.error = error;
        m_owner->m_batcher->add(std::move(closing));
        delete c;
        if (!later)
            return;
        if (socket->state() == QLocalSocket::UnconnectedState)
            socket->deleteLater();
        else // still writing a reject: go when it is out
            connect(socket, &QLocalSocket::disconnected, socket, &QObject::deleteLater);
    }

    IngestServer* m_owner;
    QTimer* m_resume;
    QTimer* m_pauseAccepting = nullptr;
    QElapsedTimer m_atCapSince; // valid while the connection cap is reached
    int m_listenFd = -1;
    QSocketNotifier* m_notifier = nullptr;
    SpareDescriptor m_spare;
    const int m_maxConnections;
    bool m_refusing = false;
    QHash<QLocalSocket*, Connection*> m_connections;
    QHash<qint64, quint32> m_profiled; // pid -> ring entries asked for
    quint64 m_nextId = 0;
    std::atomic<int> m_connectionCount { 0 };
    std::atomic<quint64> m_accepted { 0 };
    std::atomic<quint64> m_refusedUid { 0 };
    std::atomic<quint64> m_refusedLimit { 0 };
    std::atomic<quint64> m_refusedDescriptors { 0 };
    std::atomic<quint64> m_rejectedProcessLimit { 0 };
    std::atomic<quint64> m_rejectedVersion { 0 };
    std::atomic<quint64> m_closedProtocol { 0 };
    std::atomic<quint64> m_bytes { 0 };
    std::atomic<quint64> m_messages { 0 };
};

IngestServer::IngestServer(MetricsStore* store, QObject* parent)
    : QObject(parent)
    , m_store(store)
    , m_applyContext(new QObject)
{
    m_thread.setObjectName(QStringLiteral("perfdash-ingest"));
    m_applyThread.setObjectName(QStringLiteral("perfdash-apply"));
    m_applyContext->moveToThread(&m_applyThread);
    m_applyThread.start();
    // Made on its thread, so that its timers (the batch delay) run there.
    onApplyThread([this] {
        m_batcher = new BatchProcessor<IngestBatch, bool>(
            [this](const QList<IngestBatch>& batches) {
                apply(batches);
                return QList<bool>(batches.size(), true);
            },
            BatchConfig { 256, 20, 0, 0 });
    });
}

IngestServer::~IngestServer()
{
    close();
    onApplyThread([this] {
        delete m_batcher;
        delete m_applyContext;
    });
    m_applyThread.quit();
    m_applyThread.wait();
}

void IngestServer::onApplyThread(const std::function<void()>& f)
{
    QMetaObject::invokeMethod(m_applyContext, f, Qt::BlockingQueuedConnection);
}

QString IngestServer::defaultSocketPath()
{
    const QString env = qEnvironmentVariable("PERFDASH_SOCKET");
    if (!env.isEmpty())
        return env;
    const QString runtime = qEnvironmentVariable("XDG_RUNTIME_DIR");
    if (!runtime.isEmpty())
        return runtime + QStringLiteral("/perfdash/perfdash.sock");
    return QStringLiteral("/tmp/perfdash-%1/perfdash.sock").arg(::getuid());
}

bool IngestServer::listen(const QString& path, QString* error)
{
    QString ignored;
    if (!error)
        error = &ignored;
    close();
    const QString dir = QFileInfo(path).absolutePath();
    const QString defaultDir = QFileInfo(defaultSocketPath()).absolutePath();
    const bool isDefault = dir == defaultDir && qEnvironmentVariableIsEmpty("PERFDASH_SOCKET");
    if (!prepareDirectory(dir, isDefault, error) || !clearStale(path, error))
        return false;

    m_worker = new Worker(this, m_maxConnections > 0 ? m_maxConnections : descriptorbudget::socketConnections());
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    m_thread.start();
    bool ok = false;
    QMetaObject::invokeMethod(
        m_worker, [&] { ok = m_worker->listen(path, error); }, Qt::BlockingQueuedConnection);
    if (!ok) {
        m_thread.quit();
        m_thread.wait();
        m_worker = nullptr;
        return false;
    }
    m_path = path;
    return true;
}

void IngestServer::close()
{
    if (!m_worker)
        return;
    QMetaObject::invokeMethod(
        m_worker, [this] { m_worker->close(); }, Qt::BlockingQueuedConnection);
    m_thread.quit();
    m_thread.wait();
    m_worker = nullptr;
    // The last batches, with the connections' ends. The ingest batcher never retries, so each
    // flush runs a batch; the bound only guards against a batch that adds more while it runs.
    onApplyThread([this] {
        for (int i = 0; i < 100'000 && m_batcher->metrics().currentBatchSize > 0; ++i)
            m_batcher->flush();
    });
    QLocalServer::removeServer(m_path);
    m_path.clear();
}

void IngestServer::setProfiled(qint64 pid, bool profiled, quint32 ringEntries)
{
    if (!m_worker)
        return;
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, pid, profiled, ringEntries] { worker->setProfiled(pid, profiled, ringEntries); });
}

IngestServer::Stats IngestServer::stats() const
{
    return m_worker ? m_worker->stats() : Stats {};
}

void IngestServer::apply(const QList<IngestBatch>& batches)
{
    for (const IngestBatch& batch : batches) {
        quint64 key = m_processKeys.value(batch.connection);
        if (!key && m_unplaced.contains(batch.connection)) {
            // The store was full of live processes when this connection came: its messages are
            // counted as refused, without asking /proc and the store again for every one.
            m_store->addRefusedForProcessLimit(batch.messages.size() + batch.newMalformed, false);
            if (batch.closed)
                m_unplaced.remove(batch.connection);
            continue;
        }
        const auto place = [&](qint64 pid, QString name, QStringList commandLine) {
            if (name.isEmpty() || commandLine.isEmpty()) {
                const ProcessSample s = ProcessSampler(pid).sample();
                if (name.isEmpty())
                    name = s.isValid() ? s.name : QStringLiteral("pid %1").arg(pid);
                if (commandLine.isEmpty())
                    commandLine = s.commandLine;
            }
            key = m_store->openProcess(pid, name, commandLine);
            if (key) {
                m_processKeys.insert(batch.connection, key);
                return true;
            }
            m_unplaced.insert(batch.connection);
            Q_EMIT processLimitReached(batch.connection); // a binary client still open is told so
            if (m_unplaced.size() == 1) // once per episode, not once per connection
                Q_EMIT connectionProblem(
                    QStringLiteral("pid %1: refused: the dashboard holds %2 live processes, its limit")
                        .arg(pid)
                        .arg(MetricsStore::MaxProcesses));
            return false;
        };
        // NDJSON may skip the hello: the peer's credentials and /proc name the process.
        const auto ensureProcess = [&] { return key || place(batch.peerPid, {}, {}); };
        std::size_t done = 0;
        bool refused = false;
        for (const protocol::Message& message : batch.messages) {
            ++done;
            if (const auto* hello = std::get_if<protocol::Hello>(&message)) {
                // The kernel's pid (SO_PEERCRED), not the one the hello claims: a client must not pose
                // as another process and merge into its entry. The claim is used only when the kernel
                // could not say (a peer in another pid namespace reads as 0).
                const qint64 pid = batch.peerPid > 0 ? batch.peerPid : hello->pid;
                if (!place(pid, hello->name, hello->commandLine)) {
                    refused = true;
                    break;
                }
                continue;
            }
            if (!ensureProcess()) {
                refused = true;
                break;
            }
            if (const auto* h = std::get_if<protocol::Histogram>(&message)) {
                m_store->recordHistogram(key, h->operation, h->histogram, h->errors);
            } else if (const auto* e = std::get_if<protocol::Event>(&message)) {
                if (e->counted) {
                    m_store->recordEvent(key,
                        OperationSample { e->operation, (e->startNs + qint64(e->durationNs)) / 1'000'000, e->durationNs,
                            e->ok, OperationSample::Severity::Normal, quintptr(e->threadId), e->metadata, e->startNs });
                } else {
                    m_store->recordOperation(key, e->operation, e->durationNs, e->ok, e->metadata);
                }
            } else if (const auto* m = std::get_if<protocol::Memory>(&message)) {
                m_store->recordMemory(key, m->rssBytes, m->heapBytes);
            } else if (const auto* metric = std::get_if<protocol::Metric>(&message)) {
                m_store->setMetric(key, metric->name, metric->gauge, metric->value);
            } else if (const auto* drops = std::get_if<protocol::Drops>(&message)) {
                m_store->setDrops(key, drops->events, drops->bytes, drops->operations);
            } else if (const auto* rings = std::get_if<protocol::Rings>(&message)) {
                m_ringsOffered.insert(batch.connection);
                Q_EMIT scopeRingsOffered(batch.peerPid, *rings);
            }
        }
        if (refused) {
            m_store->addRefusedForProcessLimit(batch.messages.size() - done + 1 + batch.newMalformed, true);
            if (batch.closed)
                m_unplaced.remove(batch.connection);
            continue;
        }
        if (batch.newMalformed && ensureProcess())
            m_store->addMalformed(key, batch.newMalformed, batch.lastProblem);
        if (batch.closed) {
            if (m_ringsOffered.remove(batch.connection)) {
                protocol::Rings gone;
                gone.reason = QStringLiteral("connection closed");
                Q_EMIT scopeRingsOffered(batch.peerPid, gone);
            }
            if (key)
                m_store->closeProcess(key, batch.error);
            m_processKeys.remove(batch.connection);
            m_unplaced.remove(batch.connection);
        }
    }
}

} // namespace perfdash
