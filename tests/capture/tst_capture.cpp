// SPDX-License-Identifier: GPL-3.0-or-later
#include "capture/capture.h"
#include "capture/captureprofiles.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSignalSpy>

#include "tests/helpers/filesizelimit.h"
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <limits>
#include <random>

using namespace perfdash;

namespace {
/// A store on a manual clock with @p seconds of a log-normal operation (scaled by @p factor).
void fill(MetricsStore& store, ManualClock& clock, int seconds, double factor, quint64 seed)
{
    const quint64 key = store.openProcess(4242, u"svc"_qs, { u"/bin/svc"_qs });
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> dist(std::log(2e6), 0.7);
    for (int s = 0; s < seconds; ++s) {
        for (int i = 0; i < 200; ++i) {
            store.recordOperation(key, u"db.query"_qs, quint64(dist(rng) * factor), i % 25 != 0, {});
            store.recordOperation(key, u"cache.get"_qs, 500 + quint64(i), true, {});
        }
        OperationSample slow { u"db.query"_qs, clock.wallMs(), 250'000'000, true, OperationSample::Severity::Normal, 7,
            { { u"table"_qs, u"users"_qs } }, clock.wallMs() * 1'000'000 };
        store.recordEvent(key, slow);
        store.addMemoryRecord(key, MemoryRecord { clock.wallMs(), 4242, {}, 50'000'000 + s, 30'000'000, 12.5 });
        clock.advanceMs(1000);
    }
    store.closeProcess(key);
}

bool record(MetricsStore& store, const QString& path)
{
    CaptureRecorder recorder(&store);
    QString error;
    return recorder.start(path, &error) && recorder.flush(&error);
}

/// A capture of nothing at @p path: what compare must not take for a pass.
bool recordEmpty(const QString& path)
{
    ManualClock clock(1'700'000'000'000);
    MetricsStore empty(&clock);
    return record(empty, path);
}

QList<OperationStats> statsOf(const MetricsStore& store, StatsWindow window)
{
    return store.sharedMonitor(store.processes().constFirst().key)->allStats(window);
}
} // namespace

class TestCapture : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;

private Q_SLOTS:
    void recordThenReopenGivesTheSameStatistics_data()
    {
        QTest::addColumn<int>("window");
        QTest::newRow("session") << 0;
        QTest::newRow("last 10 s of the capture") << 10;
        QTest::newRow("last minute of the capture") << 60;
    }
    void recordThenReopenGivesTheSameStatistics()
    {
        QFETCH(int, window);
        ManualClock clock(1'700'000'000'000);
        MetricsStore live(&clock);
        live.setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
        live.setBudgets({ Budget { u"db.*"_qs, 95, 5'000'000, StatsWindow::last(60) } });
        const QString path = m_dir.filePath(QStringLiteral("live-%1.pdcap").arg(window));
        {
            CaptureRecorder recorder(&live); // recording from the start, as --record does
            QString error;
            QVERIFY2(recorder.start(path, &error), qPrintable(error));
            fill(live, clock, 90, 1.0, 1);
            QVERIFY2(recorder.flush(&error), qPrintable(error));
        }

        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
        QVERIFY2(opened, qPrintable(unreadable));
        QVERIFY2(opened->load.problems.isEmpty(), qPrintable(opened->load.problems.join(u"; "_qs)));
        const StatsWindow w = window ? StatsWindow::last(window) : StatsWindow::session();
        const auto a = statsOf(live, w), b = statsOf(*opened->store, w);
        QCOMPARE(b.size(), a.size());
        for (qsizetype i = 0; i < a.size(); ++i) {
            QCOMPARE(b[i].operation, a[i].operation);
            QCOMPARE(b[i].count, a[i].count);
            QCOMPARE(b[i].errorCount, a[i].errorCount);
            QCOMPARE(b[i].minNs, a[i].minNs);
            QCOMPARE(b[i].maxNs, a[i].maxNs);
            QCOMPARE(b[i].p50Ns, a[i].p50Ns);
            QCOMPARE(b[i].p99Ns, a[i].p99Ns);
            QCOMPARE(b[i].p999Ns, a[i].p999Ns);
            QCOMPARE(b[i].slowCount, a[i].slowCount);
        }
        const ProcessInfo p = opened->store->processes().constFirst();
        QCOMPARE(p.name, u"svc"_qs);
        QCOMPARE(p.pid, 4242);
        QCOMPARE(p.state, ProcessInfo::State::Exited);
        QCOMPARE(opened->store->memoryRecords().size(), 90);
        QCOMPARE(opened->store->memoryRecords().constLast().cpuPercent.value_or(0), 12.5);
        QCOMPARE(opened->store->budgets().size(), 1);
        const auto samples = opened->store->sharedMonitor(p.key)->samples(u"db.query"_qs);
        QCOMPARE(samples.size(), 90);
        QCOMPARE(samples.constFirst().metadata.value(u"table"_qs).toString(), u"users"_qs);
        QCOMPARE(samples.constFirst().severity, OperationSample::Severity::Slow);

        // The slow operations are in the alerts table too, for the sqlite3 shell.
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"check"_qs);
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery q(u"SELECT kind, COUNT(*) FROM alerts GROUP BY kind ORDER BY kind"_qs, db);
            QVERIFY(q.next());
            QCOMPARE(q.value(0).toString(), u"budget broken"_qs); // db.* p95 is over 5 ms
            QCOMPARE(q.value(1).toInt(), 1);
            QVERIFY(q.next());
            QCOMPARE(q.value(0).toString(), u"slow"_qs);
            QCOMPARE(q.value(1).toInt(), 90);
        }
        QSqlDatabase::removeDatabase(u"check"_qs);

        // ... and come back with the capture, for its alerts view.
        QCOMPARE(opened->load.alerts.size(), 91);
        QCOMPARE(opened->load.alerts.constFirst().kind, u"slow"_qs);
        QCOMPARE(opened->load.alerts.constFirst().processKey, p.key);
        QCOMPARE(opened->load.alerts.constFirst().valueNs, quint64(250'000'000));
        QVERIFY(opened->load.alerts.constFirst().details.contains(u"users"_qs));
        const auto broken
            = std::count_if(opened->load.alerts.cbegin(), opened->load.alerts.cend(), [](const CapturedAlert& alert) {
                  return alert.kind == u"budget broken"_qs && alert.operation == u"db.query"_qs;
              });
        QCOMPARE(broken, 1);
    }

    void aRecordingStartedLateHoldsTheEarlierAlerts()
    {
        // File > Save: the recorder starts after the session; the store's slow samples and the
        // budgets broken now are its alerts, each once.
        ManualClock clock(1'700'000'000'000);
        MetricsStore live(&clock);
        live.setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
        live.setBudgets({ Budget { u"db.*"_qs, 95, 5'000'000, StatsWindow::last(60) } });
        fill(live, clock, 30, 1.0, 3);
        const QString path = m_dir.filePath(u"late.pdcap"_qs);
        QVERIFY(record(live, path));
        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
        QVERIFY2(opened, qPrintable(unreadable));
        QList<CapturedAlert> slow;
        for (const CapturedAlert& a : opened->load.alerts) {
            if (a.kind == u"slow"_qs)
                slow.append(a);
        }
        QCOMPARE(slow.size(), 30);
        QVERIFY(std::is_sorted(slow.cbegin(), slow.cend(),
            [](const CapturedAlert& a, const CapturedAlert& b) { return a.timestampMs < b.timestampMs; }));
        QCOMPARE(opened->load.alerts.size() - slow.size(), 1); // db.* p95 is over 5 ms now
        QCOMPARE(opened->load.alerts.constLast().kind, u"budget broken"_qs);
    }

    void aCaptureWithoutTheLaterColumnsOpens()
    {
        // Version 1 grew processes.lost_operations and alerts.ok at the end of their tables; a file
        // written before reads their defaults.
        ManualClock clock(1'700'000'000'000);
        MetricsStore live(&clock);
        live.setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
        fill(live, clock, 5, 1.0, 4);
        live.setDrops(live.processes().constFirst().key, 0, 4096, 12);
        const QString path = m_dir.filePath(u"older.pdcap"_qs);
        QVERIFY(record(live, path));
        QCOMPARE(openCapture(path, nullptr)->store->processes().constFirst().lostOperations, quint64(12));
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"downgrade"_qs);
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery q(db);
            QVERIFY2(q.exec(u"ALTER TABLE processes DROP COLUMN lost_operations"_qs), qPrintable(q.lastError().text()));
            QVERIFY2(q.exec(u"ALTER TABLE alerts DROP COLUMN ok"_qs), qPrintable(q.lastError().text()));
        }
        QSqlDatabase::removeDatabase(u"downgrade"_qs);
        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
        QVERIFY2(opened && opened->load.problems.isEmpty(), qPrintable(opened->load.problems.join(u"; "_qs)));
        const ProcessInfo p = opened->store->processes().constFirst();
        QCOMPARE(p.lostOperations, quint64(0));
        QCOMPARE(p.droppedBytes, quint64(4096));
        QCOMPARE(opened->store->sharedMonitor(p.key)->stats(u"db.query"_qs)->count, quint64(1000));
        QCOMPARE(opened->load.alerts.size(), 5);
        QVERIFY(opened->load.alerts.constFirst().ok);
    }

    void damagedCapturesSayWhy()
    {
        ManualClock clock(1'700'000'000'000);
        MetricsStore live(&clock);
        fill(live, clock, 30, 1.0, 2);
        const QString path = m_dir.filePath(u"whole.pdcap"_qs);
        QVERIFY(record(live, path));

        QString missing;
        QVERIFY(!openCapture(m_dir.filePath(u"missing.pdcap"_qs), &missing));
        QVERIFY2(missing.contains(u"no capture at"_qs), qPrintable(missing));

        const QString garbage = m_dir.filePath(u"garbage.pdcap"_qs);
        QFile g(garbage);
        QVERIFY(g.open(QIODevice::WriteOnly));
        g.write(QByteArray(4096, 'x'));
        g.close();
        QString bad;
        QVERIFY(!openCapture(garbage, &bad));
        QVERIFY2(bad.contains(u"not a perfdash capture"_qs), qPrintable(bad));

        // Cut the file: whatever SQLite can still read is shown, the rest reported, nothing crashes.
        QFile whole(path);
        QVERIFY(whole.open(QIODevice::ReadOnly));
        const QByteArray bytes = whole.readAll();
        for (double keep : { 0.9, 0.6, 0.3, 0.05 }) {
            const QString cut = m_dir.filePath(QStringLiteral("cut-%1.pdcap").arg(keep));
            QFile out(cut);
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write(bytes.left(qsizetype(double(bytes.size()) * keep)));
            out.close();
            QString unreadable;
            const std::optional<LoadedCapture> partial = openCapture(cut, &unreadable);
            QVERIFY2(partial || !unreadable.isEmpty(), "a damaged capture must say why it cannot be read");
        }
    }

    void fullDiskDuringRecordingIsReported()
    {
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        const QString path = m_dir.filePath(u"full.pdcap"_qs);
        CaptureRecorder recorder(&store);
        QString error;
        QVERIFY2(recorder.start(path, &error), qPrintable(error));
        fill(store, clock, 120, 1.0, 9);
        QSignalSpy failed(&recorder, &CaptureRecorder::failed);
        bool written = true;
        {
            const FileSizeLimit limit(64 * 1024); // from here on, as if the disk were full
            QVERIFY(limit.active());
            written = recorder.flush(&error);
        }
        QVERIFY(!written);
        QVERIFY2(error.contains(path), qPrintable(error));
        QCOMPARE(failed.count(), 1);
        // The store is untouched and recording can go on once there is room again.
        QCOMPARE(store.processes().size(), 1);
        QVERIFY2(recorder.flush(&error), qPrintable(error));
        recorder.stop();
        QString unreadable;
        const std::optional<LoadedCapture> reopened = openCapture(path, &unreadable);
        QVERIFY2(reopened, qPrintable(unreadable));
        QCOMPARE(reopened->store->processes().size(), 1);
    }

    void compareExitCodes()
    {
        ManualClock baseClock(1'700'000'000'000), newClock(1'700'000'000'000);
        MetricsStore base(&baseClock), slower(&newClock);
        fill(base, baseClock, 20, 1.0, 3);
        fill(slower, newClock, 20, 1.5, 3); // db.query 50% slower
        const QString basePath = m_dir.filePath(u"base.pdcap"_qs), newPath = m_dir.filePath(u"new.pdcap"_qs);
        QVERIFY(record(base, basePath));
        QVERIFY(record(slower, newPath));

        QString outText, errText;
        QTextStream out(&outText), err(&errText);
        QCOMPARE(compareCaptures({ basePath, basePath }, out, err), 0);
        QVERIFY(outText.contains(u"0 regression(s)"_qs));
        outText.clear();
        QCOMPARE(compareCaptures({ basePath, newPath, u"--threshold"_qs, u"20"_qs }, out, err), 1);
        QVERIFY2(outText.contains(u"svc/db.query"_qs) && outText.contains(u"REGRESSION"_qs), qPrintable(outText));
        QVERIFY(!outText.split(u'\n').filter(u"cache.get"_qs).constFirst().contains(u"REGRESSION"_qs));
        outText.clear();
        QCOMPARE(compareCaptures(
                     { basePath, newPath, u"--threshold"_qs, u"60"_qs, u"--percentile"_qs, u"p50"_qs }, out, err),
            0);
        QCOMPARE(compareCaptures({ basePath, m_dir.filePath(u"missing.pdcap"_qs) }, out, err), 2);
        QVERIFY(errText.contains(u"no capture"_qs));
        QCOMPARE(compareCaptures({ basePath }, out, err), 2);
        QCOMPARE(compareCaptures({ basePath, newPath, u"--percentile"_qs, u"p0"_qs }, out, err), 2);
        QCOMPARE(compareCaptures({ basePath, newPath, u"--threshold"_qs, u"nan"_qs }, out, err), 2);
        QCOMPARE(compareCaptures({ basePath, newPath, u"--threshold"_qs, u"inf"_qs }, out, err), 2);
        QCOMPARE(compareCaptures({ basePath, newPath, u"--threshold"_qs, u"-5"_qs }, out, err), 2);
        QCOMPARE(compareCaptures({ basePath, newPath, u"--format"_qs, u"xml"_qs }, out, err), 2);

        // An empty NEW capture compared nothing: the gate must not pass (it printed "only in BASE", exit 0).
        const QString emptyPath = m_dir.filePath(u"empty.pdcap"_qs);
        QVERIFY(recordEmpty(emptyPath));
        errText.clear();
        QCOMPARE(compareCaptures({ basePath, emptyPath }, out, err), 3);
        QVERIFY2(errText.contains(u"holds no operations"_qs), qPrintable(errText));
        QCOMPARE(compareCaptures({ emptyPath, basePath }, out, err), 3);

        // Machine-readable verdicts for CI comments.
        outText.clear();
        QCOMPARE(
            compareCaptures({ basePath, newPath, u"--threshold"_qs, u"20"_qs, u"--format"_qs, u"json"_qs }, out, err),
            1);
        const QJsonObject json = QJsonDocument::fromJson(outText.toUtf8()).object();
        QCOMPARE(json.value(u"regressions"_qs).toInt(), 1);
        QCOMPARE(json.value(u"rows"_qs).toArray().size(), 2);
        outText.clear();
        QCOMPARE(compareCaptures(
                     { basePath, newPath, u"--threshold"_qs, u"20"_qs, u"--format"_qs, u"markdown"_qs }, out, err),
            1);
        QVERIFY2(outText.startsWith(u"| process | operation |"_qs) && outText.contains(u"**REGRESSION**"_qs),
            qPrintable(outText));
    }

    /// What the store refused is kept in the capture and shown again.
    void refusalsAreCaptured()
    {
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        fill(store, clock, 2, 1.0, 5);
        const quint64 key = store.processes().constFirst().key;
        store.setMetric(key, u"queue.depth"_qs, true, std::numeric_limits<double>::quiet_NaN());
        store.recordMemory(key, qint64(1) << 60, -1);
        QCOMPARE(store.process(key)->refusedValues, quint64(2));
        const QString path = m_dir.filePath(u"refusals.pdcap"_qs);
        QVERIFY(record(store, path));
        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
        QVERIFY2(opened, qPrintable(unreadable));
        QCOMPARE(opened->store->processes().constFirst().refusedValues, quint64(2));
        QVERIFY(opened->store->processes().constFirst().drops() >= 2);
    }

    /// The store-wide refusals (process limit, counter and gauge limits, invalid
    /// values) and each process's operation names over the limit are kept in the capture too; a
    /// capture written before they were reads zeros.
    void storeRefusalsAndDroppedNamesAreCaptured()
    {
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        const quint64 key = store.openProcess(4242, u"svc"_qs, { u"/bin/svc"_qs });
        const int names = MetricsStore::MaxOperationsPerProcess + 3;
        for (int i = 0; i < names; ++i)
            store.recordOperation(key, u"op.%1"_qs.arg(i), 1000, true, {});
        for (int i = 0; i <= MetricsStore::MaxCountersPerProcess; ++i)
            store.setMetric(key, u"c.%1"_qs.arg(i), false, double(i));
        store.setMetric(key, u"g"_qs, true, std::numeric_limits<double>::infinity());
        store.addRefusedForProcessLimit(5, true);
        store.addRefusedForProcessLimit(2, false);
        clock.advanceMs(1000);
        store.closeProcess(key);
        QCOMPARE(store.process(key)->droppedOperations, quint64(3));
        const QString path = m_dir.filePath(u"store-refusals.pdcap"_qs);
        QVERIFY(record(store, path));
        {
            QString unreadable;
            const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
            QVERIFY2(opened && opened->load.problems.isEmpty(),
                qPrintable(unreadable + (opened ? opened->load.problems : QStringList {}).join(u"; "_qs)));
            const MetricsStore::Refusals r = opened->store->refusals();
            QCOMPARE(r.processLimit, quint64(7));
            QCOMPARE(r.processLimitConnections, quint64(1));
            QCOMPARE(r.counterLimit, quint64(1));
            QCOMPARE(r.gaugeLimit, quint64(0));
            QCOMPARE(r.invalidValues, quint64(1));
            const ProcessInfo p = opened->store->processes().constFirst();
            QCOMPARE(p.droppedOperations, quint64(3));
            QCOMPARE(p.refusedValues, quint64(2));
        }
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(u"QSQLITE"_qs, u"downgrade-refusals"_qs);
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery q(db);
            QVERIFY2(
                q.exec(u"ALTER TABLE processes DROP COLUMN dropped_operations"_qs), qPrintable(q.lastError().text()));
            QVERIFY2(q.exec(u"DELETE FROM meta WHERE key LIKE 'refused_%'"_qs), qPrintable(q.lastError().text()));
        }
        QSqlDatabase::removeDatabase(u"downgrade-refusals"_qs);
        QString unreadable;
        const std::optional<LoadedCapture> older = openCapture(path, &unreadable);
        QVERIFY2(older && older->load.problems.isEmpty(),
            qPrintable(unreadable + (older ? older->load.problems : QStringList {}).join(u"; "_qs)));
        QCOMPARE(older->store->refusals().processLimit, quint64(0));
        QCOMPARE(older->store->refusals().counterLimit, quint64(0));
        QCOMPARE(older->store->processes().constFirst().refusedValues, quint64(2));
    }

    /// Each case a verdict must get right, row by row: what a recording can and cannot have written.
    void compareVerdicts_data()
    {
        QTest::addColumn<QList<quint64>>("baseNs"); // one entry per process of the name "svc"
        QTest::addColumn<QList<quint64>>("newNs");
        QTest::addColumn<double>("baseErrorShare");
        QTest::addColumn<double>("newErrorShare");
        QTest::addColumn<int>("perProcess");
        QTest::addColumn<int>("verdict");
        QTest::addColumn<quint64>("newCount");
        QTest::newRow("same") << QList<quint64> { 1000 } << QList<quint64> { 1000 } << 0.0 << 0.0 << 100
                              << int(Verdict::Same) << quint64(100);
        QTest::newRow("slower") << QList<quint64> { 1000 } << QList<quint64> { 2000 } << 0.0 << 0.0 << 100
                                << int(Verdict::Regression) << quint64(100);
        QTest::newRow("faster") << QList<quint64> { 2000 } << QList<quint64> { 1000 } << 0.0 << 0.0 << 100
                                << int(Verdict::Improvement) << quint64(100);
        QTest::newRow("same name, second process slower: merged, not overwritten")
            << QList<quint64> { 1000, 1000 } << QList<quint64> { 5000, 1000 } << 0.0 << 0.0 << 100
            << int(Verdict::Regression) << quint64(200);
        QTest::newRow("errors 0% to 100%") << QList<quint64> { 1000 } << QList<quint64> { 1000 } << 0.0 << 1.0 << 100
                                           << int(Verdict::Regression) << quint64(100);
        QTest::newRow("0 ns baseline") << QList<quint64> { 0 } << QList<quint64> { 5000 } << 0.0 << 0.0 << 100
                                       << int(Verdict::Regression) << quint64(100);
        QTest::newRow("too few samples") << QList<quint64> { 1000 } << QList<quint64> { 9000 } << 0.0 << 0.0 << 5
                                         << int(Verdict::NotEnoughData) << quint64(5);
        QTest::newRow("less throughput") << QList<quint64> { 1000 } << QList<quint64> { 1000 } << 0.0 << 0.0 << -100
                                         << int(Verdict::Regression) << quint64(50);
    }
    void compareVerdicts()
    {
        QFETCH(QList<quint64>, baseNs);
        QFETCH(QList<quint64>, newNs);
        QFETCH(double, baseErrorShare);
        QFETCH(double, newErrorShare);
        QFETCH(int, perProcess);
        QFETCH(int, verdict);
        QFETCH(quint64, newCount);
        const auto fillSide = [](MetricsStore& store, ManualClock& clock, const QList<quint64>& durations,
                                  double errorShare, int count) {
            QList<quint64> keys;
            for (qsizetype i = 0; i < durations.size(); ++i)
                keys.append(store.openProcess(4000 + i, u"svc"_qs, {}));
            // 10 seconds either way; a negative count means half as many in the same time.
            const int n = std::abs(count);
            for (int second = 0; second < 10; ++second) {
                for (qsizetype i = 0; i < durations.size(); ++i) {
                    for (int k = second * n / 10; k < (second + 1) * n / 10; ++k)
                        store.recordOperation(keys[i], u"op"_qs, durations[i], double(k % 100) >= errorShare * 100, {});
                }
                clock.advanceMs(1000);
            }
            for (quint64 key : keys)
                store.closeProcess(key);
        };
        ManualClock baseClock(1'700'000'000'000), newClock(1'700'000'000'000);
        MetricsStore base(&baseClock), next(&newClock);
        fillSide(base, baseClock, baseNs, baseErrorShare, std::abs(perProcess));
        fillSide(next, newClock, newNs, newErrorShare, perProcess < 0 ? std::abs(perProcess) / 2 : perProcess);
        const QList<ComparisonRow> rows = compareStores(base, next, ComparisonOptions {});
        QCOMPARE(rows.size(), 1);
        const ComparisonRow& r = rows.constFirst();
        QVERIFY2(int(r.verdict) == verdict, qPrintable(verdictName(r.verdict) + u": "_qs + r.reasons.join(u", "_qs)));
        QCOMPARE(r.next->count, newCount);
        QCOMPARE(r.regression, r.verdict == Verdict::Regression);
        QCOMPARE(r.regression, !r.reasons.isEmpty());
    }

    void compareProfilesOnly()
    {
        // Captures of processes that were profiled and not instrumented: no operations, only
        // profiles. The differential profile is the comparison, in every format and the verdict.
        const auto profileOnly = [&](const QString& name, const QByteArray& folded) {
            ManualClock clock(1'700'000'000'000);
            MetricsStore store(&clock);
            const QString path = m_dir.filePath(name);
            QString error;
            return record(store, path) && writeCaptureProfiles(path, { { 4242, u"app"_qs, folded, {}, {} } }, &error)
                ? path
                : QString();
        };
        const QString base = profileOnly(u"pbase.pdcap"_qs, "app (4242);main;parse 600\napp (4242);main;sort 400\n");
        const QString same = profileOnly(u"psame.pdcap"_qs, "app (4343);main;parse 590\napp (4343);main;sort 410\n");
        const QString slower = profileOnly(u"pslow.pdcap"_qs, "app (4444);main;parse 300\napp (4444);main;sort 700\n");
        QVERIFY(!base.isEmpty() && !same.isEmpty() && !slower.isEmpty());
        QString outText, errText;
        QTextStream out(&outText), err(&errText);
        // Text: the differential, and a verdict on it; no "nothing was compared".
        QCOMPARE(compareCaptures({ base, same }, out, err), 0);
        QVERIFY2(!errText.contains(u"nothing was compared"_qs), qPrintable(errText));
        QVERIFY2(outText.contains(u"0 profile regression(s)"_qs), qPrintable(outText));
        outText.clear();
        errText.clear();
        QCOMPARE(compareCaptures({ base, slower }, out, err), 1); // sort: 40% -> 70% of the samples
        QVERIFY2(outText.contains(u"1 profile regression(s)"_qs), qPrintable(outText));
        const QString sortLine = outText.split(u'\n').filter(u"app/sort"_qs).value(0);
        QVERIFY2(sortLine.contains(u"REGRESSION"_qs), qPrintable(outText));
        QVERIFY2(
            !outText.split(u'\n').filter(u"app/parse"_qs).value(0).contains(u"REGRESSION"_qs), qPrintable(outText));
        // A larger threshold lets it pass.
        QCOMPARE(compareCaptures({ base, slower, u"--profile-threshold"_qs, u"40"_qs }, out, err), 0);
        QCOMPARE(compareCaptures({ base, slower, u"--profile-threshold"_qs, u"x"_qs }, out, err), 2);

        // JSON: the profile diff is in the document.
        outText.clear();
        QCOMPARE(compareCaptures({ base, slower, u"--format"_qs, u"json"_qs }, out, err), 1);
        const QJsonObject json = QJsonDocument::fromJson(outText.toUtf8()).object();
        const QJsonObject profiles = json.value(u"profiles"_qs).toObject();
        QCOMPARE(profiles.value(u"regressions"_qs).toInt(), 1);
        bool sortSeen = false;
        for (const QJsonValue& v : profiles.value(u"functions"_qs).toArray()) {
            const QJsonObject f = v.toObject();
            if (f.value(u"function"_qs).toString() != u"sort"_qs)
                continue;
            sortSeen = true;
            QCOMPARE(f.value(u"process"_qs).toString(), u"app"_qs);
            QCOMPARE(f.value(u"self_base"_qs).toDouble(), 0.4);
            QCOMPARE(f.value(u"self_new"_qs).toDouble(), 0.7);
            QCOMPARE(f.value(u"regression"_qs).toBool(), true);
        }
        QVERIFY2(sortSeen, qPrintable(outText));
        QCOMPARE(json.value(u"regressions"_qs).toInt(), 0); // of operations, as before

        // Markdown: a table, not plain text.
        outText.clear();
        QCOMPARE(compareCaptures({ base, slower, u"--format"_qs, u"markdown"_qs }, out, err), 1);
        QVERIFY2(outText.contains(u"| process | function |"_qs), qPrintable(outText));
        QVERIFY2(outText.contains(u"| app | sort | 40.0% → 70.0% |"_qs), qPrintable(outText));

        // Nothing on either side at all: still exit 3.
        const QString emptyPath = m_dir.filePath(u"nothing.pdcap"_qs);
        QVERIFY(recordEmpty(emptyPath));
        errText.clear();
        QCOMPARE(compareCaptures({ base, emptyPath }, out, err), 3);
        QVERIFY2(errText.contains(u"nothing was compared"_qs), qPrintable(errText));
    }
};

QTEST_GUILESS_MAIN(TestCapture)
#include "tst_capture.moc"
