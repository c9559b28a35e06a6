// SPDX-License-Identifier: GPL-3.0-or-later
// The comparison window's model says what `perfdash compare` says: the same verdicts, for the
// same two captures and the same options, and colours that follow the verdict, not the sign.
#include "capture/capture.h"
#include "models/comparisonmodel.h"

#include <QAbstractItemModelTester>
#include <QBrush>
#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QTest>

#include <limits>
#include <map>

Q_DECLARE_METATYPE(perfdash::ComparisonOptions)

using namespace perfdash;

namespace {
/// Operation -> (instances per second, duration scale, one failure in how many; 0: none).
struct Workload
{
    int perSecond = 100;
    double scale = 1.0;
    int failEvery = 0;
};

QString writeCapture(const QString& path, const std::map<QString, Workload>& operations)
{
    ManualClock clock(1'700'000'000'000);
    MetricsStore store(&clock);
    const quint64 key = store.openProcess(4242, QStringLiteral("svc"), { QStringLiteral("/bin/svc") });
    for (int second = 0; second < 5; ++second) {
        for (const auto& [name, w] : operations) {
            for (int i = 0; i < w.perSecond; ++i) {
                const quint64 ns = quint64((1'000'000.0 + 20'000.0 * (i % 50)) * w.scale);
                store.recordOperation(key, name, ns, !(w.failEvery && i % w.failEvery == 0), {});
            }
        }
        clock.advanceMs(1000);
    }
    store.closeProcess(key);
    CaptureRecorder recorder(&store);
    QString error;
    if (!recorder.start(path, &error) || !recorder.flush(&error))
        return error.isEmpty() ? QStringLiteral("cannot record") : error;
    recorder.stop();
    return {};
}
} // namespace

class TestComparisonModel : public QObject
{
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    QString m_base, m_next;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_base = m_dir.filePath(QStringLiteral("base.perfdash"));
        m_next = m_dir.filePath(QStringLiteral("new.perfdash"));
        QCOMPARE(writeCapture(m_base,
                     { { QStringLiteral("db.query"), {} }, { QStringLiteral("cache.get"), {} },
                         { QStringLiteral("render"), {} }, { QStringLiteral("flaky"), {} },
                         { QStringLiteral("steady"), {} }, { QStringLiteral("rare"), { 1, 1.0, 0 } },
                         { QStringLiteral("gone"), {} }, { QStringLiteral("busy"), { 200, 1.0, 0 } } }),
            QString());
        QCOMPARE(writeCapture(m_next,
                     { { QStringLiteral("db.query"), { 100, 1.6, 0 } }, // slower
                         { QStringLiteral("cache.get"), { 100, 0.5, 0 } }, // faster
                         { QStringLiteral("render"), {} }, // same
                         { QStringLiteral("flaky"), { 100, 1.0, 10 } }, // 10% errors
                         { QStringLiteral("steady"), { 100, 0.97, 0 } }, // a little faster, within 10%
                         { QStringLiteral("rare"), { 1, 3.0, 0 } }, // too few to judge
                         { QStringLiteral("added"), {} }, // only in NEW
                         { QStringLiteral("busy"), { 100, 1.0, 0 } } }), // half the throughput
            QString());
    }

    /// The verdict column of every row is the command line's verdict and reasons, for the same
    /// captures and options (the real binary, --format json).
    void verdictsAreTheCommandLines_data()
    {
        QTest::addColumn<QStringList>("options");
        QTest::addColumn<ComparisonOptions>("parsed");
        QTest::newRow("defaults") << QStringList() << ComparisonOptions {};
        ComparisonOptions strict;
        strict.thresholdPercent = 2;
        strict.errorThresholdPoints = 20;
        strict.minCount = 1;
        strict.percentile = 50;
        QTest::newRow("strict, p50") << QStringList { QStringLiteral("--threshold"), QStringLiteral("2"),
            QStringLiteral("--error-threshold"), QStringLiteral("20"), QStringLiteral("--min-count"),
            QStringLiteral("1"), QStringLiteral("--percentile"), QStringLiteral("p50") }
                                     << strict;
    }
    void verdictsAreTheCommandLines()
    {
        QFETCH(QStringList, options);
        QFETCH(ComparisonOptions, parsed);
        QProcess perfdash;
        perfdash.start(QCoreApplication::applicationDirPath() + QStringLiteral("/perfdash"),
            QStringList {
                QStringLiteral("compare"), m_base, m_next, QStringLiteral("--format"), QStringLiteral("json") }
                + options);
        QVERIFY2(perfdash.waitForStarted(30'000), qPrintable(perfdash.errorString()));
        QVERIFY(perfdash.waitForFinished(60'000));
        const QJsonObject report = QJsonDocument::fromJson(perfdash.readAllStandardOutput()).object();
        const QJsonArray cliRows = report.value(QStringLiteral("rows")).toArray();
        QCOMPARE(cliRows.size(), 9);

        // What the window does with the same arguments: parse them, compare the stores.
        CompareArguments arguments;
        QString error;
        QVERIFY2(parseCompareArguments(
                     QStringList { m_base, m_next, QStringLiteral("--gui") } + options, &arguments, &error),
            qPrintable(error));
        QCOMPARE(arguments.options.thresholdPercent, parsed.thresholdPercent);
        QCOMPARE(arguments.options.percentile, parsed.percentile);
        const std::optional<LoadedCapture> base = openCapture(m_base, nullptr), next = openCapture(m_next, nullptr);
        QVERIFY(base && next);
        ComparisonModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setRows(compareStores(*base->store, *next->store, arguments.options), arguments.options);
        QCOMPARE(model.rowCount(), int(cliRows.size()));

        int regressions = 0;
        for (const QJsonValue& value : cliRows) {
            const QJsonObject cli = value.toObject();
            int row = -1;
            for (int r = 0; r < model.rowCount(); ++r)
                row = model.rowAt(r)->operation == cli.value(QStringLiteral("operation")).toString() ? r : row;
            QVERIFY(row >= 0);
            QStringList reasons;
            for (const QJsonValue& reason : cli.value(QStringLiteral("reasons")).toArray())
                reasons << reason.toString();
            const QString expected = cli.value(QStringLiteral("verdict")).toString()
                + (reasons.isEmpty() ? QString() : QStringLiteral(" (%1)").arg(reasons.join(QStringLiteral(", "))));
            QCOMPARE(model.index(row, ComparisonModel::VerdictColumn).data().toString(), expected);
            regressions += cli.value(QStringLiteral("regression")).toBool() ? 1 : 0;
        }
        QCOMPARE(report.value(QStringLiteral("regressions")).toInt(), regressions);
        QVERIFY(model.summary().startsWith(QStringLiteral("%1 regression(s) beyond").arg(regressions)));
        QCOMPARE(model.headerData(ComparisonModel::Change, Qt::Horizontal).toString(),
            QStringLiteral("p%1 change").arg(parsed.percentile));
    }

    /// Each verdict once, with the defaults, and what the row shows for it.
    void rowsSayTheVerdict_data()
    {
        QTest::addColumn<QString>("operation");
        QTest::addColumn<QString>("verdict");
        QTest::addColumn<QString>("colour"); // of the verdict and change cells: red, green or none
        QTest::newRow("slower") << QStringLiteral("db.query") << QStringLiteral("REGRESSION (p95 +")
                                << QStringLiteral("red");
        QTest::newRow("faster") << QStringLiteral("cache.get") << QStringLiteral("improvement")
                                << QStringLiteral("green");
        QTest::newRow("same") << QStringLiteral("render") << QStringLiteral("same") << QString();
        QTest::newRow("more errors") << QStringLiteral("flaky") << QStringLiteral("REGRESSION (errors 0.0% → 10.0%)")
                                     << QStringLiteral("red");
        // -3%: faster, but within the threshold: "same", and not painted green.
        QTest::newRow("a little faster") << QStringLiteral("steady") << QStringLiteral("same") << QString();
        QTest::newRow("too few") << QStringLiteral("rare") << QStringLiteral("not enough data") << QString();
        QTest::newRow("gone") << QStringLiteral("gone") << QStringLiteral("MISSING in NEW (missing from NEW)")
                              << QStringLiteral("red");
        QTest::newRow("added") << QStringLiteral("added") << QStringLiteral("only in NEW") << QString();
        QTest::newRow("half the throughput")
            << QStringLiteral("busy") << QStringLiteral("REGRESSION (throughput -50.0%)") << QStringLiteral("red");
    }
    void rowsSayTheVerdict()
    {
        QFETCH(QString, operation);
        QFETCH(QString, verdict);
        QFETCH(QString, colour);
        const std::optional<LoadedCapture> base = openCapture(m_base, nullptr), next = openCapture(m_next, nullptr);
        QVERIFY(base && next);
        ComparisonModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setRows(compareStores(*base->store, *next->store, ComparisonOptions {}), ComparisonOptions {});
        int row = -1;
        for (int r = 0; r < model.rowCount(); ++r)
            row = model.rowAt(r)->operation == operation ? r : row;
        QVERIFY(row >= 0);
        const QString shown = model.index(row, ComparisonModel::VerdictColumn).data().toString();
        QVERIFY2(shown.startsWith(verdict), qPrintable(shown));
        for (const int column : { int(ComparisonModel::VerdictColumn), int(ComparisonModel::Change) }) {
            const QVariant brush = model.index(row, column).data(Qt::ForegroundRole);
            if (colour.isEmpty()) {
                QVERIFY2(!brush.isValid(), qPrintable(operation));
                continue;
            }
            const QColor c = brush.value<QBrush>().color();
            QVERIFY2(colour == QLatin1String("red") ? c.red() > c.green() : c.green() > c.red(), qPrintable(operation));
        }
        if (operation == QLatin1String("steady"))
            QVERIFY(model.rowAt(row)->changePercent < -1 && model.rowAt(row)->changePercent > -10);
        // The columns the command line prints, "base → new".
        if (model.rowAt(row)->base && model.rowAt(row)->next) {
            for (const int column :
                { int(ComparisonModel::Count), int(ComparisonModel::Throughput), int(ComparisonModel::Errors),
                    int(ComparisonModel::P50), int(ComparisonModel::P95), int(ComparisonModel::P99) })
                QVERIFY(model.index(row, column).data().toString().contains(QStringLiteral(" → ")));
            QCOMPARE(model.index(row, ComparisonModel::Errors).data().toString(),
                QStringLiteral("%1% → %2%")
                    .arg(100 * model.rowAt(row)->base->errorRate, 0, 'f', 1)
                    .arg(100 * model.rowAt(row)->next->errorRate, 0, 'f', 1));
            QVERIFY(model.index(row, ComparisonModel::Throughput).data().toString().endsWith(QStringLiteral("/s")));
            QVERIFY(!model.index(row, ComparisonModel::P95).data().toString().contains(u'e'));
        }
    }

    /// Sorting by the verdict puts what fails a gate first.
    void verdictSortsWorstFirst()
    {
        const std::optional<LoadedCapture> base = openCapture(m_base, nullptr), next = openCapture(m_next, nullptr);
        ComparisonModel model;
        model.setRows(compareStores(*base->store, *next->store, ComparisonOptions {}), ComparisonOptions {});
        double leastBad = std::numeric_limits<double>::max(); // the lowest sort value of a row that fails the gate
        for (int r = 0; r < model.rowCount(); ++r) {
            if (model.rowAt(r)->regression)
                leastBad
                    = std::min(leastBad, model.index(r, ComparisonModel::VerdictColumn).data(Qt::UserRole).toDouble());
        }
        QVERIFY(leastBad < std::numeric_limits<double>::max());
        for (int r = 0; r < model.rowCount(); ++r) {
            if (!model.rowAt(r)->regression)
                QVERIFY2(model.index(r, ComparisonModel::VerdictColumn).data(Qt::UserRole).toDouble() < leastBad,
                    qPrintable(model.rowAt(r)->operation));
        }
    }

    void parseRejectsWhatTheCommandLineRejects()
    {
        CompareArguments parsed;
        QString error;
        QVERIFY(!parseCompareArguments({ m_base }, &parsed, &error));
        QVERIFY(error.startsWith(QStringLiteral("usage: perfdash compare")));
        QVERIFY(!parseCompareArguments(
            { m_base, m_next, QStringLiteral("--threshold"), QStringLiteral("nan") }, &parsed, &error));
        QVERIFY(!parseCompareArguments({ m_base, m_next, QStringLiteral("--bogus") }, &parsed, &error));
        QVERIFY(!parseCompareArguments(
            { m_base, m_next, QStringLiteral("--screenshot"), QStringLiteral("x.png") }, &parsed, &error));
        QVERIFY(
            parseCompareArguments({ m_base, m_next, QStringLiteral("--gui"), QStringLiteral("--screenshot"),
                                      QStringLiteral("x.png"), QStringLiteral("--threshold"), QStringLiteral("5%") },
                &parsed, &error));
        QCOMPARE(parsed.screenshot, QStringLiteral("x.png"));
        QCOMPARE(parsed.options.thresholdPercent, 5.0);
        QCOMPARE(parsed.files, (QStringList { m_base, m_next }));
    }
};

QTEST_GUILESS_MAIN(TestComparisonModel)
#include "tst_comparisonmodel.moc"
