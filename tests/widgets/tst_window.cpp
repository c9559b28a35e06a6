// SPDX-License-Identifier: GPL-3.0-or-later
// The main window as a daily tool: columns that fit, charts that follow the selection, the
// range chosen on a chart driving the table, where time goes, the rows' context menu, alerts.
#include "core/clock.h"
#include "core/histogramqueries.h"
#include "http/limitedtcpserver.h"
#include "http/metricsendpoint.h"
#include "ipc/ingestserver.h"
#include "models/alertsfiltermodel.h"
#include "models/alertsmodel.h"
#include "models/operationsfiltermodel.h"
#include "models/operationsmodel.h"
#include "models/processesmodel.h"
#include "toolkit/workerpool.h"
#include "widgets/attachdialog.h"
#include "widgets/chartspanel.h"
#include "widgets/explorechartview.h"
#include "widgets/exportdialog.h"
#include "widgets/latencyheatmapview.h"
#include "widgets/mainwindow.h"
#include "widgets/profilepanel.h"
#include "widgets/theme.h"

#include "tests/helpers/modal.h"
#include "tests/helpers/windowtests.h"

#include <QAbstractItemModelTester>
#include <QAction>
#include <QApplication>
#include <QChart>
#include <QClipboard>
#include <QDir>
#include <QFile>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocalSocket>
#include <QMenu>
#include <QMessageBox>
#include <QProcess>
#include <QPushButton>
#include <QScopeGuard>
#include <QScrollBar>
#include <QSemaphore>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QTest>
#include <QTextBrowser>
#include <QTimer>
#include <QValueAxis>
#include <csignal>
#include <memory>
#include <vector>

using namespace perfdash;

namespace {
QString s(const char* text)
{
    return QString::fromUtf8(text);
}

/// A store with a few operations of very different cost, and one long name.
quint64 fill(MetricsStore& store, const char* process = "orders-api")
{
    const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s(process), {});
    for (int i = 0; i < 400; ++i)
        store.recordOperation(key, s("cache.get"), 20'000, true, {}); // 8 ms in all
    for (int i = 0; i < 20; ++i)
        store.recordOperation(key, s("db.query"), 293'200'000 + quint64(i) * 1000, i % 5 != 0, {}); // 5.9 s in all
    store.recordOperation(key, s("http.GET /api/v2/customers/{id}/orders/history"), 102'100'000, true, {});
    return key;
}

/// Two processes: "a" (fill()'s three operations) and "b" with one operation of its own, "b.only".
std::pair<quint64, quint64> fillTwo(MetricsStore& store, qint64 pidOfB = QCoreApplication::applicationPid())
{
    const quint64 a = fill(store, "a");
    const quint64 b = store.openProcess(pidOfB, s("b"), {});
    store.recordOperation(b, s("b.only"), 5'000, true, {});
    return { a, b };
}

using perfdashtest::actionNamed;
using perfdashtest::onNextModal;

/// What the status bar's labels say, the visible ones only.
QString statusText(MainWindow& window)
{
    QStringList texts;
    for (QLabel* label : window.statusBar()->findChildren<QLabel*>()) {
        if (label->isVisible() && !label->text().isEmpty())
            texts << label->text();
    }
    return texts.join(u'|');
}

/// Triggers @p action, whose dialog shows a text, and returns that text (the dialog is closed).
QString textOfHelp(QAction* action)
{
    QString text;
    onNextModal<QDialog>([&](QDialog* dialog) {
        if (auto* browser = dialog->findChild<QTextBrowser*>())
            text = browser->toPlainText();
        dialog->reject();
    });
    action->trigger(); // returns once the dialog is closed
    return text;
}

/// Operation -> count of a statistics CSV.
QHash<QString, int> countsOf(const QString& path)
{
    QFile f(path);
    QHash<QString, int> counts;
    if (!f.open(QIODevice::ReadOnly))
        return counts;
    const QList<QByteArray> lines = f.readAll().split('\n');
    for (qsizetype i = 1; i < lines.size(); ++i) {
        const QList<QByteArray> cells = lines[i].split(',');
        if (cells.size() > 3 && cells[3].toInt() > 0)
            counts.insert(QString::fromUtf8(cells[2]), cells[3].toInt());
    }
    return counts;
}

int visibleWidth(QTableView* view)
{
    int sum = 0;
    for (int c = 0; c < view->horizontalHeader()->count(); ++c)
        sum += view->horizontalHeader()->isSectionHidden(c) ? 0 : view->columnWidth(c);
    return sum;
}
/// The status bar's permanent label that mentions @p word, or an empty string.
QString statusLabelWith(MainWindow& window, const QString& word)
{
    for (const QLabel* label : window.statusBar()->findChildren<QLabel*>()) {
        if (label->text().contains(word))
            return label->text();
    }
    return {};
}

/// Status bar messages (transient ones) that contain @p text, from a QStatusBar::messageChanged spy.
int messagesWith(const QSignalSpy& spy, const QString& text)
{
    int n = 0;
    for (const QList<QVariant>& args : spy)
        n += args.constFirst().toString().contains(text) ? 1 : 0;
    return n;
}
} // namespace

class TestWindow : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { perfdashtest::useTestSettings(s("tst_window")); }
    void init()
    {
        QSettings().clear(); // each test starts from the defaults, not from the last one's widths
    }

    void columnsFitUnderResize_data()
    {
        QTest::addColumn<int>("width");
        QTest::newRow("1600 px") << 1600;
        QTest::newRow("1400 px") << 1400;
        QTest::newRow("1024 px") << 1024;
    }
    void columnsFitUnderResize()
    {
        QFETCH(int, width);
        MetricsStore store;
        fill(store);
        MainWindow window(&store, nullptr);
        window.resize(width, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 3, 10'000);
        QTableView* view = window.operationView();
        // Through a few resizes, as a user drags the window's edge and the splitter.
        for (int w : { width, width / 2, width + 300, width }) {
            window.resize(w, 900);
            QTest::qWait(50);
            QCoreApplication::processEvents();
            for (int c = 0; c < window.operationsModel()->columnCount(); ++c) {
                if (view->horizontalHeader()->isSectionHidden(c) || c == OperationsModel::Operation)
                    continue;
                // Numbers never truncate: a column is as wide as its widest cell and its title.
                const QString title = window.operationsModel()->headerData(c, Qt::Horizontal).toString();
                const int need = std::max(view->horizontalHeader()->fontMetrics().horizontalAdvance(title),
                    static_cast<QAbstractItemView*>(view)->sizeHintForColumn(c));
                QVERIFY2(view->columnWidth(c) >= need,
                    qPrintable(QStringLiteral("column %1 at %2 px: %3 < %4")
                                   .arg(c)
                                   .arg(w)
                                   .arg(view->columnWidth(c))
                                   .arg(need)));
            }
            // The name column never collapses to a letter.
            const int name = view->columnWidth(OperationsModel::Operation);
            QVERIFY2(name >= view->fontMetrics().horizontalAdvance(s("http.GET /api/v2/cust")),
                qPrintable(QStringLiteral("%1 px at %2").arg(name).arg(w)));
            // The table's start is in view: the scrollbar is at the left, not at the end.
            QCOMPARE(view->horizontalScrollBar()->value(), 0);
        }
        // At 1600 px, p99.9, Max and Slow are on screen.
        if (width >= 1400) {
            for (int c : { int(OperationsModel::P999), int(OperationsModel::Max), int(OperationsModel::Slow) }) {
                const int right = view->columnViewportPosition(c) + view->columnWidth(c);
                QStringList widths;
                for (int k = 0; k < view->horizontalHeader()->count(); ++k)
                    widths << QStringLiteral("%1@%2v%3")
                                  .arg(view->horizontalHeader()->isSectionHidden(k) ? -1 : view->columnWidth(k))
                                  .arg(view->columnViewportPosition(k))
                                  .arg(view->horizontalHeader()->visualIndex(k));
                widths << QString::number(view->horizontalHeader()->offset());
                QVERIFY2(right <= view->viewport()->width(),
                    qPrintable(widths.join(u' ') + u' '
                        + QStringLiteral("column %1 ends at %2 of %3")
                              .arg(c)
                              .arg(right)
                              .arg(view->viewport()->width())));
            }
        }
        // The process name is whole at every width.
        QTableView* processes = window.processView();
        QVERIFY(processes->columnWidth(ProcessesModel::Name)
            >= static_cast<QAbstractItemView*>(processes)->sizeHintForColumn(ProcessesModel::Name));
        // A width dragged by the user is kept through refreshes and resizes, and remembered.
        const int dragged = view->columnWidth(OperationsModel::Operation) + 120;
        view->horizontalHeader()->resizeSection(OperationsModel::Operation, dragged);
        window.resize(width - 100, 900);
        QSignalSpy refreshed(&window, &MainWindow::refreshed);
        QVERIFY(refreshed.wait(10'000));
        QVERIFY(view->columnWidth(OperationsModel::Operation) >= dragged);
        window.close();
        MainWindow again(&store, nullptr);
        again.resize(width - 100, 900);
        again.show();
        QTRY_COMPARE_WITH_TIMEOUT(again.operationsModel()->rowCount(), 3, 10'000);
        QTRY_VERIFY(again.operationView()->columnWidth(OperationsModel::Operation) >= dragged);
        Q_UNUSED(visibleWidth(view));
    }

    void totalTimeColumnAndDefaultSort()
    {
        MetricsStore store;
        const quint64 key = fill(store);
        MainWindow window(&store, nullptr);
        window.show();
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 3, 10'000);
        // On top: where the time goes (db.query, 20 x 293 ms), not the most frequent (cache.get).
        const QModelIndex top = window.operationsProxy()->index(0, OperationsModel::Operation);
        QCOMPARE(top.data().toString(), s("db.query"));
        const QString total = window.operationsProxy()->index(0, OperationsModel::TotalTime).data().toString();
        QVERIFY2(total.startsWith(s("5.86 s")) && total.contains(s("%")), qPrintable(total));
        const int row = window.operationsModel()->rowOf(key, s("db.query"));
        const double ns = window.operationsModel()
                              ->index(row, OperationsModel::TotalTime)
                              .data(OperationsModel::SortRole)
                              .toDouble();
        QVERIFY(std::abs(ns - 20 * 293'209'500.0) < 293'209'500.0 * 20 * 0.01);
        // ... and charted first.
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(s("db.query")), 10'000);
    }

    void chartsFollowTheSelection()
    {
        MetricsStore store;
        const auto [a, b] = fillTwo(store);
        MainWindow window(&store, nullptr);
        QVERIFY(perfdashtest::showUntilCharted(window, s("db.query — a")));
        // Selecting another process charts its own operation, not a's.
        window.selectProcess(b);
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(s("b.only — b")), 10'000);
        window.selectProcess(a);
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(s("— a")), 10'000);
        // Clicking a row charts it.
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 3, 10'000);
        const QModelIndex cache = window.operationsProxy()
                                      ->match(window.operationsProxy()->index(0, OperationsModel::Operation),
                                          Qt::DisplayRole, s("cache.get"), 1, Qt::MatchExactly)
                                      .value(0);
        QVERIFY(cache.isValid());
        window.operationView()->selectionModel()->select(
            cache, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(s("cache.get")), 10'000);
    }

    /// With no process selected, the CPU profile is of the process whose operation is charted (it
    /// said "Select a process" while the charts showed one); a selected process wins.
    void theProfileFollowsTheChartedProcess()
    {
        MetricsStore store;
        const quint64 b = fillTwo(store, QCoreApplication::applicationPid() + 1).second;
        MainWindow window(&store, nullptr);
        QVERIFY(perfdashtest::showUntilCharted(window, s("db.query — a")));
        QTRY_COMPARE_WITH_TIMEOUT(window.profilePanel()->process(), qint64(QCoreApplication::applicationPid()), 10'000);
        window.selectProcess(b);
        QTRY_COMPARE_WITH_TIMEOUT(
            window.profilePanel()->process(), qint64(QCoreApplication::applicationPid() + 1), 10'000);
    }

    /// A snapshot built before the selection changed lands after it: it must not chart the old
    /// process (its rows once chose the default operation, a's, and the charts stayed on it).
    void aSnapshotOfTheOldSelectionIsDropped()
    {
        MetricsStore store;
        const auto [a, b] = fillTwo(store);
        MainWindow window(&store, nullptr);
        QVERIFY(perfdashtest::showUntilCharted(window, s("db.query — a")));
        window.selectProcess(a);
        window.selectProcess(0);
        QTRY_VERIFY_WITH_TIMEOUT(window.operationsModel()->rowCount() == 4, 10'000); // a's three and b's one
        // Hold the pool so that the next snapshot, for "every process", is queued behind the gate.
        WorkerPool* pool = window.workerPool();
        pool->setPoolSize(1);
        QSemaphore gate;
        QSemaphore holding;
        pool->submit(s("gate"), [&] {
            holding.release();
            gate.acquire();
            return 0;
        });
        QVERIFY(holding.tryAcquire(1, 10'000));
        window.requestRefresh();
        QTRY_COMPARE_WITH_TIMEOUT(pool->metrics().queueLength, 1, 10'000);
        window.selectProcess(b);
        gate.release();
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(s("b.only — b")), 10'000);
        QVERIFY(pool->waitForDone(10'000));
        QCOMPARE(window.operationsModel()->rowCount(), 1);
    }

    /// The theme menu: dark gives dark charts too (Qt Charts keep a light theme of their own), light
    /// gives light ones, and the choice is remembered.
    void themeReachesTheCharts()
    {
        MetricsStore store;
        fill(store);
        MainWindow window(&store, nullptr);
        window.show();
        QChart* chart = window.charts()->latencyChart();
        QAction* dark = actionNamed(&window, s("Dark"));
        QAction* light = actionNamed(&window, s("Light"));
        QVERIFY(dark && light);
        dark->trigger();
        QVERIFY(isDarkPalette());
        QTRY_VERIFY_WITH_TIMEOUT(chart->backgroundBrush().color().lightness() < 128, 10'000);
        QVERIFY(chart->titleBrush().color().lightness() > 128);
        for (QAbstractAxis* axis : chart->axes())
            QVERIFY2(axis->labelsColor().lightness() > 128, qPrintable(axis->labelsColor().name()));
        QCOMPARE(QSettings().value(s("view/theme")).toInt(), int(Theme::Dark));
        light->trigger();
        QVERIFY(!isDarkPalette());
        QTRY_VERIFY_WITH_TIMEOUT(chart->backgroundBrush().color().lightness() > 128, 10'000);
        for (QAbstractAxis* axis : chart->axes())
            QVERIFY(axis->labelsColor().lightness() < 128);
        QCOMPARE(QSettings().value(s("view/theme")).toInt(), int(Theme::Light));
        applyTheme(Theme::System);
    }

    void launchArgumentsSplitAsAShellWould_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("words");
        QTest::newRow("plain") << s("a  b\tc") << QStringList { s("a"), s("b"), s("c") };
        QTest::newRow("single quotes") << s("--name 'two words' x")
                                       << QStringList { s("--name"), s("two words"), s("x") };
        QTest::newRow("double quotes") << s("\"a \\\"b\\\" c\"") << QStringList { s("a \"b\" c") };
        QTest::newRow("single keeps backslashes") << s("'a\\b'") << QStringList { s("a\\b") };
        QTest::newRow("joined parts") << s("--x='1 2'\"3\"") << QStringList { s("--x=1 23") };
        QTest::newRow("escaped space") << s("a\\ b") << QStringList { s("a b") };
        QTest::newRow("empty quoted") << s("'' x") << QStringList { QString(), s("x") };
        QTest::newRow("unclosed") << s("'open end") << QStringList { s("open end") };
        QTest::newRow("nothing") << s("   ") << QStringList {};
    }

    void launchArgumentsSplitAsAShellWould()
    {
        QFETCH(QString, text);
        QFETCH(QStringList, words);
        QCOMPARE(LaunchDialog::splitArguments(text), words);
    }

    /// A program that fails to start brings the Launch dialog back with what was typed.
    void launchFailureKeepsWhatWasTyped()
    {
        MetricsStore store;
        MainWindow window(&store, nullptr);
        window.show();
        QString warning;
        QString programAgain;
        QStringList argumentsAgain;
        onNextModal<LaunchDialog>([&](LaunchDialog* dialog) {
            dialog->findChild<QLineEdit*>(s("program"))->setText(s("/nonexistent/perfdash-test-program"));
            dialog->findChild<QLineEdit*>(s("arguments"))->setText(s("--flag 'two words'"));
            onNextModal<QMessageBox>([&](QMessageBox* box) {
                warning = box->text();
                onNextModal<LaunchDialog>([&](LaunchDialog* again) {
                    programAgain = again->program();
                    argumentsAgain = again->arguments();
                    again->reject();
                });
                box->accept();
            });
            dialog->accept();
        });
        QAction* launch = actionNamed(&window, s("Launch program…"));
        QVERIFY(launch);
        launch->trigger(); // returns when the dialog, shown again, is cancelled
        QVERIFY2(warning.contains(s("/nonexistent/perfdash-test-program")), qPrintable(warning));
        QCOMPARE(programAgain, s("/nonexistent/perfdash-test-program"));
        QCOMPARE(argumentsAgain, (QStringList { s("--flag"), s("two words") }));
        QCOMPARE(store.processes().size(), 0);
    }

    /// Closing the window while a program it launched runs asks first; Cancel keeps both, Close
    /// quits and stops the program.
    void quittingWithALaunchedProgramAsks()
    {
        MetricsStore store;
        qint64 pid = 0;
        {
            MainWindow window(&store, nullptr);
            window.show();
            QString error;
            QVERIFY2(window.launch(QStandardPaths::findExecutable(s("sleep")), { s("300") }, QDir::tempPath(), &error),
                qPrintable(error));
            QCOMPARE(store.processes().size(), 1);
            pid = store.processes().first().pid;
            QVERIFY(pid > 0 && ::kill(pid_t(pid), 0) == 0);
            QString question;
            onNextModal<QMessageBox>([&](QMessageBox* box) {
                question = box->text();
                box->findChild<QPushButton*>(s("keepRunning"))->click();
            });
            QVERIFY(!window.close());
            QVERIFY2(question.contains(s("1 program")), qPrintable(question));
            QVERIFY(window.isVisible());
            QCOMPARE(::kill(pid_t(pid), 0), 0);
            onNextModal<QMessageBox>([&](QMessageBox* box) { box->findChild<QPushButton*>(s("quit"))->click(); });
            QVERIFY(window.close());
        }
        // The window is gone: what it launched was stopped (and reaped by QProcess).
        QCOMPARE(::kill(pid_t(pid), 0), -1);
    }

    void groupRowChartsTheMergedHistogram()
    {
        MetricsStore store;
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        for (int i = 0; i < 99; ++i)
            store.recordOperation(key, s("http.get"), 1'000'000, true, {});
        store.recordOperation(key, s("http.post"), 50'000'000, false, {});
        MainWindow window(&store, nullptr);
        window.show();
        window.setGroupByPrefix(true);
        QTRY_VERIFY_WITH_TIMEOUT(window.operationsModel()->rowOf(key, s("http.*")) >= 0, 10'000);
        window.selectOperation(key, s("http.*"));
        // The second closes, and the merged distribution of that second is charted (in ms).
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(s("http.*")), 10'000);
        QTRY_COMPARE_WITH_TIMEOUT(window.charts()->latencyPoints(s("max")).size() == 1
                ? window.charts()->latencyPoints(s("max")).last().y() * window.charts()->latencyScale()
                : 0.0,
            50'000'000.0, 15'000);
        QCOMPARE(window.charts()->latencyUnit(), s("ms"));
        QTRY_VERIFY_WITH_TIMEOUT(!window.charts()->heatmapView()->heatmap().isEmpty(), 10'000);
        quint64 total = 0;
        for (quint64 c : window.charts()->heatmapView()->heatmap().counts)
            total += c;
        QCOMPARE(total, quint64(100));
    }

    void severalSelectedOperationsAreCompared()
    {
        MetricsStore store;
        fill(store);
        MainWindow window(&store, nullptr);
        window.show();
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 3, 10'000);
        window.operationView()->selectAll();
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->comparing(), 15'000);
        QCOMPARE(window.charts()->visibleLatencySeries().size(), 3);
        QVERIFY(window.charts()->latencyTitle().startsWith(s("p99 of 3")));
    }

    /// Ctrl+click three rows of two processes: the charts show exactly those three, each named
    /// "operation — process" (two processes may both have a db.query), on the latency and the
    /// throughput chart, the memory and CPU of both processes (not of a third), and the
    /// throughput goes on updating (it stopped).
    void multiSelectionChartsExactlyTheSelected()
    {
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        const auto [a, b] = fillTwo(store);
        const quint64 third = store.openProcess(QCoreApplication::applicationPid(), s("third"), {});
        store.recordOperation(third, s("db.query"), 7'000, true, {});
        store.recordMemory(a, 100LL << 20, -1);
        store.recordMemory(b, 50LL << 20, -1);
        store.recordMemory(third, 70LL << 20, -1);
        MainWindow window(&store, nullptr);
        window.resize(1400, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsModel()->rowCount(), 5, 10'000);
        const std::pair<quint64, const char*> picks[] = { { a, "db.query" }, { a, "cache.get" }, { b, "b.only" } };
        for (const auto& [key, name] : picks) {
            const int row = window.operationsModel()->rowOf(key, s(name));
            QVERIFY(row >= 0);
            const QModelIndex index = window.operationsProxy()->mapFromSource(window.operationsModel()->index(row, 0));
            window.operationView()->selectionModel()->select(
                index, QItemSelectionModel::Select | QItemSelectionModel::Rows);
        }
        QStringList expected { s("db.query — a"), s("cache.get — a"), s("b.only — b") };
        expected.sort();
        const auto sorted = [](QStringList l) {
            l.sort();
            return l;
        };
        QTRY_COMPARE_WITH_TIMEOUT(sorted(window.charts()->visibleLatencySeries()), expected, 10'000);
        const QStringList throughput = window.charts()->visibleSeries(ChartsPanel::Kind::Throughput);
        for (const QString& name : std::as_const(expected))
            QVERIFY2(throughput.contains(name), qPrintable(throughput.join(u',')));
        QCOMPARE(window.charts()->legend(ChartsPanel::Kind::Throughput).size(), 3);
        QTRY_COMPARE_WITH_TIMEOUT(sorted(window.charts()->visibleSeries(ChartsPanel::Kind::Memory)),
            QStringList({ s("CPU of a"), s("CPU of b"), s("RSS of a"), s("RSS of b") }), 10'000);
        // Later seconds reach the throughput chart while the three stay selected.
        const auto counted
            = [&] { return window.charts()->points(ChartsPanel::Kind::Throughput, s("db.query — a")).size(); };
        const qsizetype before = counted();
        for (int second = 0; second < 3; ++second) {
            clock.advanceMs(1000);
            store.recordOperation(a, s("db.query"), 1'000'000, true, {});
        }
        QTRY_VERIFY_WITH_TIMEOUT(counted() > before, 10'000);
        QCOMPARE(sorted(window.charts()->visibleLatencySeries()), expected);
    }

    /// An attached process that is not a perfdash client has no operations: no empty operation
    /// charts, its memory and CPU only, and a sentence saying why.
    void processWithoutOperationsShowsItsMemoryOnly()
    {
        MetricsStore store;
        const quint64 instrumented = fill(store);
        QProcess sleeper;
        sleeper.start(s("sleep"), { s("60") });
        QVERIFY(sleeper.waitForStarted());
        const auto stop = qScopeGuard([&] {
            sleeper.kill();
            sleeper.waitForFinished();
        });
        QString error;
        const quint64 plain = store.attachPid(sleeper.processId(), &error);
        QVERIFY2(plain, qPrintable(error));
        MainWindow window(&store, nullptr);
        window.resize(1400, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(s("db.query")), 10'000);
        QVERIFY(window.charts()->operationChartsShown());
        window.selectProcess(plain);
        QTRY_VERIFY_WITH_TIMEOUT(!window.charts()->operationChartsShown(), 10'000);
        QVERIFY(!window.charts()->view(ChartsPanel::Kind::Latency)->isVisible());
        QVERIFY(!window.charts()->view(ChartsPanel::Kind::Throughput)->isVisible());
        QVERIFY(!window.charts()->heatmapView()->isVisible());
        QVERIFY(window.charts()->view(ChartsPanel::Kind::Memory)->isVisible());
        // Named as the store names it (its pid until /proc was read), never "select a process".
        const auto named = [&] {
            const ProcessInfo info = *store.process(plain);
            const QString title = window.charts()->title(ChartsPanel::Kind::Memory);
            return title.contains(info.name.isEmpty() ? QString::number(info.pid) : info.name);
        };
        QTRY_VERIFY2_WITH_TIMEOUT(named(), qPrintable(window.charts()->title(ChartsPanel::Kind::Memory)), 10'000);
        // Back to a process with operations: its charts again.
        window.selectProcess(instrumented);
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->operationChartsShown(), 10'000);
    }

    /// The CPU profile beside the charts or in its own tab, from the View menu, remembered.
    void profileBesideOrInItsTab()
    {
        MetricsStore store;
        fill(store);
        {
            MainWindow window(&store, nullptr);
            window.resize(1600, 1000);
            window.show();
            QVERIFY(!window.profileBeside());
            QAction* beside = actionNamed(&window, s("Profile beside charts"));
            QVERIFY(beside && beside->isCheckable());
            beside->trigger();
            QVERIFY(window.profileBeside());
            QTRY_VERIFY(window.profilePanel()->isVisible() && window.charts()->isVisible());
            // Halves of the views' room, each a main view's width.
            QTRY_VERIFY2(window.profilePanel()->width() > 300 && window.charts()->width() > 300,
                qPrintable(QStringLiteral("%1 %2").arg(window.profilePanel()->width()).arg(window.charts()->width())));
            window.close();
        }
        MainWindow again(&store, nullptr);
        QVERIFY(again.profileBeside());
        again.setProfileBeside(false);
        QCOMPARE(again.views()->indexOf(again.profilePanel()), 1);
        again.close(); // remembered as a tab again, for the other tests
    }

    void rangeDrivesTheTable()
    {
        // A clock of the test's own: the second the first operation falls in is known (with the real
        // one, a slow start under a sanitizer put it a second before the range, and the row vanished).
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        store.recordOperation(key, s("op"), 1000, true, {});
        MainWindow window(&store, nullptr);
        window.show();
        const auto count = [&] {
            const OperationRow* row = window.operationsModel()->rowAt(0);
            return row ? row->stats.count : quint64(0);
        };
        QTRY_COMPARE_WITH_TIMEOUT(count(), quint64(1), 10'000);
        // The next second gets nine more: the range over the first second sees 1.
        const qint64 first = clock.wallMs();
        clock.advanceMs(1000);
        for (int i = 0; i < 9; ++i)
            store.recordOperation(key, s("op"), 5000, true, {});
        QTRY_COMPARE_WITH_TIMEOUT(count(), quint64(10), 10'000);
        window.setStatisticsRange(first, first + 999);
        QTRY_COMPARE_WITH_TIMEOUT(count(), quint64(1), 10'000);
        QCOMPARE(window.operationsModel()->rowAt(0)->stats.maxNs, quint64(1000));
        QVERIFY(window.charts()->zoomed());
        // A range dragged on a chart does the same (the chart emits, the window listens).
        Q_EMIT window.charts()->rangeChanged(0, 0);
        QTRY_COMPARE_WITH_TIMEOUT(count(), quint64(10), 10'000);
    }

    void contextMenuActions()
    {
        MetricsStore store;
        fill(store);
        MainWindow window(&store, nullptr);
        window.resize(1600, 900);
        window.show();
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsProxy()->rowCount(), 3, 10'000);
        QTRY_COMPARE_WITH_TIMEOUT(
            window.operationsProxy()->index(0, OperationsModel::Operation).data().toString(), s("db.query"), 10'000);
        QMenu* menu = window.operationMenu(0);
        const auto action = [&](const char* name) { return menu->findChild<QAction*>(s(name)); };
        QVERIFY(action("copyRow") && action("copyCsv") && action("chart") && action("hide"));
        action("copyCsv")->trigger();
        const QStringList lines = QApplication::clipboard()->text().split(u'\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        // The columns the table shows, in its order: how many fit depends on the fonts and the
        // screen (the least used are hidden rather than scrolled to), the first three always do.
        QHeaderView* header = window.operationView()->horizontalHeader();
        QStringList shown;
        for (int visual = 0; visual < header->count(); ++visual) {
            const int logical = header->logicalIndex(visual);
            if (!header->isSectionHidden(logical))
                shown << window.operationsProxy()->headerData(logical, Qt::Horizontal).toString();
        }
        QVERIFY2(lines[0].startsWith(s("Process,Operation,Total time,")), qPrintable(lines[0]));
        QCOMPARE(lines[0], shown.join(u','));
        QVERIFY2(lines[1].startsWith(s("orders-api,db.query,")), qPrintable(lines[1]));
        QVERIFY(lines[1].contains(s("\"5.86 s (")) || lines[1].contains(s("5.86 s (")));
        action("copyRow")->trigger();
        QVERIFY(QApplication::clipboard()->text().contains(s("orders-api\tdb.query\t")));
        action("hide")->trigger();
        QTRY_COMPARE_WITH_TIMEOUT(window.operationsProxy()->rowCount(), 2, 10'000);
        delete menu;
        menu = window.operationMenu(0); // cache.get or the http one: charted on request
        const QString name = window.operationsProxy()->index(0, OperationsModel::Operation).data().toString();
        menu->findChild<QAction*>(s("chart"))->trigger();
        QTRY_VERIFY_WITH_TIMEOUT(window.charts()->latencyTitle().contains(name), 10'000);
        delete menu;
        window.operationsProxy()->showAll();
        QCOMPARE(window.operationsProxy()->rowCount(), 3);
    }

    void ctrlFFocusesTheFilter()
    {
        MetricsStore store;
        MainWindow window(&store, nullptr);
        window.show();
        QVERIFY(QTest::qWaitForWindowActive(&window));
        window.operationView()->setFocus();
        QTest::keyClick(&window, Qt::Key_F, Qt::ControlModifier);
        QTRY_VERIFY(qobject_cast<QLineEdit*>(QApplication::focusWidget()));
        QVERIFY(
            qobject_cast<QLineEdit*>(QApplication::focusWidget())->placeholderText().contains(s("Filter operations")));
    }

    void alertFiltersAndHonestCounts()
    {
        MetricsStore store;
        MainWindow window(&store, nullptr);
        AlertsModel* model = window.alertsModel();
        QAbstractItemModelTester tester(window.alertsFilter(), QAbstractItemModelTester::FailureReportingMode::QtTest);
        QList<Alert> alerts;
        alerts.append(Alert { Alert::Kind::BudgetBroken, 1, s("api"), s("db.query"), 5'000'000, s("p95 5 ms") });
        for (int i = 0; i < 2358; ++i)
            alerts.append(
                Alert { i % 10 ? Alert::Kind::Slow : Alert::Kind::VerySlow, 2 + i, i % 2 ? s("api") : s("worker"),
                    QStringLiteral("http.GET /users/%1").arg(i % 7), quint64(1000 + i), {} });
        model->add(alerts);
        // Kept: 1,000; raised: 2,359; and the budget alert, though the oldest, was kept.
        QCOMPARE(model->rowCount(), AlertsModel::MaxAlerts);
        QCOMPARE(model->total(), quint64(2359));
        QVERIFY(window.alertsTitle().contains(s("1,000")) && window.alertsTitle().contains(s("2,359")));
        AlertsFilterModel* filter = window.alertsFilter();
        filter->setKinds(AlertsFilterModel::Kinds::Budgets);
        QCOMPARE(filter->rowCount(), 1);
        QCOMPARE(filter->index(0, AlertsModel::Operation).data().toString(), s("db.query"));
        QVERIFY(window.alertsTitle().contains(s("1 shown")));
        filter->setKinds(AlertsFilterModel::Kinds::VerySlow);
        QCOMPARE(filter->rowCount(), 100);
        filter->setKinds(AlertsFilterModel::Kinds::All);
        filter->setProcess(s("worker"));
        QCOMPARE(filter->rowCount(), 499); // the newest 999 slow ones are kept: i = 1359..2357, even i
        filter->setOperation(s("users/3"));
        for (int r = 0; r < filter->rowCount(); ++r) {
            QVERIFY(filter->index(r, AlertsModel::Operation).data().toString().endsWith(s("/3")));
            QCOMPARE(filter->index(r, AlertsModel::Process).data().toString(), s("worker"));
        }
        QVERIFY(filter->rowCount() > 0);
        filter->setProcess({});
        filter->setOperation({});
        // Sorted by any column: by duration, longest first.
        window.alertView()->sortByColumn(AlertsModel::Duration, Qt::DescendingOrder);
        QCOMPARE(filter->index(0, AlertsModel::Duration).data(AlertsModel::SortRole).toULongLong(), quint64(5'000'000));
        QCOMPARE(
            filter->index(1, AlertsModel::Duration).data(AlertsModel::SortRole).toULongLong(), quint64(1000 + 2357));
        // The operation column can be read: its names are whole.
        window.resize(1400, 900);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QTRY_VERIFY(window.alertView()->columnWidth(AlertsModel::Operation)
            >= static_cast<QAbstractItemView*>(window.alertView())->sizeHintForColumn(AlertsModel::Operation));
    }

    void exportAndCaptureDialogsSayWhatTheyWrite()
    {
        ExportDialog capture(ExportDialog::Kind::Capture, StatsWindow::last(60), 0);
        QVERIFY(capture.description().contains(s("last 5 minutes")));
        QVERIFY(capture.description().contains(s("--record")));
        ExportDialog stats(ExportDialog::Kind::Statistics, StatsWindow::last(300), 1'700'000'000'000);
        QCOMPARE(stats.window(), StatsWindow::last(300)); // the table's window is offered first
        QVERIFY(stats.description().contains(s("paused")));
        // And the export follows the window it is given: one operation a minute ago, one now.
        ManualClock clock(1'700'000'000'000);
        MetricsStore store(&clock);
        const quint64 key = store.openProcess(QCoreApplication::applicationPid(), s("svc"), {});
        store.recordOperation(key, s("old.op"), 1000, true, {});
        clock.advanceMs(60'000);
        store.recordOperation(key, s("new.op"), 2000, true, {});
        store.recordOperation(key, s("new.op"), 3000, true, {});
        MainWindow window(&store, nullptr);
        QTemporaryDir dir;
        const QString recent = dir.filePath(s("recent.csv"));
        const QString session = dir.filePath(s("session.csv"));
        QCOMPARE(
            window.exportCsv(MainWindow::ExportKind::Statistics, recent, StatsWindow::last(10)).result(), QString());
        QCOMPARE(
            window.exportCsv(MainWindow::ExportKind::Statistics, session, StatsWindow::session()).result(), QString());
        QCOMPARE(countsOf(recent), (QHash<QString, int> { { s("new.op"), 2 } }));
        QCOMPARE(countsOf(session), (QHash<QString, int> { { s("old.op"), 1 }, { s("new.op"), 2 } }));
    }

    /// The list is read again while the dialog is open: a process that was "sh" when first listed
    /// shows the name it exec'd; Enter on the one process the filter leaves attaches to it.
    void attachListRefreshesAndEnterAttachesTheOnlyMatch()
    {
        // A token of this run alone, so that the filter leaves exactly one process.
        const QString token = QStringLiteral("600.%1").arg(QCoreApplication::applicationPid());
        QProcess child;
        child.start(s("/bin/sh"), { s("-c"), s("read x; exec sleep ") + token });
        QVERIFY(child.waitForStarted());
        const auto stop = qScopeGuard([&] {
            child.kill();
            child.waitForFinished();
        });
        const qint64 pid = child.processId();
        MetricsStore store;
        MainWindow window(&store, nullptr);
        window.show();
        QStringList names; // the child's name in each reading of the list after the first
        bool seenAsShell = false;
        int matches = -1;
        onNextModal<AttachDialog>([&](AttachDialog* dialog) {
            const auto nameOfChild = [dialog, pid] { // also called by the connection below
                QStandardItemModel* model = dialog->processModel();
                for (int row = 0; row < model->rowCount(); ++row) {
                    if (model->item(row, 0)->data(Qt::UserRole).toLongLong() == pid)
                        return model->item(row, 1)->text();
                }
                return QString();
            };
            QObject::connect(dialog, &AttachDialog::loaded, dialog, [&names, nameOfChild] { names << nameOfChild(); });
            const bool listedAsShell = QTest::qWaitFor([&] { return nameOfChild() == s("sh"); }, 10'000);
            seenAsShell = listedAsShell;
            child.write("\n"); // now it execs sleep; the dialog is not asked to read the list again
            const bool renamed = listedAsShell
                && QTest::qWaitFor([&] { return nameOfChild() == s("sleep"); }, AttachDialog::RefreshMs * 5);
            auto* filter = dialog->findChild<QLineEdit*>();
            filter->setText(token);
            matches = dialog->findChild<QTableView*>()->model()->rowCount();
            if (!renamed || matches != 1) {
                dialog->reject();
                return;
            }
            QTest::keyClick(filter, Qt::Key_Return);
        });
        QAction* attach = actionNamed(&window, s("Attach to process…"));
        QVERIFY(attach);
        attach->trigger(); // returns when the dialog is closed
        QVERIFY(seenAsShell);
        QVERIFY2(!names.isEmpty() && names.last() == s("sleep"), qPrintable(names.join(u',')));
        QCOMPARE(matches, 1);
        // Attached, and selected.
        QCOMPARE(store.processes().size(), 1);
        QCOMPARE(store.processes().first().pid, pid);
    }

    /// IngestServer::connectionProblem reaches the status bar, once per
    /// episode of refusals (not once per refused connection), and the refusals are counted there.
    void connectionProblemsReachTheStatusBarOncePerEpisode()
    {
        QTemporaryDir dir;
        MetricsStore store;
        IngestServer server(&store);
        server.setMaxConnections(1);
        QString error;
        QVERIFY2(server.listen(dir.filePath(s("window.sock")), &error), qPrintable(error));
        MainWindow window(&store, &server);
        QSignalSpy messages(window.statusBar(), &QStatusBar::messageChanged);
        QSignalSpy problems(&server, &IngestServer::connectionProblem);
        window.show();
        std::vector<std::unique_ptr<QLocalSocket>> clients;
        for (int i = 0; i < 4; ++i) { // one held, three over the cap
            clients.push_back(std::make_unique<QLocalSocket>());
            clients.back()->connectToServer(server.socketPath());
            QVERIFY(clients.back()->waitForConnected(10'000));
        }
        QTRY_COMPARE_WITH_TIMEOUT(server.stats().refusedLimit, quint64(3), 20'000);
        QTRY_COMPARE_WITH_TIMEOUT(messagesWith(messages, s("refusing connections")), 1, 10'000);
        QCOMPARE(problems.count(), 1);
        QVERIFY2(window.statusBar()->currentMessage().contains(s("refusing connections")),
            qPrintable(window.statusBar()->currentMessage()));
        QTRY_VERIFY_WITH_TIMEOUT(!statusLabelWith(window, s("3 refused")).isEmpty(), 10'000);
        QCoreApplication::sendPostedEvents(); // every queued problem is in: the episode was said once
        QCOMPARE(messagesWith(messages, s("refusing connections")), 1);
    }

    /// /metrics refusing connections is said in the status bar too, not only
    /// on stderr, and counted with the window's refusals.
    void httpRefusalsReachTheStatusBar()
    {
        QTemporaryDir dir;
        MetricsStore store;
        IngestServer server(&store);
        QString error;
        QVERIFY2(server.listen(dir.filePath(s("http.sock")), &error), qPrintable(error));
        MetricsEndpoint metrics(&store);
        LimitedTcpServer::Limits limits;
        limits.maxConnections = 1;
        limits.responseDeadlineMs = 60'000;
        metrics.setLimits(limits);
        QVERIFY2(metrics.listen(QHostAddress::LocalHost, 0, &error), qPrintable(error));
        MainWindow window(&store, &server);
        window.setHttpEndpoints(&metrics, nullptr);
        QSignalSpy messages(window.statusBar(), &QStatusBar::messageChanged);
        window.show();
        std::vector<std::unique_ptr<QTcpSocket>> clients;
        for (int i = 0; i < 3; ++i) { // one held, two refused
            clients.push_back(std::make_unique<QTcpSocket>());
            clients.back()->connectToHost(QHostAddress::LocalHost, metrics.port());
            QVERIFY(clients.back()->waitForConnected(10'000));
        }
        QTRY_COMPARE_WITH_TIMEOUT(metrics.httpStats().refusedLimit, quint64(2), 20'000);
        QTRY_COMPARE_WITH_TIMEOUT(messagesWith(messages, s("/metrics: refusing connections")), 1, 10'000);
        QTRY_VERIFY_WITH_TIMEOUT(!statusLabelWith(window, s("2 refused")).isEmpty(), 10'000);
    }

    /// An opened capture serves nothing: the status says so, and its exited processes show no rate.
    void readOnlyCaptureSaysSoAndShowsNoRateForExited()
    {
        MetricsStore store;
        const quint64 key = fill(store);
        store.closeProcess(key);
        MainWindow recorder(&store, nullptr);
        QTemporaryDir dir;
        const QString path = dir.filePath(s("exited.pdcap"));
        QCOMPARE(recorder.saveCapture(path).result(), QString());
        QString error;
        std::unique_ptr<MainWindow> window(MainWindow::openCaptureWindow(path, &error));
        QVERIFY2(window, qPrintable(error));
        window->setAttribute(Qt::WA_DeleteOnClose, false);
        window->show();
        QTRY_COMPARE_WITH_TIMEOUT(window->processesModel()->rowCount(), 1, 10'000);
        QTRY_VERIFY_WITH_TIMEOUT(statusText(*window).contains(s("Read-only: not listening")), 10'000);
        const QString status = statusText(*window);
        QVERIFY2(!status.contains(s("ops/s")) && !status.contains(s("Socket")), qPrintable(status));
        QCOMPARE(window->processesModel()->index(0, ProcessesModel::Rate).data().toString(), s("–"));
        QVERIFY(window->views()->count() >= 1); // the peer views' tabs
    }

    /// --record says in the status bar that it records, and where; without it, nothing is said.
    void recordingIsShown()
    {
        MetricsStore store;
        MainWindow window(&store, nullptr);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        QVERIFY(!statusText(window).contains(s("Recording")));
        window.setRecording(s("/tmp/session.pdcap"));
        QTRY_VERIFY2(statusText(window).contains(s("Recording to /tmp/session.pdcap")), qPrintable(statusText(window)));
        window.setRecording({});
        QTRY_VERIFY2(!statusText(window).contains(s("Recording")), qPrintable(statusText(window)));
    }

    /// Help: the shortcuts, and how to instrument a program with this window's own socket.
    void helpSaysHowToInstrument()
    {
        MetricsStore store;
        QTemporaryDir dir;
        IngestServer server(&store);
        QString error;
        const QString socket = dir.filePath(s("help.sock"));
        QVERIFY2(server.listen(socket, &error), qPrintable(error));
        MainWindow window(&store, &server);
        window.show();
        QAction* instrumenting = actionNamed(&window, s("Instrumenting a program…"));
        QAction* shortcuts = actionNamed(&window, s("Keyboard and mouse"));
        QVERIFY(instrumenting && shortcuts && actionNamed(&window, s("About perfdash")));
        const QString how = textOfHelp(instrumenting);
        for (const QString& needed :
            { socket, s("PERFDASH_SCOPE"), s("C++"), s("Node.js"), s("OpenTelemetry"), s("--otlp") })
            QVERIFY2(how.contains(needed), qPrintable(needed + s(" not in: ") + how));
        const QString keys = textOfHelp(shortcuts);
        QVERIFY2(keys.contains(s("Ctrl+F")) && keys.contains(s("filter")), qPrintable(keys));
        // The flame graph's controls: zoom, zoom out, its context menu.
        QVERIFY2(keys.contains(s("Backspace")) && keys.contains(s("focus on the function"))
                && keys.contains(s("Compare with mark")),
            qPrintable(keys));
    }
};

QTEST_MAIN(TestWindow)
#include "tst_window.moc"
