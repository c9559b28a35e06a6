// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "ipc/protocol.h"
#include "toolkit/batchprocessor.h"

#include <QHash>
#include <QObject>
#include <QSet>
#include <QThread>

#include <atomic>
#include <vector>

namespace perfdash {

class MetricsStore;

/// What one read of one connection produced, on its way from the ingest thread to the store.
struct IngestBatch
{
    quint64 connection = 0;
    qint64 peerPid = 0;
    std::vector<protocol::Message> messages;
    quint64 newMalformed = 0;
    QString lastProblem;
    bool closed = false;
    QString error; ///< why the connection was closed by us; empty for a clean end
};

/**
 * The socket instrumented processes connect to: a QLocalServer on a thread of its own, one
 * FrameDecoder per connection, and decoded data handed to the MetricsStore through a
 * BatchProcessor on an apply thread of its own. Only the same user may connect (the socket is 0600 in a
 * 0700 directory, and the peer's uid is checked with SO_PEERCRED). Bad input closes or skips as
 * docs/PROTOCOL.md says, with the reason in the log and in the process's state; other
 * connections are not disturbed.
 */
class IngestServer : public QObject
{
    Q_OBJECT
public:
    struct Stats
    {
        int connections = 0;
        quint64 accepted = 0;
        quint64 refused = 0; ///< of every reason below
        quint64 refusedUid = 0; ///< another user's process
        quint64 refusedLimit = 0; ///< over the connection cap
        quint64 refusedDescriptors = 0; ///< accept failed for want of a descriptor
        /// binary clients told REJECT: the store held MetricsStore::MaxProcesses live processes
        /// (their messages are counted in MetricsStore::Refusals::processLimit)
        quint64 rejectedProcessLimit = 0;
        /// clients of a protocol version the server does not speak: told REJECT (binary) or closed (NDJSON)
        quint64 rejectedVersion = 0;
        /// connections closed because their bytes lost the protocol: not a perfdash client, framing
        /// lost, a line over 1 MiB, no HELLO first (the process's state says which)
        quint64 closedProtocol = 0;
        int maxConnections = 0;
        quint64 bytes = 0;
        quint64 messages = 0;
    };

    /// Decoding runs on one thread of the server's, feeding the store on another.
    explicit IngestServer(MetricsStore* store, QObject* parent = nullptr);
    ~IngestServer() override;

    /// $PERFDASH_SOCKET, else $XDG_RUNTIME_DIR/perfdash/perfdash.sock, else /tmp/perfdash-<uid>/perfdash.sock.
    static QString defaultSocketPath();

    /// Starts listening at @p path; false with a sentence in @p error when another perfdash serves
    /// it, or the path cannot be used.
    bool listen(const QString& path, QString* error);
    void close();
    QString socketPath() const { return m_path; }
    /// Connections held at once (default: a share of RLIMIT_NOFILE, see descriptorbudget); the
    /// excess is closed at once and counted. Takes effect at the next listen().
    void setMaxConnections(int max) { m_maxConnections = max; }
    Stats stats() const;

    /// Asks the instrumented process @p pid (its connections, and those it makes later) to record
    /// its scope transitions for the profiler (PROFILE), or to stop; its answers come as
    /// scopeRingsOffered(). Thread-safe. @p ringEntries 0 lets the client choose its rings' size.
    void setProfiled(qint64 pid, bool profiled, quint32 ringEntries = 0);

Q_SIGNALS:
    /// A connection was refused or closed for bad input: a sentence for the log and the window.
    void connectionProblem(const QString& message);
    /// A client's answer to PROFILE (for ScopeRingReader::offer()); when its connection closes,
    /// a Stopped one. Emitted on the server's apply thread.
    void scopeRingsOffered(qint64 pid, const perfdash::protocol::Rings& rings);
    /// The store had no place for @p connection's process; the ingest thread tells the client (REJECT).
    void processLimitReached(quint64 connection);

private:
    class Worker;
    void apply(const QList<IngestBatch>& batches);

    /// Runs @p f on the apply thread and waits for it.
    void onApplyThread(const std::function<void()>& f);

    MetricsStore* m_store;
    QThread m_thread; // sockets and decoding
    QThread m_applyThread; // batches into the store, so that the GUI thread never does
    QObject* m_applyContext;
    Worker* m_worker = nullptr;
    BatchProcessor<IngestBatch, bool>* m_batcher = nullptr; // lives on the apply thread
    QHash<quint64, quint64> m_processKeys; // connection -> store key; apply thread only
    QSet<quint64> m_unplaced; // connections the full store had no room for; apply thread only
    QSet<quint64> m_ringsOffered; // connections that answered PROFILE; apply thread only
    QString m_path;
    int m_maxConnections = 0;
};

} // namespace perfdash

Q_DECLARE_METATYPE(perfdash::protocol::Rings)
