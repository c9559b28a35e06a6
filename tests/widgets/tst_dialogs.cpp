// SPDX-License-Identifier: GPL-3.0-or-later
// The smaller windows and what they say: attaching (CPU, busiest first, never the dashboard
// itself), budget limits written as the tables write durations, the quit prompt's buttons, the
// captures the file dialogs offer, and the comparison window's axes and verdicts.
#include "capture/capture.h"
#include "models/comparisonmodel.h"
#include "toolkit/workerpool.h"
#include "widgets/attachdialog.h"
#include "widgets/budgetsdialog.h"
#include "widgets/comparisonwindow.h"
#include "widgets/mainwindow.h"
#include "widgets/quitprompt.h"

#include "tests/helpers/modal.h"
#include "tests/helpers/windowtests.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QApplication>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPointer>
#include <QProcess>
#include <QPushButton>
#include <QRegularExpression>
#include <QScopeGuard>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTableView>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <functional>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

using perfdashtest::actionNamed;
using perfdashtest::onNextModal;

/// A capture of process "svc": db.query from 1 to 500 µs x @p scale, cache.get unchanged.
QString writeCapture(const QString& path, quint64 scale)
{
    ManualClock clock(1'700'000'000'000);
    MetricsStore store(&clock);
    const quint64 key = store.openProcess(4242, s("svc"), {});
    for (int second = 0; second < 3; ++second) {
        for (quint64 i = 1; i <= 500; ++i) {
            store.recordOperation(key, s("db.query"), i * 1000 * scale, true, {});
            store.recordOperation(key, s("cache.get"), 200 + i, true, {});
        }
        clock.advanceMs(1000);
    }
    CaptureRecorder recorder(&store);
    QString error;
    if (!recorder.start(path, &error) || !recorder.flush(&error))
        return {};
    recorder.stop();
    return path;
}
} // namespace

class TestDialogs : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { perfdashtest::useTestSettings(s("tst_dialogs")); }

    /// CPU measured between two readings of /proc/PID/stat, the busiest first, and the dashboard
    /// (this test) not offered as a target.
    void attachDialogShowsCpuBusiestFirst()
    {
        QProcess busy;
        busy.start(s("sh"), { s("-c"), s("while :; do :; done") });
        QVERIFY(busy.waitForStarted());
        const auto stop = qScopeGuard([&] {
            busy.kill();
            busy.waitForFinished();
        });
        WorkerPool pool(1);
        AttachDialog dialog(&pool, {});
        QSignalSpy loaded(&dialog, &AttachDialog::loaded);
        QStandardItemModel* model = dialog.processModel();
        QAbstractItemModelTester tester(model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        const auto rowOf = [model](qint64 pid) {
            for (int row = 0; row < model->rowCount(); ++row) {
                if (model->item(row, AttachDialog::PidColumn)->data(Qt::UserRole).toLongLong() == pid)
                    return row;
            }
            return -1;
        };
        QCOMPARE(model->headerData(AttachDialog::CpuColumn, Qt::Horizontal).toString(), s("CPU"));
        // The second reading (FirstCpuMs after the first) has the CPU of every process.
        QTRY_VERIFY_WITH_TIMEOUT(rowOf(busy.processId()) >= 0
                && model->item(rowOf(busy.processId()), AttachDialog::CpuColumn)->data(Qt::UserRole).toDouble() > 0,
            30'000);
        const int row = rowOf(busy.processId());
        const double cpu = model->item(row, AttachDialog::CpuColumn)->data(Qt::UserRole).toDouble();
        QVERIFY2(cpu > 10, qPrintable(QString::number(cpu))); // a loop on a core, however busy the machine
        QVERIFY(cpu < 400);
        QVERIFY(model->item(row, AttachDialog::CpuColumn)->text().endsWith(u'%'));
        QCOMPARE(rowOf(QCoreApplication::applicationPid()), -1);

        auto* view = dialog.findChild<QTableView*>();
        QVERIFY(view);
        QCOMPARE(view->horizontalHeader()->sortIndicatorSection(), int(AttachDialog::CpuColumn));
        QCOMPARE(view->horizontalHeader()->sortIndicatorOrder(), Qt::DescendingOrder);
        QAbstractItemModel* shown = view->model();
        for (int r = 1; r < shown->rowCount(); ++r) {
            QVERIFY(shown->index(r - 1, AttachDialog::CpuColumn).data(Qt::UserRole).toDouble()
                >= shown->index(r, AttachDialog::CpuColumn).data(Qt::UserRole).toDouble());
        }
    }

    /// Limits read "30 ms" as the tables write durations, not "30.000 ms"; typed values keep
    /// their precision and may carry a unit.
    void budgetLimitsReadAsTheTables()
    {
        BudgetsDialog dialog({ Budget { s("db.*"), 95, 30'000'000, StatsWindow::last(60) },
                                 Budget { s("cache.*"), 99, 500'000, StatsWindow::last(60) } },
            Thresholds { 50'000'000, 0 });
        QStringList texts;
        for (QDoubleSpinBox* box : dialog.findChildren<QDoubleSpinBox*>())
            texts << box->text();
        QVERIFY2(texts.contains(s("30 ms")), qPrintable(texts.join(u'|')));
        QVERIFY2(texts.contains(s("500 µs")), qPrintable(texts.join(u'|')));
        QVERIFY2(texts.contains(s("50 ms")), qPrintable(texts.join(u'|')));
        QVERIFY2(texts.contains(s("off")), qPrintable(texts.join(u'|'))); // very slow: 0
        for (const QString& text : texts)
            QVERIFY2(!text.contains(s(".000")), qPrintable(text));

        auto* table = dialog.findChildren<QTableWidget*>().constLast(); // the budgets, under the slow rules
        auto* limit = qobject_cast<QDoubleSpinBox*>(table->cellWidget(0, 2));
        QVERIFY(limit);
        const auto type = [limit](const QString& text) {
            limit->selectAll();
            QTest::keyClicks(limit, text);
            QTest::keyClick(limit, Qt::Key_Enter);
        };
        type(s("12.345"));
        QCOMPARE(limit->text(), s("12.345 ms"));
        QCOMPARE(dialog.budgets().constFirst().limitNs, quint64(12'345'000));
        type(s("250us"));
        QCOMPARE(limit->text(), s("250 µs"));
        QCOMPARE(dialog.budgets().constFirst().limitNs, quint64(250'000));
        type(s("1.5 s"));
        QCOMPARE(limit->text(), s("1.5 s"));
        QCOMPARE(dialog.budgets().constFirst().limitNs, quint64(1'500'000'000));
        QCOMPARE(dialog.budgets().constLast().limitNs, quint64(500'000));
        QCOMPARE(dialog.thresholds().slowNs, quint64(50'000'000));
    }

    /// The buttons say what they do; Return does what the default button says (keep running).
    void quitPromptSaysWhatItDoes_data()
    {
        QTest::addColumn<QString>("action"); // "return", "escape", or a button's object name to click
        QTest::addColumn<bool>("quits");
        QTest::newRow("return") << s("return") << false;
        QTest::newRow("escape") << s("escape") << false;
        QTest::newRow("keep running") << s("keepRunning") << false;
        QTest::newRow("quit") << s("quit") << true;
    }
    void quitPromptSaysWhatItDoes()
    {
        QFETCH(QString, action);
        QFETCH(bool, quits);
        QStringList buttons;
        QString defaultButton, text;
        onNextModal<QMessageBox>([&](QMessageBox* box) {
            text = box->text();
            for (QAbstractButton* b : box->buttons())
                buttons << b->text();
            defaultButton = box->defaultButton() ? box->defaultButton()->text() : QString();
            if (action == QLatin1String("return"))
                QTest::keyClick(QApplication::focusWidget() ? QApplication::focusWidget() : box, Qt::Key_Return);
            else if (action == QLatin1String("escape"))
                QTest::keyClick(box, Qt::Key_Escape);
            else
                box->findChild<QPushButton*>(action)->click();
        });
        QCOMPARE(askQuitStoppingLaunched(nullptr, 2), quits);
        buttons.sort();
        QCOMPARE(buttons, (QStringList { s("Keep running"), s("Quit and stop them") }));
        QCOMPARE(defaultButton, s("Keep running"));
        QVERIFY2(text.contains(s("2 program")) && text.contains(s("stops them")), qPrintable(text));
    }

    /// File > Open capture and Compare offer the README's run.perfdash, and "All files".
    void captureDialogsOfferPerfdashFiles()
    {
        MetricsStore store;
        MainWindow window(&store, nullptr);
        window.show();
        for (const QString& name : { s("Open capture…"), s("Compare captures…") }) {
            QStringList filters;
            onNextModal<QFileDialog>([&](QFileDialog* dialog) {
                filters = dialog->nameFilters();
                dialog->reject();
            });
            QAction* open = actionNamed(&window, name);
            QVERIFY2(open, qPrintable(name));
            open->trigger(); // returns once the dialog is closed
            QVERIFY2(
                !filters.isEmpty() && filters.constFirst().contains(s("*.perfdash")), qPrintable(filters.join(u'|')));
            QVERIFY2(filters.contains(s("All files (*)")), qPrintable(filters.join(u'|')));
        }
    }

    /// The window judges with the options it was given (the command line's), says so, and labels
    /// its latency axis with durations, not "1e-05".
    void comparisonWindowSaysWhatTheCommandLineSays()
    {
        QTemporaryDir dir;
        const QString base = writeCapture(dir.filePath(s("base.perfdash")), 1);
        const QString slower = writeCapture(dir.filePath(s("new.perfdash")), 2);
        QVERIFY(!base.isEmpty() && !slower.isEmpty());
        for (const double threshold : { 10.0, 150.0 }) {
            ComparisonOptions options;
            options.thresholdPercent = threshold;
            QString error;
            QPointer<ComparisonWindow> window = ComparisonWindow::open(base, slower, &error, options);
            QVERIFY2(window, qPrintable(error));
            window->resize(1200, 800);
            window->show();
            ComparisonModel* model = window->model();
            int db = -1;
            for (int row = 0; row < model->rowCount(); ++row)
                db = model->rowAt(row)->operation == s("db.query") ? row : db;
            QVERIFY(db >= 0);
            const QString verdict = model->index(db, ComparisonModel::VerdictColumn).data().toString();
            // Twice as slow: +100%, a regression beyond 10%, not beyond 150%.
            QVERIFY2(threshold < 100 ? verdict.startsWith(s("REGRESSION (p95 +")) : verdict == s("same"),
                qPrintable(verdict));
            auto* label = window->findChild<QLabel*>(s("summary"));
            QVERIFY(label);
            QVERIFY2(label->text().startsWith(
                         s("%1 regression(s) beyond %2% at p95").arg(threshold < 100 ? 1 : 0).arg(threshold)),
                qPrintable(label->text()));
            auto* view = window->findChild<QTableView*>();
            QCOMPARE(
                view->model()->headerData(ComparisonModel::VerdictColumn, Qt::Horizontal).toString(), s("Verdict"));

            QVERIFY(window->showDistributions(db) > 10);
            const QStringList labels = window->latencyAxisLabels();
            QVERIFY2(labels.size() >= 3, qPrintable(labels.join(u'|')));
            static const QRegularExpression duration(s("^[0-9]+(\\.[0-9]+)? (ns|µs|ms|s)$"));
            for (const QString& l : labels)
                QVERIFY2(duration.match(l).hasMatch(), qPrintable(labels.join(u'|')));
            // The data runs from 1 µs to 1 ms (new: 2 ms): the axis shows that span and not a decade more.
            QVERIFY2(labels.contains(s("100 µs")) && labels.contains(s("1 ms")), qPrintable(labels.join(u'|')));
            QVERIFY2(!labels.contains(s("10 ms")) && !labels.contains(s("100 ns")), qPrintable(labels.join(u'|')));
            window->close();
            QTRY_VERIFY(window.isNull());
        }
    }
};

QTEST_MAIN(TestDialogs)
#include "tst_dialogs.moc"
