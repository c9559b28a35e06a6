// SPDX-License-Identifier: GPL-3.0-or-later
#include "ingestserver.h"

#include "framedecoder.h"
#include "metricsstore.h"
#include "processsampler.h"

#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QLocalServer>
#include <QLocalSocket>
#include <QTimer>

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace perfdash {

namespace {
    constexpr qint64 ReadChunk = 256 * 1024;
    // Backpressure: while this many batches wait for the store, sockets are not read. Their data
    // stays in Qt's bounded read buffer and the kernel's, and senders slow down or count drops.
    constexpr qsizetype MaxWaitingBatches = 512;
    // How long a stop may spend reading what connected clients already sent.
    constexpr qint64 MaxDrainMs = 2000;

    /// The directory of a default socket path is ours alone: created 0700, refused if another user owns it.
    bool prepareDirectory(const QString& dir, bool isDefault, QString* error)
    {
        const QByteArray native = QFile::encodeName(dir);
        struct stat st {};
        if (::stat(native.constData(), &st) != 0) {
            if (!QDir().mkpath(dir)) {
                *error = QStringLiteral("cannot create the socket directory %1").arg(dir);
                return false;
            }
            ::chmod(native.constData(), 0700);
            return true;
        }
        if (!S_ISDIR(st.st_mode)) {
            *error = QStringLiteral("%1 is not a directory").arg(dir);
            return false;
        }
        if (isDefault) {
            if (st.st_uid != ::getuid()) {
                *error = QStringLiteral("the socket directory %1 belongs to another user; refusing to use it").arg(dir);
                return false;
            }
            if ((st.st_mode & 077) != 0)
                ::chmod(native.constData(), 0700);
        }
        return true;
    }

    /// A socket file is stale when nothing answers on it; then it may be removed.
    bool clearStale(const QString& path, QString* error)
    {
        struct stat st {};
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

    PeerCredentials peerOf(const QLocalSocket* socket)
    {
        PeerCredentials c;
        ucred cred {};
        socklen_t length = sizeof cred;
        if (::getsockopt(int(socket->socketDescriptor()), SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0) {
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
    Worker(IngestServer* owner)
        : m_owner(owner)
    {
        m_resume.setSingleShot(true);
        m_resume.setInterval(5);
        connect(&m_resume, &QTimer::timeout, this, [this] {
            for (QLocalSocket* socket : m_connections.keys())
                read(socket);
        });
    }

    bool listen(const QString& path, QString* error)
    {
        m_server = new QLocalServer(this);
        m_server->setSocketOptions(QLocalServer::UserAccessOption);
        if (!m_server->listen(path)) {
            *error = QStringLiteral("cannot listen on %1: %2").arg(path, m_server->errorString());
            delete m_server;
            m_server = nullptr;
            return false;
        }
        ::chmod(QFile::encodeName(path).constData(), 0600);
        connect(m_server, &QLocalServer::newConnection, this, &Worker::accept);
        return true;
    }

    void close()
    {
        // What clients sent before the end is theirs to see counted: a command that flushed and
        // exited may not even be accepted yet. Accept what waits, then read what the kernel holds,
        // bounded so that a client sending flat out cannot hold the stop up.
        if (m_server) {
            while (m_server->waitForNewConnection(0))
                accept();
        }
        QElapsedTimer draining;
        draining.start();
        for (QLocalSocket* socket : m_connections.keys()) {
            do {
                read(socket, true);
            } while (m_connections.contains(socket) && draining.elapsed() < MaxDrainMs && socket->waitForReadyRead(0));
            if (!m_connections.contains(socket))
                continue; // closed for bad input while draining
            socket->disconnect(this);
            socket->abort();
            finish(socket, QStringLiteral("perfdash stopped"), false);
        }
        if (m_server) {
            m_server->close();
            delete m_server;
            m_server = nullptr;
        }
    }

    Stats stats() const
    {
        Stats s;
        s.connections = m_connectionCount.load();
        s.accepted = m_accepted.load();
        s.refused = m_refused.load();
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
    };

    void accept()
    {
        while (QLocalSocket* socket = m_server->nextPendingConnection()) {
            const PeerCredentials peer = peerOf(socket);
            if (!peer.known || peer.uid != ::getuid()) {
                ++m_refused;
                const QString message = peer.known
                    ? QStringLiteral("refused a connection from uid %1 (pid %2): only uid %3 may connect")
                          .arg(peer.uid)
                          .arg(peer.pid)
                          .arg(::getuid())
                    : QStringLiteral("refused a connection whose peer could not be identified");
                qWarning("perfdash: %s", qUtf8Printable(message));
                Q_EMIT m_owner->connectionProblem(message);
                socket->abort();
                socket->deleteLater();
                continue;
            }
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

    void read(QLocalSocket* socket, bool last = false)
    {
        Connection* c = m_connections.value(socket);
        if (!c)
            return;
        if (!last && m_owner->m_batcher->waiting() > MaxWaitingBatches) {
            m_resume.start(); // the store is behind: look again in a moment
            return;
        }
        IngestBatch batch;
        batch.connection = c->id;
        batch.peerPid = c->peerPid;
        QByteArray chunk;
        while (socket->bytesAvailable() > 0 && !c->decoder.failed()) {
            chunk = socket->read(ReadChunk);
            m_bytes += quint64(chunk.size());
            const std::size_t before = batch.messages.size();
            c->decoder.feed(chunk, batch.messages);
            if (!c->welcomed && c->decoder.helloSeen()) {
                c->welcomed = true;
                if (c->decoder.mode() == protocol::FrameDecoder::Mode::Binary)
                    socket->write(protocol::encodeWelcome());
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
        if (!batch.messages.empty() || batch.newMalformed)
            m_owner->m_batcher->add(std::move(batch));
        if (failed) {
            const QString reason = c->decoder.error();
            qWarning("perfdash: closing connection %llu (pid %lld): %s", c->id, static_cast<long long>(c->peerPid),
                qUtf8Printable(reason));
            Q_EMIT m_owner->connectionProblem(QStringLiteral("pid %1: %2").arg(c->peerPid).arg(reason));
            if (!c->decoder.rejectReason().isEmpty() && c->decoder.mode() == protocol::FrameDecoder::Mode::Binary)
                socket->write(protocol::encodeReject(c->decoder.rejectReason()));
            socket->disconnect(this);
            socket->flush();
            socket->disconnectFromServer(); // closes once the reject is written
            finish(socket, reason, true);
        }
    }

    void finish(QLocalSocket* socket, const QString& error, bool later)
    {
        Connection* c = m_connections.take(socket);
        if (!c)
            return;
        --m_connectionCount;
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
    QTimer m_resume;
    QLocalServer* m_server = nullptr;
    QHash<QLocalSocket*, Connection*> m_connections;
    quint64 m_nextId = 0;
    std::atomic<int> m_connectionCount { 0 };
    std::atomic<quint64> m_accepted { 0 };
    std::atomic<quint64> m_refused { 0 };
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

    m_worker = new Worker(this);
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
    QMetaObject::invokeMethod(m_worker, [this] { m_worker->close(); }, Qt::BlockingQueuedConnection);
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

IngestServer::Stats IngestServer::stats() const
{
    return m_worker ? m_worker->stats() : Stats {};
}

void IngestServer::apply(const QList<IngestBatch>& batches)
{
    for (const IngestBatch& batch : batches) {
        quint64 key = m_processKeys.value(batch.connection);
        const auto ensureProcess = [&] {
            if (key)
                return;
            // NDJSON may skip the hello: the peer's credentials and /proc name the process.
            const ProcessSample s = ProcessSampler(batch.peerPid).sample();
            key = m_store->openProcess(batch.peerPid, s.isValid() ? s.name : QStringLiteral("pid %1").arg(batch.peerPid),
                s.commandLine);
            m_processKeys.insert(batch.connection, key);
        };
        for (const protocol::Message& message : batch.messages) {
            if (const auto* hello = std::get_if<protocol::Hello>(&message)) {
                const qint64 pid = hello->pid > 0 ? hello->pid : batch.peerPid;
                QString name = hello->name;
                QStringList commandLine = hello->commandLine;
                if (name.isEmpty() || commandLine.isEmpty()) {
                    const ProcessSample s = ProcessSampler(pid).sample();
                    if (name.isEmpty())
                        name = s.isValid() ? s.name : QStringLiteral("pid %1").arg(pid);
                    if (commandLine.isEmpty())
                        commandLine = s.commandLine;
                }
                key = m_store->openProcess(pid, name, commandLine);
                m_processKeys.insert(batch.connection, key);
                continue;
            }
            ensureProcess();
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
            }
        }
        if (batch.newMalformed) {
            ensureProcess();
            m_store->addMalformed(key, batch.newMalformed, batch.lastProblem);
        }
        if (batch.closed) {
            if (key)
                m_store->closeProcess(key, batch.error);
            m_processKeys.remove(batch.connection);
        }
    }
}

} // namespace perfdash
