// SPDX-License-Identifier: GPL-3.0-or-later
// Captures when things go wrong: a recording through a full disk (what was not written is
// written once there is room, what the store no longer held is counted and said, and the run
// fails when the capture is incomplete), a full disk at the start (nothing left behind), captures
// opened from places that cannot be written (cleanly closed: one self-contained file; crashed:
// its -wal read, from a copy when need be), files private to the user, and hostile captures
// whose impossible values are refused on load as the wire refuses them.
#include "capture/capture.h"

#include "tests/helpers/asroot.h"
#include "tests/helpers/fileaccess.h"
#include "tests/helpers/filesizelimit.h"
#include "tests/helpers/smalldisk.h"

#include <QCoreApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSignalSpy>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <functional>
#include <grp.h>
#include <memory>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace perfdash;

namespace {

QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/// Where a full disk comes from: a small tmpfs (root), or RLIMIT_FSIZE in this process.
class FullDisk
{
public:
    explicit FullDisk(bool tmpfs)
        : m_tmpfs(tmpfs)
        , m_disk(tmpfs ? 16 << 20 : 0)
    {
    }
    bool usable() const { return !m_tmpfs || m_disk.mounted(); }
    QString dir() const { return m_tmpfs ? m_disk.path() : m_plain.path(); }
    void fill()
    {
        if (m_tmpfs)
            m_disk.fill(0);
        else
            m_limit = std::make_unique<FileSizeLimit>(1);
    }
    void free()
    {
        if (m_tmpfs)
            m_disk.free();
        m_limit.reset();
    }
    QStringList files() const
    {
        QStringList names = QDir(dir()).entryList(QDir::Files | QDir::Hidden | QDir::System);
        names.removeAll(s(".filler"));
        return names;
    }

private:
    bool m_tmpfs;
    SmallDisk m_disk;
    QTemporaryDir m_plain;
    std::unique_ptr<FileSizeLimit> m_limit;
};

/// One second of work on the live store: @p ops operations of each name, then the clock moves on.
void second(MetricsStore& store, ManualClock& clock, quint64 key, const QStringList& names, int ops = 50)
{
    for (const QString& name : names) {
        for (int i = 0; i < ops; ++i)
            store.recordOperation(key, name, 1'000'000 + quint64(i) * 1000, i % 10 != 0, {});
    }
    store.addMemoryRecord(key, MemoryRecord { clock.wallMs(), 4242, {}, 50'000'000, 30'000'000, 12.5 });
    clock.advanceMs(1000);
}

quint64 countOf(const MetricsStore& store, const QString& operation)
{
    for (const ProcessInfo& p : store.processes()) {
        if (const auto monitor = store.sharedMonitor(p.key)) {
            if (const auto st = monitor->stats(operation))
                return st->count;
        }
    }
    return 0;
}

/// The journal mode written in a SQLite file's header: 1 rollback (self-contained), 2 WAL.
int headerJournalMode(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    const QByteArray head = f.read(100);
    return head.size() == 100 ? int(quint8(head[18])) : -1;
}

bool copyFile(const QString& from, const QString& to)
{
    QFile::remove(to);
    return QFile::copy(from, to);
}

bool execSql(const QString& path, const QStringList& statements)
{
    bool ok = true;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(s("QSQLITE"), s("hostile"));
        db.setDatabaseName(path);
        ok = db.open();
        QSqlQuery q(db);
        for (const QString& statement : statements) {
            if (ok && !q.exec(statement)) {
                qWarning("%s: %s", qPrintable(statement), qPrintable(q.lastError().text()));
                ok = false;
            }
        }
        db.close();
    }
    QSqlDatabase::removeDatabase(s("hostile"));
    return ok;
}

int distinctSeconds(const QString& path)
{
    int n = -1;
    {
        QSqlDatabase db = QSqlDatabase::addDatabase(s("QSQLITE"), s("seconds"));
        db.setDatabaseName(path);
        QSqlQuery q(db);
        if (db.open() && q.exec(s("SELECT COUNT(DISTINCT second) FROM seconds")) && q.next())
            n = q.value(0).toInt();
        db.close();
    }
    QSqlDatabase::removeDatabase(s("seconds"));
    return n;
}

/// A cleanly finished capture of @p seconds seconds.
bool recordCapture(const QString& path, int seconds, QString* error)
{
    ManualClock clock(1'700'000'000'000);
    MetricsStore store(&clock);
    const quint64 key = store.openProcess(4242, s("svc"), { s("/bin/svc"), s("--password=hunter2") });
    CaptureRecorder recorder(&store);
    if (!recorder.start(path, error))
        return false;
    for (int i = 0; i < seconds; ++i) {
        second(store, clock, key, { s("db.query") });
        OperationSample slow { s("db.query"), clock.wallMs(), 250'000'000, true, OperationSample::Severity::Normal, 7,
            {}, clock.wallMs() * 1'000'000 };
        store.recordEvent(key, slow);
    }
    store.closeProcess(key);
    return recorder.finish(error);
}

/// Runs @p f in a child that became nobody (uid 65534): root reads and writes everywhere.
int asNobody(const std::function<int()>& f)
{
    const pid_t child = ::fork();
    if (child == 0) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(65534) != 0 || ::setuid(65534) != 0)
            ::_exit(10);
        ::_exit(f());
    }
    int status = 0;
    if (::waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

} // namespace

class TestCaptureFaults : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void recordingThroughAFullDisk_data() { addFullDiskRows(); }
    /// Guards against: with the disk full for 20 s, those seconds stayed missing for good, an operation
    /// first seen while full was absent, and reopening said "13 recorded seconds could not be read".
    void recordingThroughAFullDisk()
    {
        QFETCH(bool, tmpfs);
        FullDisk disk(tmpfs);
        SKIP_OR_FAIL_AS_ROOT(disk.usable(), "mounting a tmpfs needs root; the RLIMIT_FSIZE row covers this case here");
        ManualClock clock(1'700'000'000'000);
        MetricsStore live(&clock);
        const quint64 key = live.openProcess(4242, s("svc"), { s("/bin/svc") });
        const QString path = disk.dir() + s("/run.pdcap");
        CaptureRecorder recorder(&live);
        QString error;
        QVERIFY2(recorder.start(path, &error), qPrintable(error));
        QSignalSpy failed(&recorder, &CaptureRecorder::failed);
        for (int i = 0; i < 4; ++i) {
            second(live, clock, key, { s("db.query") });
            QVERIFY2(recorder.flush(&error), qPrintable(error));
        }
        disk.fill();
        for (int i = 0; i < 20; ++i) { // 20 s full; an operation appears meanwhile
            second(live, clock, key,
                i >= 5 ? QStringList { s("db.query"), s("first.seen.while.full") } : QStringList { s("db.query") });
            QVERIFY(!recorder.flush(&error));
        }
        QVERIFY2(error.contains(path), qPrintable(error));
        QCOMPARE(failed.count(), 1); // said once for the episode, not once a second
        disk.free();
        for (int i = 0; i < 3; ++i) {
            second(live, clock, key, { s("db.query"), s("first.seen.while.full") });
            QVERIFY2(recorder.flush(&error), qPrintable(error));
        }
        QCOMPARE(recorder.stats().lostOperations, quint64(0));
        QVERIFY2(recorder.finish(&error), qPrintable(error));

        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
        QVERIFY2(opened, qPrintable(unreadable));
        QVERIFY2(opened->load.problems.isEmpty(), qPrintable(opened->load.problems.join(u"; "_qs)));
        QCOMPARE(countOf(*opened->store, s("db.query")), countOf(live, s("db.query")));
        QCOMPARE(countOf(*opened->store, s("first.seen.while.full")), countOf(live, s("first.seen.while.full")));
        QCOMPARE(countOf(*opened->store, s("first.seen.while.full")), quint64(18 * 50));
        // Every second, the full ones included.
        QCOMPARE(distinctSeconds(path), 27);
    }

    /// Full for longer than the store keeps seconds (5 minutes): what it no longer held is given
    /// up, counted and said; the capture is incomplete, so the run must fail.
    void recordingGivesUpWhatTheStoreNoLongerHolds()
    {
        FullDisk disk(false);
        ManualClock clock(1'700'000'000'000);
        MetricsStore live(&clock);
        const quint64 key = live.openProcess(4242, s("svc"), { s("/bin/svc") });
        const QString path = disk.dir() + s("/long.pdcap");
        CaptureRecorder recorder(&live);
        QString error;
        QVERIFY2(recorder.start(path, &error), qPrintable(error));
        second(live, clock, key, { s("db.query") }, 10);
        QVERIFY2(recorder.flush(&error), qPrintable(error));
        disk.fill();
        for (int i = 0; i < 400; ++i) {
            second(live, clock, key, { s("db.query") }, 10);
            if (i % 50 == 0)
                QVERIFY(!recorder.flush(&error));
        }
        disk.free();
        QVERIFY2(recorder.flush(&error), qPrintable(error));
        const CaptureRecorder::Stats st = recorder.stats();
        // 400 seconds of 10 while full; the store holds the last 5 minutes of seconds.
        QVERIFY2(
            st.lostOperations >= 1000 && st.lostOperations <= 1010, qPrintable(QString::number(st.lostOperations)));
        QVERIFY(st.failedWrites >= 8);
        QString summary;
        QVERIFY(!recorder.finish(&summary));
        QVERIFY2(summary.contains(path) && summary.contains(QString::number(st.lostOperations)), qPrintable(summary));
        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
        QVERIFY2(opened, qPrintable(unreadable));
        QCOMPARE(countOf(*opened->store, s("db.query")) + st.lostOperations, countOf(live, s("db.query")));
    }

    /// A disk that is full at the end: the last write fails, the capture misses its tail: failure.
    void finishOnAFullDiskIsAFailure()
    {
        FullDisk disk(false);
        ManualClock clock(1'700'000'000'000);
        MetricsStore live(&clock);
        const quint64 key = live.openProcess(4242, s("svc"), { s("/bin/svc") });
        const QString path = disk.dir() + s("/tail.pdcap");
        CaptureRecorder recorder(&live);
        QString error;
        QVERIFY2(recorder.start(path, &error), qPrintable(error));
        second(live, clock, key, { s("db.query") });
        QVERIFY2(recorder.flush(&error), qPrintable(error));
        second(live, clock, key, { s("db.query") });
        QString summary;
        bool complete = true;
        {
            const FileSizeLimit limit(1);
            complete = recorder.finish(&summary);
        }
        QVERIFY(!complete);
        QVERIFY2(summary.contains(path), qPrintable(summary));
        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable); // what was written before is there
        QVERIFY2(opened, qPrintable(unreadable));
        QCOMPARE(countOf(*opened->store, s("db.query")), quint64(50));
    }

    void fullDiskAtStartLeavesNothing_data() { addFullDiskRows(); }
    /// It left a 0-byte capture behind, over the previous one.
    void fullDiskAtStartLeavesNothing()
    {
        QFETCH(bool, tmpfs);
        FullDisk disk(tmpfs);
        SKIP_OR_FAIL_AS_ROOT(disk.usable(), "mounting a tmpfs needs root; the RLIMIT_FSIZE row covers this case here");
        const QString previous = disk.dir() + s("/previous.pdcap");
        QString error;
        QVERIFY2(recordCapture(previous, 3, &error), qPrintable(error));
        QFile::remove(disk.dir() + s("/previous.pdcap-journal"));
        const QStringList before = disk.files();
        QFile original(previous);
        QVERIFY(original.open(QIODevice::ReadOnly));
        const QByteArray bytes = original.readAll();
        original.close();

        MetricsStore store;
        CaptureRecorder recorder(&store);
        disk.fill();
        QVERIFY(!recorder.start(disk.dir() + s("/new.pdcap"), &error));
        QVERIFY2(error.contains(s("new.pdcap")), qPrintable(error));
        QVERIFY(!recorder.start(previous, &error)); // over an existing capture: it stays
        disk.free();
        QCOMPARE(disk.files(), before);
        QVERIFY(original.open(QIODevice::ReadOnly));
        QCOMPARE(original.readAll(), bytes);
        QVERIFY(openCapture(previous, nullptr));
    }

    /// A cleanly closed capture is one file, in rollback mode, 0600: its -wal and -shm are gone.
    void aCleanCaptureIsOneSelfContainedPrivateFile()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(s("clean.pdcap"));
        QString error;
        QVERIFY2(recordCapture(path, 5, &error), qPrintable(error));
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files | QDir::Hidden), QStringList { s("clean.pdcap") });
        QCOMPARE(headerJournalMode(path), 1);
        QCOMPARE(permissionsOf(path), 0600);
    }

    void openFromAReadOnlyPlace_data()
    {
        QTest::addColumn<bool>("crashed");
        QTest::addColumn<bool>("readOnlyMount");
        QTest::newRow("clean, read-only mount") << false << true;
        QTest::newRow("clean, unwritable directory") << false << false;
        QTest::newRow("crashed with its -wal, read-only mount") << true << true;
        QTest::newRow("crashed with its -wal, unwritable directory") << true << false;
    }
    /// "not a perfdash capture, or is damaged beyond reading": a closed capture stayed in WAL mode,
    /// which SQLite cannot read where it cannot create the -shm file.
    void openFromAReadOnlyPlace()
    {
        QFETCH(bool, crashed);
        QFETCH(bool, readOnlyMount);
        SmallDisk disk(16 << 20);
        SKIP_OR_FAIL_AS_ROOT(!readOnlyMount || disk.mounted(), "a read-only mount needs root (CI runs as root)");
        QTemporaryDir work;
        const QString source = work.filePath(s("source.pdcap"));
        QString error;
        qint64 recordedUntil = 0;
        if (crashed) {
            // As perfdash killed while recording: the file and its -wal as they are between two writes.
            ManualClock clock(1'700'000'000'000);
            MetricsStore store(&clock);
            const quint64 key = store.openProcess(4242, s("svc"), { s("/bin/svc") });
            CaptureRecorder recorder(&store);
            QVERIFY2(recorder.start(source, &error), qPrintable(error));
            for (int i = 0; i < 5; ++i) {
                second(store, clock, key, { s("db.query") });
                QVERIFY2(recorder.flush(&error), qPrintable(error));
            }
            QVERIFY(QFileInfo(source + s("-wal")).size() > 0);
            QVERIFY(copyFile(source, work.filePath(s("crash.pdcap"))));
            QVERIFY(copyFile(source + s("-wal"), work.filePath(s("crash.pdcap-wal"))));
            recordedUntil = clock.wallMs();
            recorder.stop();
        } else {
            QVERIFY2(recordCapture(source, 5, &error), qPrintable(error));
        }
        const QString name = crashed ? s("crash.pdcap") : s("source.pdcap");
        const QString place = readOnlyMount ? disk.path() : work.filePath(s("shared"));
        QVERIFY(QDir().mkpath(place));
        QVERIFY(copyFile(work.filePath(name), place + u'/' + name));
        if (crashed)
            QVERIFY(copyFile(work.filePath(name) + s("-wal"), place + u'/' + name + s("-wal")));

        const auto check = [&]() -> int {
            QString unreadable;
            const std::optional<LoadedCapture> opened = openCapture(place + u'/' + name, &unreadable);
            if (!opened) {
                qWarning("%s", qPrintable(unreadable));
                return 1;
            }
            if (countOf(*opened->store, s("db.query")) != 250) {
                qWarning("count %llu", countOf(*opened->store, s("db.query")));
                return 2;
            }
            const QString notes = opened->load.notes.join(u' ');
            if (crashed != notes.contains(s("-wal"))) { // the message says which case it is
                qWarning("notes: %s", qPrintable(notes));
                return 3;
            }
            if (crashed && !notes.contains(s("not closed cleanly"))) {
                qWarning("notes: %s", qPrintable(notes));
                return 4;
            }
            return 0;
        };
        if (readOnlyMount) {
            QVERIFY(
                ::mount(nullptr, QFile::encodeName(disk.path()).constData(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr)
                == 0);
            QCOMPARE(check(), 0);
            // Nothing was written next to it (it could not have been).
            QCOMPARE(disk.files().size(), crashed ? 2 : 1);
        } else if (::geteuid() == 0) {
            // A directory the user cannot write: nobody's capture in root's 0755 directory.
            QVERIFY(::chmod(QFile::encodeName(work.path()).constData(), 0755) == 0);
            QVERIFY(::chmod(QFile::encodeName(place).constData(), 0755) == 0);
            for (const QString& file : QDir(place).entryList(QDir::Files))
                QVERIFY(::chown(QFile::encodeName(place + u'/' + file).constData(), 65534, 65534) == 0);
            QCOMPARE(asNobody(check), 0);
            QCOMPARE(QDir(place).entryList(QDir::Files | QDir::Hidden).size(), crashed ? 2 : 1);
        } else {
            QVERIFY(::chmod(QFile::encodeName(place).constData(), 0555) == 0);
            QCOMPARE(check(), 0);
            ::chmod(QFile::encodeName(place).constData(), 0755);
        }
        Q_UNUSED(recordedUntil);
    }

    void savingOnAFullDisk_data() { addFullDiskRows(); }
    /// File > Save capture: whole or not at all, over the previous file or not.
    void savingOnAFullDisk()
    {
        QFETCH(bool, tmpfs);
        FullDisk disk(tmpfs);
        SKIP_OR_FAIL_AS_ROOT(disk.usable(), "mounting a tmpfs needs root; the RLIMIT_FSIZE row covers this case here");
        const QString path = disk.dir() + s("/saved.pdcap");
        QString error;
        QVERIFY2(recordCapture(path, 2, &error), qPrintable(error));
        QFile previous(path);
        QVERIFY(previous.open(QIODevice::ReadOnly));
        const QByteArray bytes = previous.readAll();
        previous.close();
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        const quint64 key = store.openProcess(4242, s("svc"), { s("/bin/svc") });
        for (int i = 0; i < 30; ++i)
            second(store, clock, key, { s("db.query") });
        disk.fill();
        QVERIFY(!saveCapture(&store, path, {}, &error));
        QVERIFY2(error.contains(path), qPrintable(error));
        disk.free();
        QCOMPARE(disk.files(), QStringList { s("saved.pdcap") });
        QVERIFY(previous.open(QIODevice::ReadOnly));
        QCOMPARE(previous.readAll(), bytes);
        previous.close();
        QVERIFY2(saveCapture(&store, path, {}, &error), qPrintable(error));
        QCOMPARE(disk.files(), QStringList { s("saved.pdcap") });
        QCOMPARE(headerJournalMode(path), 1);
        QCOMPARE(permissionsOf(path), 0600);
        QCOMPARE(countOf(*openCapture(path, nullptr)->store, s("db.query")), quint64(30 * 50));
    }

    /// --record onto a disk that fills during the run and stays full: the run says what the
    /// capture misses and exits 1 (it exited 0).
    void recordingRunOnADiskThatFills()
    {
        SmallDisk disk(8 << 20);
        SKIP_OR_FAIL_AS_ROOT(disk.mounted(), "mounting a tmpfs needs root (CI runs as root)");
        QTemporaryDir sockets;
        const QString path = disk.filePath(s("run.pdcap"));
        const QString filler = disk.filePath(s(".filler"));
        QProcess perfdash;
        perfdash.start(QCoreApplication::applicationDirPath() + s("/perfdash"),
            { s("--headless"), s("--quiet"), s("--socket"), sockets.filePath(s("p.sock")), s("--record"), path, s("--"),
                QCoreApplication::applicationDirPath() + s("/perfdash-demo"), s("--threads"), s("1"), s("--rate"),
                s("200"), s("--duration"), s("5"), s("--operations"), s("50") });
        QVERIFY(perfdash.waitForStarted(30'000));
        QTRY_VERIFY_WITH_TIMEOUT(QFileInfo(path + s("-wal")).size() > 0, 30'000);
        QVERIFY(disk.fill(0));
        QVERIFY(perfdash.waitForFinished(60'000));
        const QByteArray err = perfdash.readAllStandardError();
        QVERIFY2(perfdash.exitStatus() == QProcess::NormalExit && perfdash.exitCode() == 1,
            qPrintable(QString::number(perfdash.exitCode()) + u": "_qs + QString::fromUtf8(err)));
        QVERIFY2(err.contains("recording: cannot write the capture") && err.contains("is incomplete"), err.constData());
        QCOMPARE(QString::fromUtf8(err).count(s("recording: cannot write")), 1); // said once, not every second
        disk.free();
        QVERIFY(openCapture(path, nullptr)); // what was written is readable
    }

    /// `--open FILE --headless` said "listening on ..." though it listens on nothing.
    void openHeadlessDoesNotSayListening()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(s("quiet.pdcap"));
        QString error;
        QVERIFY2(recordCapture(path, 3, &error), qPrintable(error));
        QProcess perfdash;
        perfdash.start(QCoreApplication::applicationDirPath() + s("/perfdash"),
            { s("--headless"), s("--open"), path, s("--export-csv"), dir.filePath(s("stats.csv")) });
        QVERIFY(perfdash.waitForFinished(60'000));
        QCOMPARE(perfdash.exitCode(), 0);
        const QByteArray out = perfdash.readAllStandardOutput() + perfdash.readAllStandardError();
        QVERIFY2(!out.contains("listening"), out.constData());
        QCOMPARE(permissionsOf(dir.filePath(s("stats.csv"))), 0600);
    }

    /// Counts no recording makes (9223372036854775898, a CPU of -1e308, ...) were loaded as they
    /// were: refused now, as the wire refuses them, and said; the rest of the capture is shown.
    void hostileCapturesAreValidated()
    {
        QTemporaryDir dir;
        const QString path = dir.filePath(s("hostile.pdcap"));
        QString error;
        QVERIFY2(recordCapture(path, 6, &error), qPrintable(error));
        QVERIFY(execSql(path,
            { s("UPDATE seconds SET count = 9223372036854775898 WHERE second = (SELECT MIN(second) FROM seconds)"),
                s("UPDATE seconds SET errors = count + 5 WHERE second = (SELECT MIN(second) + 1 FROM seconds)"),
                s("UPDATE seconds SET min_ns = 900, max_ns = 100 WHERE second = (SELECT MIN(second) + 2 FROM seconds)"),
                s("UPDATE memory SET cpu_percent = -1e308 WHERE timestamp_ms = (SELECT MIN(timestamp_ms) FROM memory)"),
                s("UPDATE memory SET rss_bytes = 9223372036854775000 WHERE timestamp_ms = (SELECT MAX(timestamp_ms) "
                  "FROM memory)"),
                s("UPDATE events SET duration_ns = -5 WHERE rowid = (SELECT MIN(rowid) FROM events)"),
                s("UPDATE processes SET dropped_events = -3, lost_operations = 1e300"),
                s("UPDATE meta SET value = '-1' WHERE key = 'slow_ns'"),
                s("INSERT INTO budgets VALUES ('db.*', 250, -1, 60)") }));
        QString unreadable;
        const std::optional<LoadedCapture> opened = openCapture(path, &unreadable);
        QVERIFY2(opened, qPrintable(unreadable));
        const QString problems = opened->load.problems.join(u"; "_qs);
        QVERIFY2(problems.contains(s("3 recorded seconds")), qPrintable(problems));
        QVERIFY2(problems.contains(s("memory")) && problems.contains(s("events")) && problems.contains(s("processes"))
                && problems.contains(s("budgets")),
            qPrintable(problems));
        const ProcessInfo p = opened->store->processes().constFirst();
        QCOMPARE(p.droppedEvents, quint64(0));
        QCOMPARE(p.lostOperations, quint64(0));
        QCOMPARE(countOf(*opened->store, s("db.query")), quint64(3 * 50)); // the three sound seconds
        for (const MemoryRecord& r : opened->store->memoryRecords()) {
            QVERIFY(!r.cpuPercent || (*r.cpuPercent >= 0 && *r.cpuPercent <= 1e6));
            QVERIFY(r.rssBytes <= (qint64(1) << 48));
        }
        QCOMPARE(opened->store->memoryRecords().size(), 4);
        QVERIFY(opened->store->budgets().isEmpty());
        QVERIFY(opened->store->thresholds().slowNs <= LatencyHistogram::MaxTrackableNs); // "-1" is not read as 2^64 - 1
    }
};

QTEST_GUILESS_MAIN(TestCaptureFaults)
#include "tst_capturefaults.moc"
