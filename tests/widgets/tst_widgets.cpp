// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/csvexport.h"
#include "models/alertsmodel.h"
#include "models/comparisonmodel.h"
#include "models/operationsmodel.h"
#include "models/processesmodel.h"
#include "widgets/attachdialog.h"
#include "widgets/budgetsdialog.h"
#include "widgets/chartspanel.h"
#include "widgets/comparisonwindow.h"
#include "widgets/mainwindow.h"

#include "tests/helpers/windowtests.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QFile>
#include <QPointer>
#include <QProcess>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

using namespace perfdash;
using namespace std::chrono_literals;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

ProcessInfo process(quint64 key, const char* name)
{
    ProcessInfo p;
    p.key = key;
    p.pid = qint64(1000 + key);
    p.name = s(name);
    p.instrumented = true;
    p.state = ProcessInfo::State::Live;
    return p;
}

OperationRow operation(quint64 key, const char* name, quint64 count)
{
    OperationRow r;
    r.processKey = key;
    r.process = s("svc");
    r.stats.operation = s(name);
    r.stats.count = count;
    r.stats.p50Ns = 1500;
    r.stats.maxNs = 2'500'000;
    return r;
}

QByteArray firstLine(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return f.readLine().trimmed();
}
} // namespace

class TestWidgets : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { perfdashtest::useTestSettings(s("tst_widgets")); }

    void processesModel()
    {
        ProcessesModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setProcesses({ process(1, "a") });
        model.setProcesses({ process(1, "a"), process(2, "b") }); // appended
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.rowOf(2), 1);
        QCOMPARE(model.index(1, ProcessesModel::Name).data().toString(), s("b"));
        QCOMPARE(model.index(1, ProcessesModel::State).data().toString(), s("live"));
        model.setProcesses({ process(2, "b") }); // the oldest was forgotten: a reset
        QCOMPARE(model.rowCount(), 1);
        QCOMPARE(model.index(0, ProcessesModel::Pid).data(ProcessesModel::KeyRole).toULongLong(), quint64(2));
        model.setProcesses({});
        QCOMPARE(model.rowCount(), 0);
    }

    void operationsModel()
    {
        OperationsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        model.setRows({ operation(1, "a", 5) });
        model.setRows({ operation(1, "a", 6), operation(1, "b", 1) });
        QCOMPARE(model.rowCount(), 2);
        QCOMPARE(model.index(0, OperationsModel::Count).data().toString(), s("6"));
        QCOMPARE(model.index(0, OperationsModel::P50).data().toString(), s("1.50 µs")); // units scale
        QCOMPARE(model.index(0, OperationsModel::Max).data().toString(), s("2.50 ms"));
        QCOMPARE(
            model.index(0, OperationsModel::Max).data(OperationsModel::SortRole).toULongLong(), quint64(2'500'000));
        // A refresh reports only the cells that look different, so views repaint only those.
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        model.setRows({ operation(1, "a", 6), operation(1, "b", 2) });
        QCOMPARE(changed.size(), 1);
        QCOMPARE(changed[0][0].toModelIndex(), model.index(1, OperationsModel::Count));
        QCOMPARE(changed[0][1].toModelIndex(), model.index(1, OperationsModel::Count));
        changed.clear();
        model.setRows({ operation(1, "a", 6), operation(1, "b", 2) });
        QCOMPARE(changed.size(), 0);
        OperationRow broken = operation(1, "0-first", 1);
        broken.violation
            = BudgetViolation { s("0-first"), Budget { s("*"), 95, 1000, StatsWindow::last(60) }, 2000, 2.0 };
        model.setRows({ broken, operation(1, "a", 6), operation(1, "b", 1) }); // sorts in front: reset
        QCOMPARE(model.rowCount(), 3);
        QVERIFY(model.index(0, 0).data(Qt::BackgroundRole).isValid());
        QVERIFY(model.index(0, OperationsModel::P95).data(Qt::ToolTipRole).toString().contains(s("Budget broken")));
        QVERIFY(!model.index(1, 0).data(Qt::BackgroundRole).isValid());
        // An operation made from a sender's histogram (OTLP metrics) says so where its percentiles are.
        OperationRow bucketed = operation(1, "a", 6);
        bucketed.stats.fromSenderBuckets = true;
        model.setRows({ bucketed, operation(1, "b", 1) });
        QVERIFY(model.index(0, OperationsModel::P99).data(Qt::ToolTipRole).toString().contains(s("bucket")));
        QVERIFY(model.index(0, OperationsModel::Operation).data(Qt::ToolTipRole).toString().contains(s("bucket")));
        QVERIFY(!model.index(1, OperationsModel::P99).data(Qt::ToolTipRole).toString().contains(s("bucket")));
    }

    void alertsModelIsBoundedNewestFirst()
    {
        AlertsModel model;
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QList<Alert> alerts;
        for (int i = 0; i < AlertsModel::MaxAlerts + 50; ++i)
            alerts.append(Alert { Alert::Kind::Slow, i, s("p"), QStringLiteral("op%1").arg(i), 1000, {} });
        model.add(alerts.mid(0, 10));
        model.add(alerts.mid(10));
        QCOMPARE(model.rowCount(), AlertsModel::MaxAlerts);
        QCOMPARE(model.total(), quint64(AlertsModel::MaxAlerts + 50));
        QCOMPARE(model.index(0, AlertsModel::Operation).data().toString(),
            QStringLiteral("op%1").arg(AlertsModel::MaxAlerts + 49)); // newest first
        model.clear();
        QCOMPARE(model.rowCount(), 0);
    }

    void selectingAnOperationChartsIt()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        for (int i = 1; i <= 200; ++i)
            store.recordOperation(key, s("db.query"), quint64(i) * 10'000, i % 10 != 0, {});
        store.recordOperation(key, s("cache.get"), 500, true, {});
        MainWindow window(&store, nullptr);
        window.show();
        QSignalSpy refreshed(&window, &MainWindow::refreshed);
        QVERIFY(refreshed.wait(10'000));
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 2, 10'000);
        window.selectOperation(key, s("db.query"));
        // The second the operations fell in closes, and its point reaches the latency chart.
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyPointCount() > 0, 15'000);
        QVERIFY(window.charts()->throughputPointCount() > 0);
        const int row = window.operationsModel()->rowOf(key, s("db.query"));
        QCOMPARE(window.operationsModel()->index(row, OperationsModel::Count).data().toString(), s("200"));
        QCOMPARE(window.operationsModel()->index(row, OperationsModel::Errors).data().toString(), s("20"));
    }

    void budgetsEditedInTheGuiShowViolations()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        for (int i = 0; i < 100; ++i)
            store.recordOperation(key, s("db.query"), 5'000'000, true, {}); // 5 ms each
        MainWindow window(&store, nullptr);
        QSignalSpy refreshed(&window, &MainWindow::refreshed);
        QVERIFY(refreshed.wait(10'000));

        BudgetsDialog dialog({}, store.thresholds());
        dialog.addBudget(Budget { s("db.*"), 95, 1'000'000, StatsWindow::last(60) }); // 1 ms: broken
        QCOMPARE(dialog.budgets().size(), 1);
        window.applyBudgets(dialog.budgets(), dialog.thresholds());
        QTRY_VERIFY_WITH_TIMEOUT(
            [&] {
                const int row = window.operationsModel()->rowOf(key, s("db.query"));
                return row >= 0 && window.operationsModel()->rowAt(row)->violation.has_value();
            }(),
            10'000);
        QTRY_VERIFY_WITH_TIMEOUT(window.alertsModel()->rowCount() > 0, 10'000);
        QCOMPARE(window.alertsModel()->index(0, AlertsModel::Severity).data().toString(), s("budget broken"));
        QCOMPARE(loadBudgets().size(), 1); // persisted
        window.applyBudgets({}, store.thresholds());
        QCOMPARE(loadBudgets().size(), 0);
    }

    void exportWritesThreeFilesWithHeaders()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        store.recordOperation(key, s("op"), 1000, true, {});
        store.sampleProcesses();
        MainWindow window(&store, nullptr);
        QTemporaryDir dir;
        const QString stats = dir.filePath(s("s.csv")), series = dir.filePath(s("t.csv")),
                      memory = dir.filePath(s("m.csv"));
        QCOMPARE(window.exportCsv(MainWindow::ExportKind::Statistics, stats).result(), QString());
        QCOMPARE(window.exportCsv(MainWindow::ExportKind::Series, series).result(), QString());
        QCOMPARE(window.exportCsv(MainWindow::ExportKind::Memory, memory).result(), QString());
        QCOMPARE(firstLine(stats), csvexport::statisticsColumns().join(u',').toUtf8());
        QCOMPARE(firstLine(series), csvexport::seriesColumns().join(u',').toUtf8());
        QCOMPARE(firstLine(memory), csvexport::memoryColumns().join(u',').toUtf8());
        const QString error
            = window.exportCsv(MainWindow::ExportKind::Statistics, s("/nonexistent-dir/x.csv")).result();
        QVERIFY(error.contains(s("/nonexistent-dir/x.csv")));
    }

    void attachDialogListsProcessesButTheDashboard()
    {
        QProcess child; // another process of ours, streaming to the dashboard as far as the dialog knows
        child.start(s("sleep"), { s("60") });
        QVERIFY(child.waitForStarted());
        WorkerPool pool(1);
        AttachDialog dialog(&pool, { child.processId() });
        QSignalSpy loaded(&dialog, &AttachDialog::loaded);
        QVERIFY(loaded.wait(30'000));
        QAbstractItemModelTester tester(dialog.processModel(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        bool found = false;
        for (int row = 0; row < dialog.processModel()->rowCount(); ++row) {
            const qint64 pid
                = dialog.processModel()->item(row, AttachDialog::PidColumn)->data(Qt::UserRole).toLongLong();
            QVERIFY(pid != QCoreApplication::applicationPid()); // the dashboard does not attach to itself
            if (pid == child.processId()) {
                found = true;
                QCOMPARE(dialog.processModel()->item(row, AttachDialog::InstrumentedColumn)->text(), s("yes"));
            }
        }
        QVERIFY(found);
        child.kill();
        child.waitForFinished();
    }

    void screenshotIsANonEmptyPng()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        store.recordOperation(key, s("op"), 1000, true, {});
        MainWindow window(&store, nullptr);
        window.resize(1200, 800);
        window.show();
        QSignalSpy refreshed(&window, &MainWindow::refreshed);
        QVERIFY(refreshed.wait(10'000));
        QTemporaryDir dir;
        const QString path = dir.filePath(s("shot.png"));
        QVERIFY(window.grab().save(path, "PNG"));
        QFile png(path);
        QVERIFY(png.open(QIODevice::ReadOnly));
        QVERIFY(png.size() > 10'000);
        QCOMPARE(png.read(8), QByteArray("\x89PNG\r\n\x1a\n"));
    }

    void selectingAProcessFiltersTheOperations()
    {
        MetricsStore store;
        const quint64 a = store.openProcess(QCoreApplication::applicationPid(), s("a"), {});
        const quint64 b = store.openProcess(QCoreApplication::applicationPid(), s("b"), {});
        store.recordOperation(a, s("a.one"), 1000, true, {});
        store.recordOperation(a, s("a.two"), 1000, true, {});
        store.recordOperation(b, s("b.one"), 1000, true, {});
        MainWindow window(&store, nullptr);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 3, 10'000);
        window.selectProcess(b);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 1, 10'000);
        QCOMPARE(window.operationsModel()->rowAt(0)->stats.operation, s("b.one"));
        window.selectProcess(a);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 2, 10'000);
    }

    void groupingByPrefixMergesOperations()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        store.recordOperation(key, s("api.users.list"), 1000, true, {});
        store.recordOperation(key, s("api.users.get"), 3000, false, {});
        store.recordOperation(key, s("db.query"), 9000, true, {});
        MainWindow window(&store, nullptr);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 3, 10'000);
        window.setGroupByPrefix(true);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 4, 10'000); // + "api.*"; db has one
        const int row = window.operationsModel()->rowOf(key, s("api.*"));
        QVERIFY(row >= 0);
        const OperationRow* group = window.operationsModel()->rowAt(row);
        QVERIFY(group->group);
        QCOMPARE(group->stats.count, quint64(2));
        QCOMPARE(group->stats.errorCount, quint64(1));
        QCOMPARE(group->stats.maxNs, quint64(3000));
        window.setGroupByPrefix(false);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 3, 10'000);
    }

    void saveAndOpenACapture()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        for (int i = 0; i < 50; ++i)
            store.recordOperation(key, s("db.query"), 1000 + quint64(i), true, {});
        store.setSlowThreshold(std::chrono::milliseconds(100), std::chrono::seconds(1));
        store.recordEvent(key,
            OperationSample { s("db.query"), 1'700'000'000'000, 2'500'000'000, false, OperationSample::Severity::Normal,
                1, { { s("table"), s("orders") } }, 0 });
        MainWindow window(&store, nullptr);
        QTemporaryDir dir;
        const QString path = dir.filePath(s("saved.pdcap"));
        QCOMPARE(window.saveCapture(path).result(), QString());
        QString error;
        QPointer<MainWindow> opened = MainWindow::openCaptureWindow(path, &error);
        QVERIFY2(opened, qPrintable(error));
        QVERIFY(opened->windowTitle().contains(s("read-only")));
        QTRY_COMPARE_WITH_TIMEOUT(opened->operationsModel()->rowCount(), 1, 10'000);
        QCOMPARE(opened->operationsModel()->rowAt(0)->stats.operation, s("db.query"));
        // The alert the session raised is in the capture's alerts view.
        QCOMPARE(opened->alertsModel()->rowCount(), 1);
        const auto cell = [&](int column) { return opened->alertsModel()->index(0, column).data().toString(); };
        QCOMPARE(cell(AlertsModel::Operation), s("db.query"));
        QCOMPARE(cell(AlertsModel::Process), s("svc"));
        QVERIFY2(cell(AlertsModel::Severity).contains(s("very slow"), Qt::CaseInsensitive),
            qPrintable(cell(AlertsModel::Severity)));
        QCOMPARE(cell(AlertsModel::Details), s("failed, table=orders"));
        opened->close(); // deletes itself, and the capture's store with it
        QTRY_VERIFY(opened.isNull());
        QVERIFY(!MainWindow::openCaptureWindow(dir.filePath(s("missing.pdcap")), &error));
        QVERIFY(error.contains(s("no capture")));
    }

    void comparisonViewShowsDeltasAndDistributions()
    {
        QTemporaryDir dir;
        const auto makeCapture = [&](const QString& name, quint64 scale) {
            MetricsStore store;
            const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
            for (quint64 i = 1; i <= 500; ++i) {
                store.recordOperation(key, s("db.query"), i * 1000 * scale, true, {});
                store.recordOperation(key, s("cache.get"), 200 + i, true, {});
            }
            MainWindow window(&store, nullptr);
            const QString path = dir.filePath(name);
            return window.saveCapture(path).result().isEmpty() ? path : QString();
        };
        const QString base = makeCapture(s("base.pdcap"), 1), slower = makeCapture(s("new.pdcap"), 2);
        QVERIFY(!base.isEmpty() && !slower.isEmpty());
        QString error;
        QPointer<ComparisonWindow> window = ComparisonWindow::open(base, slower, &error, ComparisonOptions {});
        QVERIFY2(window, qPrintable(error));
        QAbstractItemModelTester tester(window->model(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QCOMPARE(window->model()->rowCount(), 2);
        int db = -1;
        for (int row = 0; row < 2; ++row)
            db = window->model()->rowAt(row)->operation == s("db.query") ? row : db;
        QVERIFY(db >= 0);
        const ComparisonRow* r = window->model()->rowAt(db);
        QVERIFY(r->regression);
        QVERIFY(std::abs(r->changePercent - 100.0) < 2.0); // twice as slow
        QVERIFY(window->model()->index(db, ComparisonModel::Change).data().toString().startsWith(s("+")));
        QVERIFY(window->showDistributions(db) > 10);
        QVERIFY(!ComparisonWindow::open(base, dir.filePath(s("missing.pdcap")), &error));
        window->close();
        QTRY_VERIFY(window.isNull());
    }

    void pauseFreezesTheView()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        store.recordOperation(key, s("a"), 1000, true, {});
        MainWindow window(&store, nullptr);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 1, 10'000);
        window.setPaused(true);
        store.recordOperation(key, s("b"), 1000, true, {});
        QSignalSpy refreshed(&window, &MainWindow::refreshed);
        QVERIFY(!refreshed.wait(500)); // nothing is applied while paused
        QCOMPARE(window.operationsModel()->rowCount(), 1);
        window.setPaused(false);
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 2, 10'000);
    }
};

QTEST_MAIN(TestWidgets)
#include "tst_widgets.moc"
