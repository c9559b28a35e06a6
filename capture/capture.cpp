// SPDX-License-Identifier: GPL-3.0-or-later
#include "capture/capture.h"

#include "capture/captureprofiles.h"
#include "capture/capturevalidation.h"
#include "core/errors.h"
#include "core/safepath.h"

#include <QAtomicInteger>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTextStream>
#include <QTimer>
#include <QtEndian>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <unistd.h>

namespace perfdash {

namespace {
QAtomicInteger<quint64> g_connections;

QString connectionName()
{
    return QStringLiteral("perfdash-capture-%1").arg(++g_connections);
}

const char* const Schema[] = {
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE processes (key INTEGER PRIMARY KEY, pid INTEGER, name TEXT, command_line TEXT,"
    " instrumented INTEGER, state TEXT, reason TEXT, first_seen_ms INTEGER, last_seen_ms INTEGER,"
    " dropped_events INTEGER, dropped_bytes INTEGER, malformed INTEGER, metrics TEXT, lost_operations INTEGER,"
    " refused_values INTEGER, dropped_operations INTEGER)",
    "CREATE TABLE operations (id INTEGER PRIMARY KEY, process_key INTEGER, name TEXT, UNIQUE (process_key, name))",
    "CREATE TABLE seconds (operation_id INTEGER, second INTEGER, count INTEGER, errors INTEGER, sum_ns INTEGER,"
    " min_ns INTEGER, max_ns INTEGER, overflow INTEGER, buckets BLOB, p50_ns INTEGER, p95_ns INTEGER, p99_ns INTEGER,"
    " PRIMARY KEY (operation_id, second))",
    "CREATE TABLE memory (process_key INTEGER, timestamp_ms INTEGER, rss_bytes INTEGER, heap_bytes INTEGER,"
    " cpu_percent REAL)",
    "CREATE TABLE events (operation_id INTEGER, timestamp_ms INTEGER, start_ns INTEGER, duration_ns INTEGER,"
    " ok INTEGER, severity INTEGER, thread_id INTEGER, metadata TEXT)",
    "CREATE TABLE budgets (pattern TEXT, percentile REAL, limit_ns INTEGER, window_s INTEGER)",
    "CREATE TABLE alerts (timestamp_ms INTEGER, process_key INTEGER, operation TEXT, kind TEXT, value_ns INTEGER,"
    " details TEXT, ok INTEGER)",
    "CREATE INDEX seconds_by_time ON seconds (second)",
};

const char* stateName(ProcessInfo::State s)
{
    switch (s) {
    case ProcessInfo::State::Live:
        return "live";
    case ProcessInfo::State::Exited:
        return "exited";
    case ProcessInfo::State::ProcOnly:
        return "proc";
    case ProcessInfo::State::Error:
        return "error";
    }
    return "exited";
}

ProcessInfo::State stateFrom(const QString& s)
{
    if (s == QLatin1String("error"))
        return ProcessInfo::State::Error;
    if (s == QLatin1String("proc"))
        return ProcessInfo::State::ProcOnly;
    return ProcessInfo::State::Exited;
}

QByteArray packBuckets(const SparseHistogram& h)
{
    QByteArray blob(qsizetype(h.buckets.size()) * 6, Qt::Uninitialized);
    char* out = blob.data();
    for (const auto& [index, count] : h.buckets) {
        qToLittleEndian(index, out);
        qToLittleEndian(count, out + 2);
        out += 6;
    }
    return blob;
}

/// A capture file and what SQLite keeps beside it.
void removeDatabaseFiles(const QString& path)
{
    for (const char* suffix : { "", "-journal", "-wal", "-shm" })
        QFile::remove(path + QLatin1String(suffix));
}

/// The schema and the meta rows into the empty file @p path, in one transaction (rollback
/// journal: the file is self-contained when this returns); false with @p why.
bool createSchema(const QString& path, QString* why)
{
    const QString connection = connectionName();
    bool ok = true;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(path);
        QSqlQuery q(db);
        const auto fail = [&](const QSqlError& e) {
            if (ok)
                *why = e.text();
            ok = false;
        };
        if (!db.open())
            fail(db.lastError());
        if (ok && !db.transaction())
            fail(db.lastError());
        for (const char* statement : Schema) {
            if (ok && !q.exec(QString::fromLatin1(statement)))
                fail(q.lastError());
        }
        if (ok)
            q.prepare(QStringLiteral("INSERT INTO meta (key, value) VALUES (?, ?)"));
        for (const auto& [key, value] :
            { std::pair { QStringLiteral("schema_version"), QString::number(CaptureSchemaVersion) },
                std::pair { QStringLiteral("created_ms"), QString::number(QDateTime::currentMSecsSinceEpoch()) },
                std::pair { QStringLiteral("producer"), QStringLiteral("perfdash") } }) {
            if (!ok)
                break;
            q.addBindValue(key);
            q.addBindValue(value);
            if (!q.exec())
                fail(q.lastError());
        }
        q.finish();
        if (ok && !db.commit())
            fail(db.lastError());
        if (!ok)
            db.rollback();
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    return ok;
}

bool unpackBuckets(const QByteArray& blob, SparseHistogram& h)
{
    if (blob.size() % 6)
        return false;
    for (qsizetype i = 0; i < blob.size(); i += 6) {
        const auto index = qFromLittleEndian<quint16>(blob.constData() + i);
        if (index >= LatencyHistogram::BucketCount)
            return false;
        h.buckets.emplace_back(index, qFromLittleEndian<quint32>(blob.constData() + i + 2));
    }
    return true;
}
} // namespace

/// Lives on the recorder's thread, with the database connection (a connection is bound to a thread).
class CaptureRecorder::Writer : public QObject
{
public:
    Writer(const MetricsStore* store, Counters* counters)
        : m_store(store)
        , m_connection(connectionName())
        , m_counters(counters)
    {
        // Slow operations and budget changes, as the window lists them; queued to this thread.
        connect(store, &MetricsStore::slowOperation, this, [this](quint64 key, const OperationSample& s) {
            if (m_seeded.erase(SampleId { key, s.operation, s.timestampMs, s.durationNs }) == 0)
                slowAlert(key, s);
        });
        connect(store, &MetricsStore::budgetViolationChanged, this,
            [this](quint64 key, const BudgetViolation& v, bool broken) {
                budgetAlert(key, v, broken, QDateTime::currentMSecsSinceEpoch());
            });
        // A recording that starts late (File > Save) holds the alerts of what came before, as far as
        // the store keeps them: its slow samples and the budgets broken now. Connected first, so a
        // sample is either here or signalled; one that is both is told apart by m_seeded.
        for (const ProcessInfo& p : store->processes()) {
            if (!p.instrumented)
                continue;
            const auto monitor = store->sharedMonitor(p.key); // held: eviction may happen meanwhile
            if (!monitor)
                continue;
            for (const QString& name : monitor->operations()) {
                for (const OperationSample& sample : monitor->samples(name)) {
                    if (sample.severity == OperationSample::Severity::Normal)
                        continue;
                    m_seeded.insert(SampleId { p.key, sample.operation, sample.timestampMs, sample.durationNs });
                    slowAlert(p.key, sample);
                }
            }
        }
        std::sort(m_alerts.begin(), m_alerts.end(),
            [](const PendingAlert& a, const PendingAlert& b) { return a.timestampMs < b.timestampMs; });
        for (const auto& [key, violation] : store->budgetViolations())
            budgetAlert(key, violation, true, store->clock()->wallMs());
    }
    ~Writer() override { close(); }

    bool open(const QString& path, QString* error)
    {
        m_path = path;
        // The schema is written into a file of its own next to the capture, renamed over it once
        // whole: a disk full at the start leaves nothing behind, and the previous capture as it was.
        const QFileInfo target(path);
        QByteArray temporary
            = QFile::encodeName(target.absolutePath() + QStringLiteral("/.") + target.fileName()) + ".XXXXXX";
        const int fd = ::mkostemp(temporary.data(), O_CLOEXEC); // 0600; SQLite gives -wal and -shm the same mode
        if (fd < 0) {
            *error = QStringLiteral("cannot create the capture %1: %2")
                         .arg(path, QString::fromLocal8Bit(std::strerror(errno)));
            return false;
        }
        ::close(fd);
        const QString created = QFile::decodeName(temporary);
        QString why;
        bool ok = createSchema(created, &why);
        if (ok) {
            // The -wal and -shm of the capture being replaced would be read as this one's.
            for (const char* suffix : { "-wal", "-shm", "-journal" })
                QFile::remove(path + QLatin1String(suffix));
            if (::rename(temporary.constData(), QFile::encodeName(path).constData()) != 0) {
                why = QString::fromLocal8Bit(std::strerror(errno));
                ok = false;
            }
        }
        if (!ok) {
            removeDatabaseFiles(created);
            *error = QStringLiteral("cannot create the capture %1: %2").arg(path, why);
            return false;
        }
        bool opened = false;
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
            db.setDatabaseName(path);
            QSqlQuery q(db);
            // WAL while recording: a crash mid-write leaves the last commit intact.
            opened = db.open() && q.exec(QStringLiteral("PRAGMA journal_mode=WAL"));
            if (!opened) {
                *error = QStringLiteral("cannot open the capture %1: %2")
                             .arg(path, db.lastError().text().isEmpty() ? q.lastError().text() : db.lastError().text());
                q.finish();
                db.close();
            }
        }
        if (!opened) {
            QSqlDatabase::removeDatabase(m_connection);
            removeDatabaseFiles(path);
            return false;
        }
        m_open = true;
        m_lastWrittenMs = QDateTime::currentMSecsSinceEpoch();
        m_timer = new QTimer(this);
        connect(m_timer, &QTimer::timeout, this, [this] {
            QString failure;
            const Outcome outcome = attempt(&failure); // tried again, with more, a second later
            if (outcome == Outcome::StartedFailing && onFailure)
                onFailure(failureMessage(failure));
            else if (outcome == Outcome::Resumed && onResumed)
                onResumed(resumedMessage());
        });
        m_timer->start(1000);
        return true;
    }

    enum class Outcome { Written, Failing, StartedFailing, Resumed };
    /// write(), counted: a failure starts an episode (said once), the first success after one ends it.
    Outcome attempt(QString* error)
    {
        const bool ok = write(error);
        if (!ok) {
            m_counters->failedWrites.fetch_add(1, std::memory_order_relaxed);
            m_lastError = *error;
            if (m_counters->failing.exchange(true))
                return Outcome::Failing;
            return Outcome::StartedFailing;
        }
        m_lastWrittenMs = QDateTime::currentMSecsSinceEpoch();
        if (m_counters->failing.exchange(false))
            return Outcome::Resumed;
        return Outcome::Written;
    }

    QString failureMessage(const QString& why) const
    {
        return QStringLiteral("cannot write the capture %1: %2; trying again every second").arg(m_path, why);
    }

    QString resumedMessage() const
    {
        const quint64 lost = m_counters->lostOperations.load();
        return lost == 0 ? QStringLiteral("the capture %1 is written again; nothing was lost").arg(m_path)
                         : QStringLiteral("the capture %1 is written again; %2 operations the store no longer held are "
                                          "missing from it (it keeps %3 minutes of seconds)")
                               .arg(m_path)
                               .arg(lost)
                               .arg(StatsWindow::MaxSeconds / 60);
    }

    /// What the capture misses at the end; empty when it holds everything.
    QString incompleteness(bool lastWriteFailed) const
    {
        QStringList missing;
        if (lastWriteFailed) {
            missing << QStringLiteral("its last write failed (%1): what came after %2 is missing")
                           .arg(m_lastError,
                               QDateTime::fromMSecsSinceEpoch(m_lastWrittenMs).toString(QStringLiteral("HH:mm:ss")));
        }
        if (const quint64 lost = m_counters->lostOperations.load())
            missing << QStringLiteral("%1 operations are missing: the store no longer held them when the disk had room "
                                      "again (it keeps %2 minutes of seconds; %3 writes failed)")
                           .arg(lost)
                           .arg(StatsWindow::MaxSeconds / 60)
                           .arg(m_counters->failedWrites.load());
        if (const quint64 alerts = m_counters->lostAlerts.load())
            missing << QStringLiteral("%1 alerts past the %2 kept between two writes are missing")
                           .arg(alerts)
                           .arg(MaxPendingAlerts);
        if (missing.isEmpty())
            return {};
        return QStringLiteral("the capture %1 is incomplete: %2").arg(m_path, missing.join(QStringLiteral("; ")));
    }

    /// Everything new since the last committed write, in one transaction. What it covers is
    /// marked written only once the commit went through: a failed write (a full disk) is tried
    /// again whole, with what came since, as long as the store holds it.
    bool write(QString* error)
    {
        if (!m_open)
            return true;
        QSqlDatabase db = QSqlDatabase::database(m_connection, false);
        if (!db.transaction()) {
            *error = db.lastError().text();
            return false;
        }
        QSqlQuery q(db);
        bool ok = true;
        const auto run = [&](QSqlQuery& query) {
            if (ok && !query.exec()) {
                ok = false;
                *error = query.lastError().text();
            }
        };

        QSqlQuery process(db);
        process.prepare(
            QStringLiteral("INSERT OR REPLACE INTO processes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        QSqlQuery operation(db);
        operation.prepare(QStringLiteral("INSERT INTO operations (id, process_key, name) VALUES (?, ?, ?)"));
        QSqlQuery second(db);
        second.prepare(QStringLiteral("INSERT OR REPLACE INTO seconds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        auto dense = std::make_unique<LatencyHistogram>(); // for the series columns
        QSqlQuery memory(db);
        memory.prepare(QStringLiteral("INSERT INTO memory VALUES (?, ?, ?, ?, ?)"));
        QSqlQuery event(db);
        event.prepare(QStringLiteral("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));

        // What this write covers, applied to the marks once it is committed.
        QHash<QString, int> newIds;
        QHash<int, qint64> secondMarks;
        QHash<int, qint64> eventMarks;
        QHash<quint64, qint64> memoryMarks;
        QHash<QString, Account> accounts;
        const auto idOf = [&](const QString& key) {
            if (const auto it = m_operationIds.constFind(key); it != m_operationIds.constEnd())
                return *it;
            return newIds.value(key, 0);
        };

        for (const ProcessInfo& p : m_store->processes()) {
            QJsonObject metrics;
            for (auto it = p.counters.cbegin(); it != p.counters.cend(); ++it)
                metrics.insert(QStringLiteral("counter:") + it.key(), it.value());
            for (auto it = p.gauges.cbegin(); it != p.gauges.cend(); ++it)
                metrics.insert(QStringLiteral("gauge:") + it.key(), it.value());
            for (const QVariant& v : { QVariant(p.key), QVariant(p.pid), QVariant(p.name),
                     QVariant(p.commandLine.join(QChar(0x1f))), QVariant(p.instrumented),
                     QVariant(QString::fromLatin1(stateName(p.state))), QVariant(p.reason), QVariant(p.firstSeenMs),
                     QVariant(p.lastSeenMs), QVariant(p.droppedEvents), QVariant(p.droppedBytes), QVariant(p.malformed),
                     QVariant(QString::fromUtf8(QJsonDocument(metrics).toJson(QJsonDocument::Compact))),
                     QVariant(p.lostOperations), QVariant(p.refusedValues), QVariant(p.droppedOperations) })
                process.addBindValue(v);
            run(process);

            const qint64 memoryMark = m_lastMemory.value(p.key, 0);
            for (const MemoryRecord& r : m_store->memoryRecords(p.key)) {
                if (r.timestampMs <= memoryMark)
                    continue;
                memory.addBindValue(p.key);
                memory.addBindValue(r.timestampMs);
                memory.addBindValue(r.rssBytes);
                memory.addBindValue(r.heapBytes);
                memory.addBindValue(r.cpuPercent ? QVariant(*r.cpuPercent) : QVariant());
                run(memory);
                memoryMarks[p.key] = r.timestampMs;
            }
            if (!p.instrumented)
                continue;
            const auto monitor = m_store->sharedMonitor(p.key); // held: eviction may happen meanwhile
            if (!monitor)
                continue;
            for (const QString& name : monitor->operations()) {
                const QString key = QString::number(p.key) + QChar(0x1f) + name;
                int operationId = idOf(key);
                if (operationId == 0) {
                    operationId = int(m_operationIds.size() + newIds.size()) + 1;
                    newIds.insert(key, operationId);
                    operation.addBindValue(operationId);
                    operation.addBindValue(p.key);
                    operation.addBindValue(name);
                    run(operation);
                }
                std::vector<std::pair<qint64, quint64>> visited; // (second, count)
                quint64 finished = 0;
                const qint64 newest = monitor->forEachSecondAfter(
                    name, m_lastSecond.value(operationId, 0),
                    [&](qint64 s, const SparseHistogram& h, quint64 errors) {
                        visited.emplace_back(s, h.count);
                        dense->reset();
                        h.addTo(*dense);
                        for (const QVariant& v : { QVariant(operationId), QVariant(s), QVariant(h.count),
                                 QVariant(errors), QVariant(h.sumNs), QVariant(h.minNs), QVariant(h.maxNs),
                                 QVariant(h.overflow), QVariant(packBuckets(h)), QVariant(dense->valueAtQuantile(0.50)),
                                 QVariant(dense->valueAtQuantile(0.95)), QVariant(dense->valueAtQuantile(0.99)) })
                            second.addBindValue(v);
                        run(second);
                    },
                    true, // the unfinished second too, replaced when it is finished
                    &finished);
                secondMarks[operationId] = newest;
                quint64 written = 0;
                for (const auto& [s, count] : visited)
                    written += s <= newest ? count : 0;
                // Seen for the first time: what the store finished before this recording began (File >
                // Save, later than the session) is not the capture's to miss. Kept whether this write
                // goes through or not: it is what the store held, not what the file holds.
                if (!m_accounts.contains(key))
                    m_accounts.insert(key, Account { finished - std::min(finished, written), 0, 0, 0 });
                Account account = m_accounts.value(key);
                account.written += written;
                account.finished = finished;
                accounts.insert(key, account);

                const qint64 eventMark = m_lastEvent.value(operationId, 0);
                for (const OperationSample& sample : monitor->samples(name)) {
                    if (sample.timestampMs <= eventMark)
                        continue;
                    for (const QVariant& v : { QVariant(operationId), QVariant(sample.timestampMs),
                             QVariant(sample.startNs), QVariant(sample.durationNs), QVariant(sample.ok),
                             QVariant(int(sample.severity)), QVariant(quint64(sample.threadId)),
                             QVariant(QString::fromUtf8(QJsonDocument(QJsonObject::fromVariantMap(sample.metadata))
                                                            .toJson(QJsonDocument::Compact))) })
                        event.addBindValue(v);
                    run(event);
                    eventMarks[operationId] = std::max(eventMarks.value(operationId, eventMark), sample.timestampMs);
                }
            }
        }
        QSqlQuery threshold(db);
        threshold.prepare(QStringLiteral("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"));
        const Thresholds limits = m_store->thresholds();
        const MetricsStore::Refusals refusals = m_store->refusals();
        // When this write happened on the store's clock: a reader's "last minute" ends here. The
        // store-wide refusals are meta rows: a capture without them reads zeros.
        for (const auto& [key, value] : { std::pair { QStringLiteral("slow_ns"), limits.slowNs },
                 std::pair { QStringLiteral("very_slow_ns"), limits.verySlowNs },
                 std::pair { QStringLiteral("recorded_until_ms"), quint64(m_store->clock()->wallMs()) },
                 std::pair { QStringLiteral("refused_process_limit"), refusals.processLimit },
                 std::pair { QStringLiteral("refused_process_limit_connections"), refusals.processLimitConnections },
                 std::pair { QStringLiteral("refused_counter_limit"), refusals.counterLimit },
                 std::pair { QStringLiteral("refused_gauge_limit"), refusals.gaugeLimit },
                 std::pair { QStringLiteral("refused_invalid_values"), refusals.invalidValues } }) {
            threshold.addBindValue(key);
            threshold.addBindValue(QString::number(value));
            run(threshold);
        }
        if (ok && !q.exec(QStringLiteral("DELETE FROM budgets"))) {
            ok = false;
            *error = q.lastError().text();
        }
        QSqlQuery budget(db);
        budget.prepare(QStringLiteral("INSERT INTO budgets VALUES (?, ?, ?, ?)"));
        for (const Budget& b : m_store->budgets()) {
            budget.addBindValue(b.pattern);
            budget.addBindValue(b.percentile);
            budget.addBindValue(b.limitNs);
            budget.addBindValue(b.window.seconds);
            run(budget);
        }
        QSqlQuery alertRow(db);
        alertRow.prepare(QStringLiteral("INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?)"));
        for (const PendingAlert& a : std::as_const(m_alerts)) {
            for (const QVariant& v : { QVariant(a.timestampMs), QVariant(a.processKey), QVariant(a.operation),
                     QVariant(a.kind), QVariant(a.valueNs), QVariant(a.details), QVariant(a.ok) })
                alertRow.addBindValue(v);
            run(alertRow);
        }
        if (!ok) {
            db.rollback();
            return false;
        }
        if (!db.commit()) {
            *error = db.lastError().text();
            db.rollback(); // SQLite may have rolled back already; then this says so and changes nothing
            return false;
        }
        // Committed: the marks move, and what the store no longer holds is known.
        m_alerts.clear();
        for (auto it = newIds.cbegin(); it != newIds.cend(); ++it)
            m_operationIds.insert(it.key(), it.value());
        for (auto it = secondMarks.cbegin(); it != secondMarks.cend(); ++it)
            m_lastSecond[it.key()] = it.value();
        for (auto it = eventMarks.cbegin(); it != eventMarks.cend(); ++it)
            m_lastEvent[it.key()] = it.value();
        for (auto it = memoryMarks.cbegin(); it != memoryMarks.cend(); ++it)
            m_lastMemory[it.key()] = it.value();
        quint64 lost = m_counters->lostOperations.load();
        for (auto it = accounts.begin(); it != accounts.end(); ++it) {
            Account& a = it.value();
            const quint64 missing = a.finished - std::min(a.finished, a.before + a.written);
            lost += missing - std::min(missing, a.lost);
            a.lost = std::max(a.lost, missing);
            m_accounts.insert(it.key(), a);
        }
        m_counters->lostOperations.store(lost);
        return true;
    }

    /// An operation's finished seconds: those before the recording began, those written, and the
    /// finished total the store had at the last write; what is in none was given up.
    struct Account
    {
        quint64 before = 0;
        quint64 written = 0;
        quint64 finished = 0;
        quint64 lost = 0;
    };

    std::function<void(const QString&)> onFailure; // called on the writer's thread

    struct PendingAlert
    {
        qint64 timestampMs;
        quint64 processKey;
        QString operation;
        QString kind;
        quint64 valueNs;
        QString details;
        bool ok = true; ///< the slow operation's outcome
    };
    static constexpr int MaxPendingAlerts = 10'000;
    void alert(PendingAlert a)
    {
        if (m_alerts.size() < MaxPendingAlerts) // a storm between two writes (or a full disk): the first are kept
            m_alerts.append(std::move(a));
        else
            m_counters->lostAlerts.fetch_add(1, std::memory_order_relaxed);
    }
    void slowAlert(quint64 key, const OperationSample& s)
    {
        alert({ s.timestampMs, key, s.operation,
            s.severity == OperationSample::Severity::VerySlow ? QStringLiteral("very slow") : QStringLiteral("slow"),
            s.durationNs,
            QString::fromUtf8(QJsonDocument(QJsonObject::fromVariantMap(s.metadata)).toJson(QJsonDocument::Compact)),
            s.ok });
    }
    void budgetAlert(quint64 key, const BudgetViolation& v, bool broken, qint64 timestampMs)
    {
        alert({ timestampMs, key, v.operation, broken ? QStringLiteral("budget broken") : QStringLiteral("budget met"),
            v.actualNs,
            QStringLiteral("p%1 <= %2 ns over %3 s (%4)")
                .arg(v.budget.percentile)
                .arg(v.budget.limitNs)
                .arg(v.budget.window.seconds)
                .arg(v.budget.pattern) });
    }

    /// The last write, then one self-contained file: the WAL is checkpointed into the capture and
    /// removed, so that the file opens read-only anywhere (a read-only mount, another user's
    /// directory). Should that fail (a disk still full), the -wal stays and readers use it.
    void close()
    {
        if (!m_open)
            return;
        QString ignored;
        attempt(&ignored);
        delete m_timer;
        m_timer = nullptr;
        m_open = false;
        {
            QSqlDatabase db = QSqlDatabase::database(m_connection, false);
            QSqlQuery q(db);
            q.exec(QStringLiteral("PRAGMA journal_mode=DELETE"));
            q.finish();
            db.close();
        }
        QSqlDatabase::removeDatabase(m_connection);
    }

    std::function<void(const QString&)> onResumed; // called on the writer's thread
    QString path() const { return m_path; }

private:
    const MetricsStore* m_store;
    QString m_connection;
    Counters* m_counters;
    QString m_path;
    QString m_lastError; // of the last failed write
    qint64 m_lastWrittenMs = 0; // wall clock of the last write that went through
    QTimer* m_timer = nullptr;
    bool m_open = false;
    QHash<QString, Account> m_accounts; // by process key and operation name
    QHash<QString, int> m_operationIds;
    QHash<int, qint64> m_lastSecond;
    QHash<int, qint64> m_lastEvent;
    QHash<quint64, qint64> m_lastMemory;
    QList<PendingAlert> m_alerts;
    using SampleId = std::tuple<quint64, QString, qint64, quint64>; // process, operation, time, duration
    std::set<SampleId> m_seeded; // written from the store at the start; their signals may still come
};

CaptureRecorder::CaptureRecorder(const MetricsStore* store, QObject* parent)
    : QObject(parent)
    , m_store(store)
{
    m_thread.setObjectName(QStringLiteral("perfdash-capture"));
}

CaptureRecorder::~CaptureRecorder()
{
    stop();
}

bool CaptureRecorder::start(const QString& path, QString* error)
{
    stop();
    if (!safepath::checkWritableTarget(path, error))
        return false;
    m_counters.failedWrites = 0;
    m_counters.lostOperations = 0;
    m_counters.lostAlerts = 0;
    m_counters.failing = false;
    m_thread.start();
    m_writer = new Writer(m_store, &m_counters);
    m_writer->onFailure = [this](const QString& why) {
        QMetaObject::invokeMethod(
            this, [this, why] { Q_EMIT failed(why); }, Qt::QueuedConnection);
    };
    m_writer->onResumed = [this](const QString& message) {
        QMetaObject::invokeMethod(
            this, [this, message] { Q_EMIT resumed(message); }, Qt::QueuedConnection);
    };
    m_writer->moveToThread(&m_thread);
    bool ok = false;
    QString why;
    QMetaObject::invokeMethod(
        m_writer, [&] { ok = m_writer->open(path, &why); }, Qt::BlockingQueuedConnection);
    if (!ok) {
        if (error)
            *error = why;
        stop();
        return false;
    }
    m_path = path;
    return true;
}

bool CaptureRecorder::flush(QString* error)
{
    if (!m_writer)
        return true;
    Writer::Outcome outcome = Writer::Outcome::Written;
    QString why;
    QString resumedMessage;
    QMetaObject::invokeMethod(
        m_writer,
        [&] {
            outcome = m_writer->attempt(&why);
            if (outcome == Writer::Outcome::Resumed)
                resumedMessage = m_writer->resumedMessage();
        },
        Qt::BlockingQueuedConnection);
    const bool ok = outcome == Writer::Outcome::Written || outcome == Writer::Outcome::Resumed;
    if (!ok && error)
        *error = QStringLiteral("cannot write the capture %1: %2").arg(m_path, why);
    if (outcome == Writer::Outcome::StartedFailing)
        Q_EMIT failed(m_writer->failureMessage(why));
    else if (outcome == Writer::Outcome::Resumed)
        Q_EMIT resumed(resumedMessage);
    return ok;
}

bool CaptureRecorder::finish(QString* summary)
{
    if (!m_writer)
        return true;
    const bool written = flush();
    QString missing;
    QMetaObject::invokeMethod(
        m_writer, [&] { missing = m_writer->incompleteness(!written); }, Qt::BlockingQueuedConnection);
    stop();
    if (missing.isEmpty())
        return true;
    if (summary)
        *summary = missing;
    return false;
}

CaptureRecorder::Stats CaptureRecorder::stats() const
{
    return Stats { m_counters.failedWrites.load(), m_counters.lostOperations.load(), m_counters.lostAlerts.load(),
        m_counters.failing.load() };
}

void CaptureRecorder::stop()
{
    if (m_writer) {
        QMetaObject::invokeMethod(
            m_writer, [this] { delete m_writer; }, Qt::BlockingQueuedConnection);
        m_writer = nullptr;
    }
    m_thread.quit();
    m_thread.wait();
}

bool saveCapture(const MetricsStore* store, const QString& path, const QList<CapturedProfile>& profiles, QString* error)
{
    if (!safepath::checkWritableTarget(path, error))
        return false;
    // Recorded under a name of its own beside the target, renamed over it once complete.
    const QFileInfo target(path);
    QByteArray reserved
        = QFile::encodeName(target.absolutePath() + QStringLiteral("/.") + target.fileName()) + ".XXXXXX";
    const int fd = ::mkostemp(reserved.data(), O_CLOEXEC);
    if (fd < 0) {
        *error
            = QStringLiteral("cannot write the capture %1: %2").arg(path, QString::fromLocal8Bit(std::strerror(errno)));
        return false;
    }
    ::close(fd);
    const QString temporary = QFile::decodeName(reserved);
    QString why;
    bool ok = false;
    {
        CaptureRecorder recorder(store);
        ok = recorder.start(temporary, &why) && recorder.finish(&why);
    }
    if (ok && !profiles.isEmpty())
        ok = writeCaptureProfiles(temporary, profiles, &why);
    if (ok) {
        for (const char* suffix : { "-wal", "-shm", "-journal" }) // the replaced capture's
            QFile::remove(path + QLatin1String(suffix));
        if (::rename(reserved.constData(), QFile::encodeName(path).constData()) != 0) {
            why = QString::fromLocal8Bit(std::strerror(errno));
            ok = false;
        }
    }
    if (!ok) {
        removeDatabaseFiles(temporary);
        why.replace(temporary, path);
        *error = why.contains(path) ? why : QStringLiteral("cannot write the capture %1: %2").arg(path, why);
        return false;
    }
    return true;
}

namespace {
/// Whether SQLite can read @p file with @p options (its schema version row).
bool readable(const QString& file, const QString& options)
{
    const QString connection = connectionName();
    bool ok = false;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(file);
        db.setConnectOptions(options);
        QSqlQuery q(db);
        ok = db.open() && q.exec(QStringLiteral("SELECT value FROM meta WHERE key = 'schema_version'")) && q.next();
        q.finish();
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    return ok;
}

/// The file to read @p path from: itself, or a copy in @p copy (with its -wal) when it is in
/// WAL mode and cannot be read where it is. Says in @p result's notes which case it is.
QString readableSource(const QString& path, CaptureLoad* result, std::unique_ptr<QTemporaryDir>* copy)
{
    QFile file(path);
    const QByteArray header = file.open(QIODevice::ReadOnly) ? file.read(100) : QByteArray();
    const bool walMode = header.size() == 100 && header.startsWith("SQLite format 3") && quint8(header[18]) == 2;
    if (!walMode)
        return path; // self-contained (or not SQLite at all: the reader says so)
    const QString wal = path + QStringLiteral("-wal");
    const bool crashed = QFileInfo(wal).size() > 0;
    if (crashed)
        result->notes.append(
            QStringLiteral("%1 was not closed cleanly (perfdash was killed or crashed while recording it, "
                           "or is recording it still): its last writes, in %2, are read too")
                .arg(path, wal));
    if (readable(path, QStringLiteral("QSQLITE_OPEN_READONLY")))
        return path;
    // A read-only place cannot hold the -shm file SQLite needs beside a WAL-mode file.
    auto dir = std::make_unique<QTemporaryDir>();
    const QString copied = dir->filePath(QFileInfo(path).fileName());
    if (!dir->isValid() || !QFile::copy(path, copied)
        || (crashed && !QFile::copy(wal, copied + QStringLiteral("-wal"))))
        return path; // the reader says why it cannot read it
    QFile::setPermissions(copied, QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    QFile::setPermissions(copied + QStringLiteral("-wal"), QFileDevice::ReadOwner | QFileDevice::WriteOwner);
    result->notes.append(
        QStringLiteral("%1 is in WAL mode and its directory cannot be written: read from a copy").arg(path));
    *copy = std::move(dir);
    return copied;
}
} // namespace

std::optional<CaptureLoad> loadCapture(const QString& path, MetricsStore& store, ManualClock& clock, QString* error)
{
    CaptureLoad result;
    if (!QFile::exists(path))
        return noneWith<CaptureLoad>(error, QStringLiteral("no capture at %1").arg(path));
    QString unreadable; // why nothing could be read; empty once it was
    // A closed capture is self-contained and read in place, read-only. One in WAL mode (perfdash
    // killed while recording, or a capture of an older perfdash) needs a -shm file beside it, which
    // a read-only place cannot hold: then a copy is read, its -wal with it.
    std::unique_ptr<QTemporaryDir> copy;
    const QString source = readableSource(path, &result, &copy);
    const QString connection = connectionName();
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(source);
        if (!copy)
            db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
        QSqlQuery q(db);
        if (!db.open() || !q.exec(QStringLiteral("SELECT value FROM meta WHERE key = 'schema_version'")) || !q.next()) {
            unreadable = QStringLiteral("%1 is not a perfdash capture, or is damaged beyond reading: %2")
                             .arg(path, q.lastError().text().isEmpty() ? db.lastError().text() : q.lastError().text());
        } else if ((result.version = q.value(0).toInt()) < 1 || result.version > CaptureSchemaVersion) {
            unreadable = QStringLiteral("%1 is a capture of schema version %2; this perfdash reads 1 to %3")
                             .arg(path)
                             .arg(result.version)
                             .arg(CaptureSchemaVersion);
        } else {
            const auto problem = [&](const char* what, const QSqlQuery& query) {
                result.problems.append(QStringLiteral("%1: %2").arg(QLatin1String(what), query.lastError().text()));
            };
            // The thresholds first: raw events are classified as they are replayed.
            qint64 recordedUntil = 0;
            if (q.exec(QStringLiteral(
                    "SELECT key, value FROM meta WHERE key IN ('slow_ns', 'very_slow_ns', 'recorded_until_ms')"))) {
                Thresholds limits = store.thresholds();
                while (q.next()) {
                    const QString key = q.value(0).toString();
                    const std::optional<quint64> value = key == QLatin1String("recorded_until_ms")
                        ? capturevalidation::metaNumber(q.value(1), 0, capturevalidation::MaxWallMs)
                        : capturevalidation::metaNumber(q.value(1), 0, LatencyHistogram::MaxTrackableNs);
                    if (!value) {
                        result.problems.append(
                            QStringLiteral("meta: %1 '%2' is impossible; ignored").arg(key, q.value(1).toString()));
                        continue;
                    }
                    if (key == QLatin1String("recorded_until_ms"))
                        recordedUntil = qint64(*value);
                    else
                        (key == QLatin1String("slow_ns") ? limits.slowNs : limits.verySlowNs) = *value;
                }
                if (limits.verySlowNs < limits.slowNs)
                    limits.verySlowNs = limits.slowNs;
                store.setSlowThreshold(
                    std::chrono::nanoseconds(limits.slowNs), std::chrono::nanoseconds(limits.verySlowNs));
            }
            // What the store refused while recording (a capture without these rows: zeros).
            if (q.exec(QStringLiteral("SELECT key, value FROM meta WHERE key LIKE 'refused_%'"))) {
                MetricsStore::Refusals refusals;
                const std::pair<const char*, quint64*> fields[] = { { "refused_process_limit", &refusals.processLimit },
                    { "refused_process_limit_connections", &refusals.processLimitConnections },
                    { "refused_counter_limit", &refusals.counterLimit },
                    { "refused_gauge_limit", &refusals.gaugeLimit },
                    { "refused_invalid_values", &refusals.invalidValues } };
                while (q.next()) {
                    for (const auto& [name, field] : fields) {
                        if (q.value(0).toString() != QLatin1String(name))
                            continue;
                        if (const auto value
                            = capturevalidation::metaNumber(q.value(1), 0, std::numeric_limits<qint64>::max()))
                            *field = *value;
                        else
                            result.problems.append(QStringLiteral("meta: %1 '%2' is impossible; read as 0")
                                                       .arg(QLatin1String(name), q.value(1).toString()));
                    }
                }
                store.restoreRefusals(refusals);
            }
            std::map<quint64, quint64> keys; // capture key -> store key
            std::map<quint64, ProcessInfo> saved;
            // Columns added since version 1 are at the end of their table; a capture without them reads 0.
            const QString processColumns
                = QStringLiteral("key, pid, name, command_line, instrumented, state, reason,"
                                 " first_seen_ms, last_seen_ms, dropped_events, dropped_bytes, malformed, metrics");
            if (q.exec(QStringLiteral("SELECT %1, lost_operations, refused_values, dropped_operations FROM processes")
                           .arg(processColumns))
                || q.exec(
                    QStringLiteral("SELECT %1, lost_operations, refused_values, 0 FROM processes").arg(processColumns))
                || q.exec(QStringLiteral("SELECT %1, lost_operations, 0, 0 FROM processes").arg(processColumns))
                || q.exec(QStringLiteral("SELECT %1, 0, 0, 0 FROM processes").arg(processColumns))) {
                int impossible = 0;
                while (q.next()) {
                    ProcessInfo p;
                    bool sound = true;
                    // Counts as a recording writes them; anything else is read as 0 and said.
                    const auto countAt = [&](int column) {
                        const std::optional<quint64> v = capturevalidation::count(q.value(column));
                        sound = sound && v;
                        return v.value_or(0);
                    };
                    const auto timeAt = [&](int column) {
                        const std::optional<qint64> v
                            = capturevalidation::integer(q.value(column), 0, capturevalidation::MaxWallMs);
                        sound = sound && v;
                        return v.value_or(0);
                    };
                    p.pid = capturevalidation::integer(q.value(1), 0, std::numeric_limits<qint32>::max()).value_or(0);
                    p.name = q.value(2).toString();
                    p.commandLine = q.value(3).toString().split(QChar(0x1f), Qt::SkipEmptyParts);
                    p.instrumented = q.value(4).toBool();
                    p.state = stateFrom(q.value(5).toString());
                    p.reason = q.value(6).toString();
                    p.firstSeenMs = timeAt(7);
                    p.lastSeenMs = timeAt(8);
                    p.droppedEvents = countAt(9);
                    p.droppedBytes = countAt(10);
                    p.malformed = countAt(11);
                    p.lostOperations = countAt(13);
                    p.refusedValues = countAt(14);
                    p.droppedOperations = countAt(15);
                    const QJsonObject metrics = QJsonDocument::fromJson(q.value(12).toString().toUtf8()).object();
                    for (auto it = metrics.constBegin(); it != metrics.constEnd(); ++it) {
                        const double value = it.value().toDouble(std::numeric_limits<double>::quiet_NaN());
                        if (!std::isfinite(value)) { // the wire refuses these too
                            sound = false;
                            continue;
                        }
                        if (it.key().startsWith(QLatin1String("counter:")))
                            p.counters.insert(it.key().mid(8), value);
                        else if (it.key().startsWith(QLatin1String("gauge:")))
                            p.gauges.insert(it.key().mid(6), value);
                    }
                    impossible += sound ? 0 : 1;
                    if (const quint64 key = store.openProcess(p.pid, p.name, p.commandLine)) {
                        keys[q.value(0).toULongLong()] = key;
                        saved[key] = p;
                    }
                }
                if (impossible)
                    result.problems.append(
                        QStringLiteral("processes: %1 rows hold impossible counts or times, read as 0")
                            .arg(impossible));
            } else {
                problem("processes", q);
            }
            std::map<qint64, std::pair<quint64, QString>> operations; // id -> (store key, name)
            if (q.exec(QStringLiteral("SELECT id, process_key, name FROM operations"))) {
                while (q.next()) {
                    if (auto k = keys.find(q.value(1).toULongLong()); k != keys.end())
                        operations[q.value(0).toLongLong()] = { k->second, q.value(2).toString() };
                }
            } else {
                problem("operations", q);
            }
            // Seconds in time order, each applied at its own second, as it was recorded.
            if (q.exec(QStringLiteral(
                    "SELECT operation_id, second, count, errors, sum_ns, min_ns, max_ns, overflow, buckets"
                    " FROM seconds ORDER BY second"))) {
                int bad = 0;
                QStringList why; // the kinds of impossible rows, each once
                while (q.next()) {
                    auto op = operations.find(q.value(0).toLongLong());
                    SparseHistogram h;
                    const std::optional<qint64> s
                        = capturevalidation::integer(q.value(1), 0, capturevalidation::MaxWallMs / 1000);
                    const std::optional<quint64> count = capturevalidation::count(q.value(2));
                    const std::optional<quint64> errors = capturevalidation::count(q.value(3));
                    const std::optional<quint64> sum = capturevalidation::count(q.value(4));
                    const std::optional<quint64> min = capturevalidation::count(q.value(5));
                    const std::optional<quint64> max = capturevalidation::count(q.value(6));
                    const std::optional<quint64> overflow = capturevalidation::count(q.value(7));
                    QString impossible;
                    if (op == operations.end())
                        impossible = QStringLiteral("an operation the capture does not name");
                    else if (!s || !count || !errors || !sum || !min || !max || !overflow)
                        impossible = QStringLiteral("values that are not counts");
                    else if (h.overflow = *overflow, !unpackBuckets(q.value(8).toByteArray(), h))
                        impossible = QStringLiteral("buckets that do not exist");
                    else {
                        h.count = *count;
                        h.sumNs = *sum;
                        h.minNs = *min;
                        h.maxNs = *max;
                        capturevalidation::validSecond(*s, h, *count, *errors, &impossible);
                    }
                    if (!impossible.isEmpty()) {
                        ++bad;
                        if (!why.contains(impossible))
                            why.append(impossible);
                        continue;
                    }
                    if (!result.firstMs)
                        result.firstMs = *s * 1000;
                    result.lastMs = *s * 1000 + 999;
                    clock.setWallMs(*s * 1000 + 500);
                    store.recordHistogram(op->second.first, op->second.second, h, *errors);
                }
                if (bad)
                    result.problems.append(QStringLiteral("%1 recorded seconds could not be read (%2)")
                                               .arg(bad)
                                               .arg(why.join(QStringLiteral(", "))));
            } else {
                problem("seconds", q);
            }
            if (q.exec(QStringLiteral("SELECT process_key, timestamp_ms, rss_bytes, heap_bytes, cpu_percent FROM memory"
                                      " ORDER BY timestamp_ms"))) {
                int impossible = 0;
                while (q.next()) {
                    if (auto k = keys.find(q.value(0).toULongLong()); k != keys.end()) {
                        // As the wire: memory figures of -1 (unknown) to 2^48 bytes, a CPU share /proc can give.
                        const auto time = capturevalidation::integer(q.value(1), 0, capturevalidation::MaxWallMs);
                        const auto rss = capturevalidation::integer(q.value(2), -1, capturevalidation::MaxMemoryBytes);
                        const auto heap = capturevalidation::integer(q.value(3), -1, capturevalidation::MaxMemoryBytes);
                        const QVariant cpu = q.value(4);
                        const bool cpuKnown = !cpu.isNull();
                        bool cpuNumber = false;
                        const double cpuPercent = cpu.toDouble(&cpuNumber);
                        if (!time || !rss || !heap
                            || (cpuKnown && (!cpuNumber || !capturevalidation::validCpuPercent(cpuPercent)))) {
                            ++impossible;
                            continue;
                        }
                        MemoryRecord r { *time, saved[k->second].pid, {}, *rss, *heap,
                            cpuKnown ? std::optional<double>(cpuPercent) : std::nullopt };
                        store.addMemoryRecord(k->second, r);
                        result.lastMs = std::max(result.lastMs, r.timestampMs);
                    }
                }
                if (impossible)
                    result.problems.append(
                        QStringLiteral("memory: %1 samples with impossible values were left out").arg(impossible));
            } else {
                problem("memory", q);
            }
            result.lastMs = std::max(result.lastMs, recordedUntil);
            clock.setWallMs(result.lastMs); // windows now mean "the capture's last ..."
            if (q.exec(QStringLiteral(
                    "SELECT operation_id, timestamp_ms, start_ns, duration_ns, ok, thread_id, metadata FROM events"
                    " ORDER BY timestamp_ms"))) {
                int impossible = 0;
                while (q.next()) {
                    if (auto op = operations.find(q.value(0).toLongLong()); op != operations.end()) {
                        const auto time = capturevalidation::integer(q.value(1), 0, capturevalidation::MaxWallMs);
                        const auto start
                            = capturevalidation::integer(q.value(2), 0, std::numeric_limits<qint64>::max());
                        const auto duration
                            = capturevalidation::integer(q.value(3), 0, capturevalidation::MaxDurationNs);
                        if (!time || !start || !duration) {
                            ++impossible;
                            continue;
                        }
                        OperationSample s;
                        s.operation = op->second.second;
                        s.timestampMs = *time;
                        s.startNs = *start;
                        s.durationNs = quint64(*duration);
                        s.ok = q.value(4).toBool();
                        s.threadId = quintptr(q.value(5).toULongLong());
                        s.metadata = QJsonDocument::fromJson(q.value(6).toString().toUtf8()).object().toVariantMap();
                        store.recordEvent(op->second.first, s);
                    }
                }
                if (impossible)
                    result.problems.append(
                        QStringLiteral("events: %1 with impossible times or durations were left out").arg(impossible));
            } else {
                problem("events", q);
            }
            QList<Budget> budgets;
            if (q.exec(QStringLiteral("SELECT pattern, percentile, limit_ns, window_s FROM budgets"))) {
                int impossible = 0;
                while (q.next()) {
                    bool percentileNumber = false;
                    const double percentile = q.value(1).toDouble(&percentileNumber);
                    const auto limit
                        = capturevalidation::integer(q.value(2), 1, qint64(LatencyHistogram::MaxTrackableNs));
                    const auto window = capturevalidation::integer(q.value(3), 0, StatsWindow::MaxSeconds);
                    if (q.value(0).toString().isEmpty() || !percentileNumber || !(percentile > 0 && percentile <= 100)
                        || !limit || !window) {
                        ++impossible;
                        continue;
                    }
                    budgets.append(
                        Budget { q.value(0).toString(), percentile, quint64(*limit), StatsWindow::last(int(*window)) });
                }
                if (impossible)
                    result.problems.append(
                        QStringLiteral("budgets: %1 impossible budgets were left out").arg(impossible));
                store.setBudgets(budgets);
            } else {
                problem("budgets", q);
            }
            const QString alertQuery
                = QStringLiteral("SELECT timestamp_ms, process_key, operation, kind, value_ns, details, %1"
                                 " FROM alerts ORDER BY timestamp_ms DESC LIMIT %2");
            if (q.exec(alertQuery.arg(QStringLiteral("ok")).arg(CaptureLoad::MaxLoadedAlerts))
                || q.exec(alertQuery.arg(QStringLiteral("1")).arg(CaptureLoad::MaxLoadedAlerts))) {
                int impossible = 0;
                while (q.next()) {
                    if (auto k = keys.find(q.value(1).toULongLong()); k != keys.end()) {
                        const auto time = capturevalidation::integer(q.value(0), 0, capturevalidation::MaxWallMs);
                        const auto value = capturevalidation::count(q.value(4));
                        if (!time || !value) {
                            ++impossible;
                            continue;
                        }
                        result.alerts.prepend(CapturedAlert { *time, k->second, q.value(2).toString(),
                            q.value(3).toString(), *value, q.value(5).toString(), q.value(6).toBool() });
                    }
                }
                if (impossible)
                    result.problems.append(
                        QStringLiteral("alerts: %1 with impossible times or values were left out").arg(impossible));
            } else {
                problem("alerts", q);
            }
            for (const auto& [key, p] : saved)
                store.restoreProcess(key, p);
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    if (!unreadable.isEmpty())
        return noneWith<CaptureLoad>(error, unreadable);
    return result;
}

std::optional<LoadedCapture> openCapture(const QString& path, QString* error)
{
    LoadedCapture c;
    c.clock = std::make_unique<ManualClock>(0);
    c.store = std::make_unique<MetricsStore>(c.clock.get());
    std::optional<CaptureLoad> load = loadCapture(path, *c.store, *c.clock, error);
    if (!load)
        return std::nullopt;
    c.load = std::move(*load);
    return c;
}

} // namespace perfdash
