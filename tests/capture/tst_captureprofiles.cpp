// SPDX-License-Identifier: GPL-3.0-or-later
// Captures keep the per-operation and off-CPU profiles beside the whole-process ones, and
// `perfdash compare` compares the functions inside each operation.
#include "capture/capture.h"
#include "capture/captureprofiles.h"
#include "capture/comparison.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

using namespace perfdash;

namespace {
/// An empty capture (no operations) at @p path, as --record writes one.
bool emptyCapture(const QString& path)
{
    ManualClock clock(1'700'000'000'000);
    MetricsStore store(&clock);
    CaptureRecorder recorder(&store);
    QString error;
    return recorder.start(path, &error) && recorder.finish(&error);
}

/// The lines of folded text, sorted (the order of a capture's rows is not the point).
QList<QByteArray> linesOf(const QByteArray& folded)
{
    QList<QByteArray> lines = folded.split('\n');
    lines.removeAll(QByteArray());
    std::sort(lines.begin(), lines.end());
    return lines;
}

struct Run
{
    int exitCode = -1;
    QString out;
    QString err;
};

/// The real binary, as CI calls it.
Run perfdashCompare(const QStringList& arguments)
{
    QProcess process;
    process.start(QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash"),
        QStringList { QStringLiteral("compare") } + arguments);
    Run run;
    if (!process.waitForFinished(120'000) || process.exitStatus() != QProcess::NormalExit)
        return run;
    run.exitCode = process.exitCode();
    run.out = QString::fromUtf8(process.readAllStandardOutput());
    run.err = QString::fromUtf8(process.readAllStandardError());
    return run;
}

const QByteArray baseByOperation = "svc (1);[op.a];main;parse 190\n"
                                   "svc (1);[op.a];main;slowThing 10\n"
                                   "svc (1);[op.b];main;hash 300\n"
                                   "svc (1);[op.b];[op.c slow];main;query 100\n"
                                   "svc (1);main;idle 50\n";
const QByteArray nextByOperation = "svc (2);[op.a];main;parse 190\n"
                                   "svc (2);[op.a slow];main;slowThing 80\n"
                                   "svc (2);[op.b];main;hash 300\n"
                                   "svc (2);[op.b];[op.c];main;query 100\n"
                                   "svc (2);main;idle 500\n";
} // namespace

class TestCaptureProfiles : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;

    /// A capture with no operations and @p profiles.
    QString capture(const QString& name, const QList<CapturedProfile>& profiles)
    {
        const QString path = m_dir.filePath(name);
        QString error;
        if (!emptyCapture(path) || !writeCaptureProfiles(path, profiles, &error)) {
            qWarning("%s", qPrintable(error));
            return {};
        }
        return path;
    }

private Q_SLOTS:
    /// What comparing a live process with a capture reads: its profiles, the names its tables give
    /// their pids, when it was recorded; a file that is not a capture is refused, none is made.
    void profileSetOfACapture()
    {
        const QString path = m_dir.filePath(QStringLiteral("named.perfdash"));
        {
            ManualClock clock(1'700'000'000'000);
            MetricsStore store(&clock);
            store.openProcess(7, QStringLiteral("orders-api"), {});
            CaptureRecorder recorder(&store);
            QString error;
            QVERIFY2(recorder.start(path, &error) && recorder.flush(&error), qPrintable(error));
            recorder.stop();
            QVERIFY2(writeCaptureProfiles(
                         path, { { 7, QStringLiteral("perfdash-demo"), "perfdash-demo;main 3\n", {}, {} } }, &error),
                qPrintable(error));
        }
        QString error;
        const std::optional<CaptureProfileSet> set = readCaptureProfileSet(path, &error);
        QVERIFY2(set, qPrintable(error));
        QCOMPARE(set->profiles.size(), 1);
        QCOMPARE(set->profiles[0].process, QStringLiteral("perfdash-demo"));
        QCOMPARE(set->processNames.value(7), QStringLiteral("orders-api"));
        QCOMPARE(set->recordedMs, 1'700'000'000'000);

        const QString missing = m_dir.filePath(QStringLiteral("missing.perfdash"));
        QVERIFY(!readCaptureProfileSet(missing, &error));
        QCOMPARE(error, QStringLiteral("no capture at %1").arg(missing));
        QVERIFY(!QFile::exists(missing));
        const QString text = m_dir.filePath(QStringLiteral("text.perfdash"));
        {
            QFile file(text);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(QByteArray(200, 'x'));
        }
        QVERIFY(!readCaptureProfileSet(text, &error));
        QVERIFY2(error.startsWith(QStringLiteral("%1 is not a perfdash capture").arg(text)), qPrintable(error));
        QVERIFY(!readCaptureProfileSet(m_dir.path(), &error));
        QCOMPARE(error, QStringLiteral("%1 is not a file").arg(m_dir.path()));
    }

    void roundTripOfTheThreeKinds()
    {
        const CapturedProfile first { 7, QStringLiteral("svc"), "svc (7);main;work 12\nsvc (7);main;idle 3\n",
            "svc (7);[http.GET /users slow];[db.query];main;query 5\nsvc (7);[http.GET /users];main;parse 7\n",
            "svc (7);[db.query];main;poll 1500\n", "svc (7);main;cache;malloc 33554432\nsvc (7);main;parse 4096\n" };
        const CapturedProfile second { 9, QStringLiteral("plain"), "plain (9);main;spin 40\n", {}, {} };
        const QString path = capture(QStringLiteral("roundtrip.pdcap"), { first, second });
        QVERIFY(!path.isEmpty());
        QString error;
        const QList<CapturedProfile> read = readCaptureProfiles(path, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(read.size(), 2);
        QCOMPARE(read[0].pid, 7);
        QCOMPARE(read[0].process, QStringLiteral("svc"));
        QCOMPARE(linesOf(read[0].folded), linesOf(first.folded));
        QCOMPARE(linesOf(read[0].byOperation), linesOf(first.byOperation));
        QCOMPARE(linesOf(read[0].offCpu), linesOf(first.offCpu));
        QCOMPARE(linesOf(read[0].heap), linesOf(first.heap));
        QCOMPARE(read[1].pid, 9);
        QVERIFY(read[1].heap.isEmpty());
        QCOMPARE(linesOf(read[1].folded), linesOf(second.folded));
        QVERIFY(read[1].byOperation.isEmpty());
        QVERIFY(read[1].offCpu.isEmpty());

        // Written again for pid 7: its rows of every kind are replaced, not added to.
        const CapturedProfile again { 7, QStringLiteral("svc"), "svc (7);main;work 1\n", {}, {} };
        QVERIFY2(writeCaptureProfiles(path, { again }, &error), qPrintable(error));
        const QList<CapturedProfile> reread = readCaptureProfiles(path, &error);
        QCOMPARE(reread.size(), 2);
        QCOMPARE(linesOf(reread[0].folded), linesOf(again.folded));
        QVERIFY(reread[0].byOperation.isEmpty());
        QVERIFY(reread[0].offCpu.isEmpty());
        QVERIFY(reread[0].heap.isEmpty());

        // The whole-process table keeps only the whole-process lines: a reader of before sees no
        // operation frames in it.
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("check"));
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery query(db);
            QVERIFY(query.exec(QStringLiteral("SELECT COUNT(*) FROM profiles WHERE stack LIKE '%[%'")));
            QVERIFY(query.next());
            QCOMPARE(query.value(0).toInt(), 0);
        }
        QSqlDatabase::removeDatabase(QStringLiteral("check"));
    }

    void captureOfBeforeOpensWithoutPerOperationProfiles()
    {
        // A capture written by the old schema: a `profiles` table with its four columns, and no
        // per-operation table.
        const QString path = m_dir.filePath(QStringLiteral("old.pdcap"));
        QVERIFY(emptyCapture(path));
        {
            QSqlDatabase db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("old"));
            db.setDatabaseName(path);
            QVERIFY(db.open());
            QSqlQuery query(db);
            QVERIFY2(query.exec(QStringLiteral(
                         "CREATE TABLE profiles (pid INTEGER, process TEXT, stack TEXT, count INTEGER)")),
                qPrintable(query.lastError().text()));
            QVERIFY(query.exec(QStringLiteral("INSERT INTO profiles VALUES (5, 'svc', 'svc (5);main;work', 40)")));
            QVERIFY(!db.tables().contains(QStringLiteral("operation_profiles")));
        }
        QSqlDatabase::removeDatabase(QStringLiteral("old"));
        QString error;
        const QList<CapturedProfile> read = readCaptureProfiles(path, &error);
        QVERIFY2(error.isEmpty(), qPrintable(error));
        QCOMPARE(read.size(), 1);
        QCOMPARE(read[0].folded, QByteArray("svc (5);main;work 40\n"));
        QVERIFY(read[0].byOperation.isEmpty());
        QVERIFY(read[0].offCpu.isEmpty());
        // And it compares as before, saying nothing of operations.
        QString unreadable;
        const std::optional<LoadedCapture> loaded = openCapture(path, &unreadable);
        QVERIFY2(loaded, qPrintable(unreadable));
    }

    void diffInsideOperations()
    {
        const QList<CapturedProfile> base { { 1, QStringLiteral("svc"), {}, baseByOperation, {} } };
        const QList<CapturedProfile> next { { 2, QStringLiteral("svc"), {}, nextByOperation, {} } };
        QList<ProfileShareChange> changes = diffOperationProfiles(base, next);
        QCOMPARE(judgeProfiles(&changes, ProfileVerdictOptions {}), 1);
        const auto find = [&](const QString& operation, const QString& function) -> const ProfileShareChange* {
            for (const ProfileShareChange& c : std::as_const(changes)) {
                if (c.operation == operation && c.function == function)
                    return &c;
            }
            return nullptr;
        };
        // op.a: slow and typical instances together; slowThing 10 of 200 -> 80 of 270.
        const ProfileShareChange* slow = find(QStringLiteral("op.a"), QStringLiteral("slowThing"));
        QVERIFY(slow);
        QCOMPARE(changes.constFirst().function, QStringLiteral("slowThing")); // the largest change first
        QCOMPARE(slow->process, QStringLiteral("svc"));
        QCOMPARE(slow->baseSamples, 200.0);
        QCOMPARE(slow->nextSamples, 270.0);
        QCOMPARE(slow->baseSelfShare, 10.0 / 200);
        QCOMPARE(slow->nextSelfShare, 80.0 / 270);
        QCOMPARE(slow->verdict, ProfileShareChange::Verdict::Regression);
        QCOMPARE(find(QStringLiteral("op.a"), QStringLiteral("parse"))->verdict, ProfileShareChange::Verdict::Same);
        // Nested: op.b's samples include op.c's; op.c is named without its "slow".
        const ProfileShareChange* query = find(QStringLiteral("op.b"), QStringLiteral("query"));
        QVERIFY(query);
        QCOMPARE(query->baseSamples, 400.0);
        QCOMPARE(query->baseSelfShare, 0.25);
        const ProfileShareChange* inner = find(QStringLiteral("op.c"), QStringLiteral("query"));
        QVERIFY(inner);
        QCOMPARE(inner->baseSelfShare, 1.0);
        QCOMPARE(inner->verdict, ProfileShareChange::Verdict::NotEnoughData); // 100 samples < 200
        QVERIFY(!find(QStringLiteral("op.c slow"), QStringLiteral("query")));
        // Samples outside any operation belong to none (idle grew tenfold: no operation says so).
        for (const ProfileShareChange& c : std::as_const(changes))
            QVERIFY2(c.function != QStringLiteral("idle"), qPrintable(c.operation));

        // An operation in one run only, or a process in one run only, is not compared.
        const QList<CapturedProfile> other { { 3, QStringLiteral("svc"), {}, "svc (3);[op.z];main;x 500\n", {} },
            { 4, QStringLiteral("other"), {}, "other (4);[op.a];main;y 500\n", {} } };
        QVERIFY(diffOperationProfiles(base, other).isEmpty());
        // A plain profile's own bracketed frames are not operations.
        const QList<CapturedProfile> plain { { 5, QStringLiteral("svc"), {}, "svc (5);[unknown];f 500\n", {} } };
        QVERIFY(diffOperationProfiles(plain, plain).isEmpty());
    }

    void compareThroughTheBinary()
    {
        const QString base = capture(QStringLiteral("opbase.pdcap"),
            { { 1, QStringLiteral("svc"), {}, baseByOperation, "svc (1);[op.a];main;poll 90\n" } });
        const QString next = capture(QStringLiteral("opnew.pdcap"),
            { { 2, QStringLiteral("svc"), {}, nextByOperation, "svc (2);[op.a];main;poll 10\n" } });
        QVERIFY(!base.isEmpty() && !next.isEmpty());

        Run run = perfdashCompare({ base, next });
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.out.contains(QStringLiteral("CPU profile by operation")), qPrintable(run.out));
        const QString line = run.out.split(u'\n').filter(QStringLiteral("svc/[op.a]/slowThing")).value(0);
        QVERIFY2(line.contains(QStringLiteral("REGRESSION")), qPrintable(run.out));
        QVERIFY2(line.contains(QStringLiteral("5.0%→29.6%")), qPrintable(line));
        QVERIFY2(!run.out.split(u'\n')
                      .filter(QStringLiteral("svc/[op.a]/parse"))
                      .value(0)
                      .contains(QStringLiteral("REGRESSION")),
            qPrintable(run.out));
        QVERIFY2(
            run.out.contains(QStringLiteral("1 regression(s) in the CPU profiles by operation")), qPrintable(run.out));
        QVERIFY2(!run.err.contains(QStringLiteral("nothing was compared")), qPrintable(run.err));

        // A larger threshold, or a larger minimum of samples, lets it pass.
        QCOMPARE(
            perfdashCompare({ base, next, QStringLiteral("--profile-threshold"), QStringLiteral("30") }).exitCode, 0);
        run = perfdashCompare({ base, next, QStringLiteral("--min-samples"), QStringLiteral("1000") });
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(run.out.split(u'\n')
                     .filter(QStringLiteral("svc/[op.a]/slowThing"))
                     .value(0)
                     .contains(QStringLiteral("not enough data")),
            qPrintable(run.out));

        // Markdown: a table with the operation.
        run = perfdashCompare({ base, next, QStringLiteral("--format"), QStringLiteral("markdown") });
        QCOMPARE(run.exitCode, 1);
        QVERIFY2(run.out.contains(QStringLiteral("**CPU profile by operation**")), qPrintable(run.out));
        QVERIFY2(run.out.contains(QStringLiteral("| process | operation | function |")), qPrintable(run.out));
        QVERIFY2(
            run.out.contains(QStringLiteral("| svc | op.a | slowThing | 5.0% → 29.6% | +24.6 |")), qPrintable(run.out));

        // JSON: operation_profiles.
        run = perfdashCompare({ base, next, QStringLiteral("--format"), QStringLiteral("json") });
        QCOMPARE(run.exitCode, 1);
        const QJsonObject json = QJsonDocument::fromJson(run.out.toUtf8()).object();
        const QJsonObject operations = json.value(QStringLiteral("operation_profiles")).toObject();
        QCOMPARE(operations.value(QStringLiteral("regressions")).toInt(), 1);
        QCOMPARE(json.value(QStringLiteral("profiles")).toObject().value(QStringLiteral("regressions")).toInt(), 0);
        bool seen = false;
        for (const QJsonValue& v : operations.value(QStringLiteral("functions")).toArray()) {
            const QJsonObject f = v.toObject();
            if (f.value(QStringLiteral("function")).toString() != QStringLiteral("slowThing"))
                continue;
            seen = true;
            QCOMPARE(f.value(QStringLiteral("process")).toString(), QStringLiteral("svc"));
            QCOMPARE(f.value(QStringLiteral("operation")).toString(), QStringLiteral("op.a"));
            QCOMPARE(f.value(QStringLiteral("self_base")).toDouble(), 0.05);
            QCOMPARE(f.value(QStringLiteral("samples_new")).toDouble(), 270.0);
            QCOMPARE(f.value(QStringLiteral("regression")).toBool(), true);
        }
        QVERIFY2(seen, qPrintable(run.out));

        // The same run against itself: no regression.
        run = perfdashCompare({ base, base });
        QCOMPARE(run.exitCode, 0);
        QVERIFY2(
            run.out.contains(QStringLiteral("0 regression(s) in the CPU profiles by operation")), qPrintable(run.out));
    }

    void heapsComparedByCallSite()
    {
        // The live heap of two runs (--heap --record): where the bytes went, by function, in every
        // format; shown, not judged (a heap's shape is not a slowdown).
        const QString base = capture(QStringLiteral("heapbase.pdcap"),
            { { 1, QStringLiteral("svc"), {}, {}, {},
                "svc (1);main;cache;malloc 1048576\nsvc (1);main;parse 1048576\n" } });
        const QString next = capture(QStringLiteral("heapnew.pdcap"),
            { { 2, QStringLiteral("svc"), {}, {}, {},
                "svc (2);main;cache;malloc 33554432\nsvc (2);main;parse 1048576\n" } });
        QVERIFY(!base.isEmpty() && !next.isEmpty());
        const QList<ProfileShareChange> changes
            = diffHeapProfiles(readCaptureProfiles(base), readCaptureProfiles(next));
        QVERIFY(!changes.isEmpty());
        // Largest change of bytes first: main and cache grew by 31 MiB (malloc too); parse stayed.
        QCOMPARE(changes.first().process, QStringLiteral("svc"));
        QVERIFY(changes.first().function != QStringLiteral("parse"));
        QCOMPARE(changes.first().nextTotalShare * changes.first().nextSamples
                - changes.first().baseTotalShare * changes.first().baseSamples,
            32505856.0);
        const Run text = perfdashCompare({ base, next });
        QVERIFY2(text.out.contains(QStringLiteral("Heap by call site")), qPrintable(text.out));
        QVERIFY2(text.out.contains(QStringLiteral("1.0 MiB → 32.0 MiB")), qPrintable(text.out));
        QVERIFY2(text.out.contains(QStringLiteral("+31.0 MiB")), qPrintable(text.out));
        const Run markdown = perfdashCompare({ base, next, QStringLiteral("--format"), QStringLiteral("markdown") });
        QVERIFY2(markdown.out.contains(QStringLiteral("**Heap by call site**")), qPrintable(markdown.out));
        const Run json = perfdashCompare({ base, next, QStringLiteral("--format"), QStringLiteral("json") });
        const QJsonArray heap
            = QJsonDocument::fromJson(json.out.toUtf8()).object().value(QStringLiteral("heap")).toArray();
        bool cache = false;
        for (const QJsonValue& v : heap) {
            const QJsonObject f = v.toObject();
            if (f.value(QStringLiteral("function")).toString() == QStringLiteral("cache")) {
                cache = true;
                QCOMPARE(f.value(QStringLiteral("total_bytes_base")).toDouble(), 1048576.0);
                QCOMPARE(f.value(QStringLiteral("total_bytes_new")).toDouble(), 33554432.0);
            }
        }
        QVERIFY(cache);
    }

    void nothingOfOperationsWithoutThem()
    {
        // Whole-process profiles only (captures of before, or processes that are not clients).
        const QString base = capture(QStringLiteral("plainbase.pdcap"),
            { { 1, QStringLiteral("app"), "app (1);main;parse 600\napp (1);main;sort 400\n", {}, {} } });
        const QString next = capture(QStringLiteral("plainnew.pdcap"),
            { { 2, QStringLiteral("app"), "app (2);main;parse 300\napp (2);main;sort 700\n", {}, {} } });
        QVERIFY(!base.isEmpty() && !next.isEmpty());
        for (const QString& format : { QStringLiteral("text"), QStringLiteral("markdown") }) {
            const Run run = perfdashCompare({ base, next, QStringLiteral("--format"), format });
            QCOMPARE(run.exitCode, 1); // the whole-process profile's regression, as before
            QVERIFY2(run.out.contains(QStringLiteral("1 profile regression(s)")), qPrintable(run.out));
            QVERIFY2(!run.out.contains(QStringLiteral("by operation")), qPrintable(run.out));
            QVERIFY2(!run.out.contains(QStringLiteral("[")), qPrintable(run.out));
        }
        const Run run = perfdashCompare({ base, next, QStringLiteral("--format"), QStringLiteral("json") });
        const QJsonObject operations
            = QJsonDocument::fromJson(run.out.toUtf8()).object().value(QStringLiteral("operation_profiles")).toObject();
        QCOMPARE(operations.value(QStringLiteral("regressions")).toInt(), 0);
        QVERIFY(operations.value(QStringLiteral("functions")).toArray().isEmpty());
    }
};

QTEST_GUILESS_MAIN(TestCaptureProfiles)
#include "tst_captureprofiles.moc"
