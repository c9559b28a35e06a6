// SPDX-License-Identifier: GPL-3.0-or-later
#include "capture.h"

#include "safepath.h"

#include <QAtomicInteger>
#include <QDateTime>
#include <QFile>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTextStream>
#include <QTimer>
#include <QtEndian>

#include <algorithm>
#include <functional>
#include <map>
#include <set>
#include <tuple>

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
        case ProcessInfo::State::Live: return "live";
        case ProcessInfo::State::Exited: return "exited";
        case ProcessInfo::State::ProcOnly: return "proc";
        case ProcessInfo::State::Error: return "error";
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
    explicit Writer(const MetricsStore* store)
        : m_store(store)
        , m_connection(connectionName())
    {
        // Slow operations and budget changes, as the window lists them; queued to this thread.
        connect(store, &MetricsStore::slowOperation, this, [this](quint64 key, const OperationSample& s) {
            if (m_seeded.erase(SampleId { key, s.operation, s.timestampMs, s.durationNs }) == 0)
                slowAlert(key, s);
        });
        connect(store, &MetricsStore::budgetViolationChanged, this,
            [this](quint64 key, const BudgetViolation& v, bool broken) { budgetAlert(key, v, broken, QDateTime::currentMSecsSinceEpoch()); });
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
        std::sort(m_alerts.begin(), m_alerts.end(), [](const PendingAlert& a, const PendingAlert& b) { return a.timestampMs < b.timestampMs; });
        for (const auto& [key, violation] : store->budgetViolations())
            budgetAlert(key, violation, true, store->clock()->wallMs());
    }
    ~Writer() override { close(); }

    bool open(const QString& path, QString* error)
    {
        QFile::remove(path);
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), m_connection);
            db.setDatabaseName(path);
            if (!db.open()) {
                *error = QStringLiteral("cannot create the capture %1: %2").arg(path, db.lastError().text());
                return false;
            }
            QSqlQuery q(db);
            q.exec(QStringLiteral("PRAGMA journal_mode=WAL")); // a crash mid-write leaves the last commit intact
            for (const char* statement : Schema) {
                if (!q.exec(QString::fromLatin1(statement))) {
                    *error = QStringLiteral("cannot create the capture %1: %2").arg(path, q.lastError().text());
                    return false;
                }
            }
            q.prepare(QStringLiteral("INSERT INTO meta (key, value) VALUES (?, ?)"));
            for (const auto& [key, value] :
                { std::pair { QStringLiteral("schema_version"), QString::number(CaptureSchemaVersion) },
                    std::pair { QStringLiteral("created_ms"), QString::number(QDateTime::currentMSecsSinceEpoch()) },
                    std::pair { QStringLiteral("producer"), QStringLiteral("perfdash") } }) {
                q.addBindValue(key);
                q.addBindValue(value);
                q.exec();
            }
        }
        m_open = true;
        m_timer = new QTimer(this);
        connect(m_timer, &QTimer::timeout, this, [this] {
            QString failure;
            if (!write(&failure) && onFailure) // tried again, with more, a second later
                onFailure(failure);
        });
        m_timer->start(1000);
        return true;
    }

    /// Everything new since the last write, in one transaction.
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
        process.prepare(QStringLiteral("INSERT OR REPLACE INTO processes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        QSqlQuery operation(db);
        operation.prepare(QStringLiteral("INSERT INTO operations (id, process_key, name) VALUES (?, ?, ?)"));
        QSqlQuery second(db);
        second.prepare(QStringLiteral("INSERT OR REPLACE INTO seconds VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
        auto dense = std::make_unique<LatencyHistogram>(); // for the series columns
        QSqlQuery memory(db);
        memory.prepare(QStringLiteral("INSERT INTO memory VALUES (?, ?, ?, ?, ?)"));
        QSqlQuery event(db);
        event.prepare(QStringLiteral("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));

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
                     QVariant(QString::fromUtf8(QJsonDocument(metrics).toJson(QJsonDocument::Compact))), QVariant(p.lostOperations), QVariant(p.refusedValues),
                     QVariant(p.droppedOperations) })
                process.addBindValue(v);
            run(process);

            for (const MemoryRecord& r : m_store->memoryRecords(p.key)) {
                if (r.timestampMs <= m_lastMemory.value(p.key, 0))
                    continue;
                memory.addBindValue(p.key);
                memory.addBindValue(r.timestampMs);
                memory.addBindValue(r.rssBytes);
                memory.addBindValue(r.heapBytes);
                memory.addBindValue(r.cpuPercent ? QVariant(*r.cpuPercent) : QVariant());
                run(memory);
                m_lastMemory[p.key] = r.timestampMs;
            }
            if (!p.instrumented)
                continue;
            const auto monitor = m_store->sharedMonitor(p.key); // held: eviction may happen meanwhile
            if (!monitor)
                continue;
            for (const QString& name : monitor->operations()) {
                const QString key = QString::number(p.key) + QChar(0x1f) + name;
                auto id = m_operationIds.constFind(key);
                if (id == m_operationIds.constEnd()) {
                    id = m_operationIds.insert(key, int(m_operationIds.size()) + 1);
                    operation.addBindValue(*id);
                    operation.addBindValue(p.key);
                    operation.addBindValue(name);
                    run(operation);
                }
                const int operationId = *id;
                m_lastSecond[operationId] = monitor->forEachSecondAfter(name, m_lastSecond.value(operationId, 0),
                    [&](qint64 s, const SparseHistogram& h, quint64 errors) {
                        dense->reset();
                        h.addTo(*dense);
                        for (const QVariant& v : { QVariant(operationId), QVariant(s), QVariant(h.count), QVariant(errors),
                                 QVariant(h.sumNs), QVariant(h.minNs), QVariant(h.maxNs), QVariant(h.overflow),
                                 QVariant(packBuckets(h)), QVariant(dense->valueAtQuantile(0.50)),
                                 QVariant(dense->valueAtQuantile(0.95)), QVariant(dense->valueAtQuantile(0.99)) })
                            second.addBindValue(v);
                        run(second);
                    },
                    true); // the unfinished second too, replaced when it is finished
                for (const OperationSample& sample : monitor->samples(name)) {
                    if (sample.timestampMs <= m_lastEvent.value(operationId, 0))
                        continue;
                    for (const QVariant& v : { QVariant(operationId), QVariant(sample.timestampMs), QVariant(sample.startNs),
                             QVariant(sample.durationNs), QVariant(sample.ok), QVariant(int(sample.severity)),
                             QVariant(quint64(sample.threadId)),
                             QVariant(QString::fromUtf8(
                                 QJsonDocument(QJsonObject::fromVariantMap(sample.metadata)).toJson(QJsonDocument::Compact))) })
                        event.addBindValue(v);
                    run(event);
                    m_lastEvent[operationId] = sample.timestampMs;
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
        q.exec(QStringLiteral("DELETE FROM budgets"));
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
            for (const QVariant& v : { QVariant(a.timestampMs), QVariant(a.processKey), QVariant(a.operation), QVariant(a.kind),
                     QVariant(a.valueNs), QVariant(a.details), QVariant(a.ok) })
                alertRow.addBindValue(v);
            run(alertRow);
        }
        if (!ok) {
            db.rollback();
            return false;
        }
        m_alerts.clear();
        if (!db.commit()) {
            *error = db.lastError().text();
            return false;
        }
        return true;
    }

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
    void alert(PendingAlert a)
    {
        if (m_alerts.size() < 10'000) // a storm between two writes: the first ten thousand are kept
            m_alerts.append(std::move(a));
    }
    void slowAlert(quint64 key, const OperationSample& s)
    {
        alert({ s.timestampMs, key, s.operation,
            s.severity == OperationSample::Severity::VerySlow ? QStringLiteral("very slow") : QStringLiteral("slow"), s.durationNs,
            QString::fromUtf8(QJsonDocument(QJsonObject::fromVariantMap(s.metadata)).toJson(QJsonDocument::Compact)), s.ok });
    }
    void budgetAlert(quint64 key, const BudgetViolation& v, bool broken, qint64 timestampMs)
    {
        alert({ timestampMs, key, v.operation, broken ? QStringLiteral("budget broken") : QStringLiteral("budget met"), v.actualNs,
            QStringLiteral("p%1 <= %2 ns over %3 s (%4)")
                .arg(v.budget.percentile)
                .arg(v.budget.limitNs)
                .arg(v.budget.window.seconds)
                .arg(v.budget.pattern) });
    }

    void close()
    {
        if (!m_open)
            return;
        QString ignored;
        write(&ignored);
        delete m_timer;
        m_timer = nullptr;
        m_open = false;
        QSqlDatabase::database(m_connection, false).close();
        QSqlDatabase::removeDatabase(m_connection);
    }

private:
    const MetricsStore* m_store;
    QString m_connection;
    QTimer* m_timer = nullptr;
    bool m_open = false;
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
    if (const QString refused = safepath::checkWritableTarget(path); !refused.isEmpty()) {
        if (error)
            *error = refused;
        return false;
    }
    m_thread.start();
    m_writer = new Writer(m_store);
    m_writer->onFailure = [this](const QString& why) {
        QMetaObject::invokeMethod(this, [this, why] { Q_EMIT failed(why); }, Qt::QueuedConnection);
    };
    m_writer->moveToThread(&m_thread);
    bool ok = false;
    QString why;
    QMetaObject::invokeMethod(m_writer, [&] { ok = m_writer->open(path, &why); }, Qt::BlockingQueuedConnection);
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
    bool ok = false;
    QString why;
    QMetaObject::invokeMethod(m_writer, [&] { ok = m_writer->write(&why); }, Qt::BlockingQueuedConnection);
    if (!ok) {
        if (error)
            *error = QStringLiteral("cannot write the capture %1: %2").arg(m_path, why);
        Q_EMIT failed(why);
    }
    return ok;
}

void CaptureRecorder::stop()
{
    if (m_writer) {
        QMetaObject::invokeMethod(m_writer, [this] { delete m_writer; }, Qt::BlockingQueuedConnection);
        m_writer = nullptr;
    }
    m_thread.quit();
    m_thread.wait();
}

CaptureLoad loadCapture(const QString& path, MetricsStore& store, ManualClock& clock)
{
    CaptureLoad result;
    if (!QFile::exists(path)) {
        result.error = QStringLiteral("no capture at %1").arg(path);
        return result;
    }
    const QString connection = connectionName();
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), connection);
        db.setDatabaseName(path);
        db.setConnectOptions(QStringLiteral("QSQLITE_OPEN_READONLY"));
        QSqlQuery q(db);
        if (!db.open() || !q.exec(QStringLiteral("SELECT value FROM meta WHERE key = 'schema_version'")) || !q.next()) {
            result.error = QStringLiteral("%1 is not a perfdash capture, or is damaged beyond reading: %2")
                               .arg(path, q.lastError().text().isEmpty() ? db.lastError().text() : q.lastError().text());
        } else if ((result.version = q.value(0).toInt()) < 1 || result.version > CaptureSchemaVersion) {
            result.error = QStringLiteral("%1 is a capture of schema version %2; this perfdash reads 1 to %3")
                               .arg(path)
                               .arg(result.version)
                               .arg(CaptureSchemaVersion);
        } else {
            const auto problem = [&](const char* what, const QSqlQuery& query) {
                result.problems.append(QStringLiteral("%1: %2").arg(QLatin1String(what), query.lastError().text()));
            };
            // The thresholds first: raw events are classified as they are replayed.
            qint64 recordedUntil = 0;
            if (q.exec(QStringLiteral("SELECT key, value FROM meta WHERE key IN ('slow_ns', 'very_slow_ns', 'recorded_until_ms')"))) {
                Thresholds limits;
                while (q.next()) {
                    const QString key = q.value(0).toString();
                    if (key == QLatin1String("recorded_until_ms"))
                        recordedUntil = q.value(1).toLongLong();
                    else
                        (key == QLatin1String("slow_ns") ? limits.slowNs : limits.verySlowNs) = q.value(1).toULongLong();
                }
                store.setSlowThreshold(std::chrono::nanoseconds(limits.slowNs), std::chrono::nanoseconds(limits.verySlowNs));
            }
            // What the store refused while recording (rows written since issue 12; absent: zeros).
            if (q.exec(QStringLiteral("SELECT key, value FROM meta WHERE key LIKE 'refused_%'"))) {
                MetricsStore::Refusals refusals;
                const std::pair<const char*, quint64*> fields[] = { { "refused_process_limit", &refusals.processLimit },
                    { "refused_process_limit_connections", &refusals.processLimitConnections },
                    { "refused_counter_limit", &refusals.counterLimit }, { "refused_gauge_limit", &refusals.gaugeLimit },
                    { "refused_invalid_values", &refusals.invalidValues } };
                while (q.next()) {
                    for (const auto& [name, field] : fields) {
                        if (q.value(0).toString() == QLatin1String(name))
                            *field = q.value(1).toULongLong();
                    }
                }
                store.restoreRefusals(refusals);
            }
            std::map<quint64, quint64> keys; // capture key -> store key
            std::map<quint64, ProcessInfo> saved;
            // Columns added since version 1 are at the end of their table; a capture without them reads 0.
            const QString processColumns = QStringLiteral("key, pid, name, command_line, instrumented, state, reason,"
                                                          " first_seen_ms, last_seen_ms, dropped_events, dropped_bytes, malformed, metrics");
            if (q.exec(QStringLiteral("SELECT %1, lost_operations, refused_values, dropped_operations FROM processes").arg(processColumns))
                || q.exec(QStringLiteral("SELECT %1, lost_operations, refused_values, 0 FROM processes").arg(processColumns))
                || q.exec(QStringLiteral("SELECT %1, lost_operations, 0, 0 FROM processes").arg(processColumns))
                || q.exec(QStringLiteral("SELECT %1, 0, 0, 0 FROM processes").arg(processColumns))) {
                while (q.next()) {
                    ProcessInfo p;
                    p.pid = q.value(1).toLongLong();
                    p.name = q.value(2).toString();
                    p.commandLine = q.value(3).toString().split(QChar(0x1f), Qt::SkipEmptyParts);
                    p.instrumented = q.value(4).toBool();
                    p.state = stateFrom(q.value(5).toString());
                    p.reason = q.value(6).toString();
                    p.firstSeenMs = q.value(7).toLongLong();
                    p.lastSeenMs = q.value(8).toLongLong();
                    p.droppedEvents = q.value(9).toULongLong();
                    p.droppedBytes = q.value(10).toULongLong();
                    p.malformed = q.value(11).toULongLong();
                    p.lostOperations = q.value(13).toULongLong();
                    p.refusedValues = q.value(14).toULongLong();
                    p.droppedOperations = q.value(15).toULongLong();
                    const QJsonObject metrics = QJsonDocument::fromJson(q.value(12).toString().toUtf8()).object();
                    for (auto it = metrics.constBegin(); it != metrics.constEnd(); ++it) {
                        if (it.key().startsWith(QLatin1String("counter:")))
                            p.counters.insert(it.key().mid(8), it.value().toDouble());
                        else if (it.key().startsWith(QLatin1String("gauge:")))
                            p.gauges.insert(it.key().mid(6), it.value().toDouble());
                    }
                    if (const quint64 key = store.openProcess(p.pid, p.name, p.commandLine)) {
                        keys[q.value(0).toULongLong()] = key;
                        saved[key] = p;
                    }
                }
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
            if (q.exec(QStringLiteral("SELECT operation_id, second, count, errors, sum_ns, min_ns, max_ns, overflow, buckets"
                                      " FROM seconds ORDER BY second"))) {
                int bad = 0;
                while (q.next()) {
                    auto op = operations.find(q.value(0).toLongLong());
                    SparseHistogram h;
                    const qint64 s = q.value(1).toLongLong();
                    h.count = q.value(2).toULongLong();
                    h.sumNs = q.value(4).toULongLong();
                    h.minNs = q.value(5).toULongLong();
                    h.maxNs = q.value(6).toULongLong();
                    h.overflow = q.value(7).toULongLong();
                    if (op == operations.end() || !unpackBuckets(q.value(8).toByteArray(), h)) {
                        ++bad;
                        continue;
                    }
                    if (!result.firstMs)
                        result.firstMs = s * 1000;
                    result.lastMs = s * 1000 + 999;
                    clock.setWallMs(s * 1000 + 500);
                    store.recordHistogram(op->second.first, op->second.second, h, q.value(3).toULongLong());
                }
                if (bad)
                    result.problems.append(QStringLiteral("%1 recorded seconds could not be read").arg(bad));
            } else {
                problem("seconds", q);
            }
            if (q.exec(QStringLiteral("SELECT process_key, timestamp_ms, rss_bytes, heap_bytes, cpu_percent FROM memory"
                                      " ORDER BY timestamp_ms"))) {
                while (q.next()) {
                    if (auto k = keys.find(q.value(0).toULongLong()); k != keys.end()) {
                        MemoryRecord r { q.value(1).toLongLong(), saved[k->second].pid, {}, q.value(2).toLongLong(),
                            q.value(3).toLongLong(), q.value(4).isNull() ? std::nullopt : std::optional<double>(q.value(4).toDouble()) };
                        store.addMemoryRecord(k->second, r);
                        result.lastMs = std::max(result.lastMs, r.timestampMs);
                    }
                }
            } else {
                problem("memory", q);
            }
            result.lastMs = std::max(result.lastMs, recordedUntil);
            clock.setWallMs(result.lastMs); // windows now mean "the capture's last ..."
            if (q.exec(QStringLiteral("SELECT operation_id, timestamp_ms, start_ns, duration_ns, ok, thread_id, metadata FROM events"
                                      " ORDER BY timestamp_ms"))) {
                while (q.next()) {
                    if (auto op = operations.find(q.value(0).toLongLong()); op != operations.end()) {
                        OperationSample s;
                        s.operation = op->second.second;
                        s.timestampMs = q.value(1).toLongLong();
                        s.startNs = q.value(2).toLongLong();
                        s.durationNs = q.value(3).toULongLong();
                        s.ok = q.value(4).toBool();
                        s.threadId = quintptr(q.value(5).toULongLong());
                        s.metadata = QJsonDocument::fromJson(q.value(6).toString().toUtf8()).object().toVariantMap();
                        store.recordEvent(op->second.first, s);
                    }
                }
            } else {
                problem("events", q);
            }
            QList<Budget> budgets;
            if (q.exec(QStringLiteral("SELECT pattern, percentile, limit_ns, window_s FROM budgets"))) {
                while (q.next())
                    budgets.append(Budget { q.value(0).toString(), q.value(1).toDouble(), q.value(2).toULongLong(),
                        StatsWindow::last(q.value(3).toInt()) });
                store.setBudgets(budgets);
            } else {
                problem("budgets", q);
            }
            const QString alertQuery = QStringLiteral("SELECT timestamp_ms, process_key, operation, kind, value_ns, details, %1"
                                                      " FROM alerts ORDER BY timestamp_ms DESC LIMIT %2");
            if (q.exec(alertQuery.arg(QStringLiteral("ok")).arg(CaptureLoad::MaxLoadedAlerts))
                || q.exec(alertQuery.arg(QStringLiteral("1")).arg(CaptureLoad::MaxLoadedAlerts))) {
                while (q.next()) {
                    if (auto k = keys.find(q.value(1).toULongLong()); k != keys.end()) {
                        result.alerts.prepend(CapturedAlert { q.value(0).toLongLong(), k->second, q.value(2).toString(),
                            q.value(3).toString(), q.value(4).toULongLong(), q.value(5).toString(), q.value(6).toBool() });
                    }
                }
            } else {
                problem("alerts", q);
            }
            for (const auto& [key, p] : saved)
                store.restoreProcess(key, p);
            result.ok = true;
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(connection);
    return result;
}

LoadedCapture openCapture(const QString& path)
{
    LoadedCapture c;
    c.clock = std::make_unique<ManualClock>(0);
    c.store = std::make_unique<MetricsStore>(c.clock.get());
    c.load = loadCapture(path, *c.store, *c.clock);
    return c;
}

} // namespace perfdash
