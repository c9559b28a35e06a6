// SPDX-License-Identifier: GPL-3.0-or-later
// Menus and shortcuts: File, View, Help, and the operations' context menu.
#include "widgets/mainwindow.h"

#include "core/csvwriter.h"
#include "ipc/ingestserver.h"
#include "models/alertsmodel.h"
#include "models/operationsfiltermodel.h"
#include "models/operationsmodel.h"
#include "widgets/chartspanel.h"
#include "widgets/profilepanel.h"
#include "widgets/theme.h"

#include <QAction>
#include <QActionGroup>
#include <QApplication>
#include <QClipboard>
#include <QDialog>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QLineEdit>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStatusBar>
#include <QTableView>
#include <QTextBrowser>
#include <QToolButton>
#include <QVBoxLayout>

namespace perfdash {

namespace {
/// A CSV cell as the exports write it (RFC 4180 quoting, formula injection neutralised).
QString csvCell(const QString& text)
{
    QString cell = text;
    if (!cell.isEmpty() && QStringLiteral("=+-@\t\r").contains(cell.front()))
        cell.prepend(u'\'');
    if (cell.contains(u',') || cell.contains(u'"') || cell.contains(u'\n') || cell.contains(u'\r'))
        cell = u'"' + cell.replace(QStringLiteral("\""), QStringLiteral("\"\"")) + u'"';
    return cell;
}

void showText(QWidget* parent, const QString& title, const QString& html)
{
    QDialog dialog(parent);
    dialog.setWindowTitle(title);
    auto* layout = new QVBoxLayout(&dialog);
    auto* text = new QTextBrowser(&dialog);
    text->setOpenExternalLinks(true);
    text->setHtml(html);
    layout->addWidget(text);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, &dialog);
    QObject::connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
    layout->addWidget(buttons);
    dialog.resize(dialog.fontMetrics().averageCharWidth() * 90, dialog.fontMetrics().height() * 30);
    dialog.exec();
}
} // namespace

void MainWindow::buildMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("Attach to process…"), QKeySequence(tr("Ctrl+A")), this, &MainWindow::showAttachDialog);
    file->addAction(tr("Launch program…"), QKeySequence(tr("Ctrl+L")), this, &MainWindow::showLaunchDialog);
    file->addSeparator();
    file->addAction(tr("Open capture…"), QKeySequence::Open, this, &MainWindow::openCaptureWithDialog);
    file->addAction(tr("Save capture…"), QKeySequence::Save, this, &MainWindow::saveCaptureWithDialog);
    file->addAction(tr("Compare captures…"), this, &MainWindow::compareWithDialog);
    file->addSeparator();
    file->addAction(tr("Export statistics CSV…"), QKeySequence(tr("Ctrl+E")), this,
        [this] { exportWithDialog(ExportKind::Statistics); });
    file->addAction(tr("Export series CSV…"), this, [this] { exportWithDialog(ExportKind::Series); });
    file->addAction(tr("Export memory CSV…"), this, [this] { exportWithDialog(ExportKind::Memory); });
    file->addAction(tr("Export Chrome trace (Perfetto)…"), this, [this] { exportWithDialog(ExportKind::Trace); });
    file->addAction(tr("Export profile (folded stacks or pprof)…"), this, [this] { m_profile->exportWithDialog(); });
    file->addSeparator();
    file->addAction(tr("Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Budgets and thresholds…"), QKeySequence(tr("Ctrl+B")), this, &MainWindow::showBudgetsDialog);
    QAction* pause = view->addAction(tr("Pause"), QKeySequence(tr("Space")), m_pause, &QToolButton::toggle);
    pause->setShortcutContext(Qt::ApplicationShortcut);
    QAction* find = view->addAction(tr("Filter operations"), QKeySequence::Find, this, [this] {
        m_filter->setFocus(Qt::ShortcutFocusReason);
        m_filter->selectAll();
    });
    find->setShortcutContext(Qt::WindowShortcut);
    view->addAction(tr("Show hidden operations"), this, [this] { m_operationsProxy->showAll(); });
    view->addAction(tr("Back to live range"), QKeySequence(tr("Esc")), this, [this] { setStatisticsRange(0, 0); });
    view->addAction(tr("Clear alerts"), m_alerts, &AlertsModel::clear);
    view->addSeparator();
    view->addAction(m_profileBesideAction);
    QMenu* themes = view->addMenu(tr("Theme"));
    auto* group = new QActionGroup(this);
    const Theme current = Theme(QSettings().value(QStringLiteral("view/theme"), int(Theme::System)).toInt());
    for (auto [theme, name] : { std::pair { Theme::System, tr("Follow the system") },
             std::pair { Theme::Light, tr("Light") }, std::pair { Theme::Dark, tr("Dark") } }) {
        QAction* a = themes->addAction(name);
        a->setCheckable(true);
        a->setChecked(theme == current);
        group->addAction(a);
        connect(a, &QAction::triggered, this, [theme] {
            applyTheme(theme);
            QSettings().setValue(QStringLiteral("view/theme"), int(theme));
        });
    }
    buildHelpMenu();
}

void MainWindow::buildHelpMenu()
{
    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("Keyboard and mouse"), QKeySequence::HelpContents, this, &MainWindow::showShortcuts);
    help->addAction(tr("Instrumenting a program…"), this, &MainWindow::showInstrumenting);
    help->addSeparator();
    help->addAction(tr("About perfdash"), this, &MainWindow::showAbout);
}

void MainWindow::showShortcuts()
{
    showText(this, tr("Keyboard and mouse"),
        tr("<table cellpadding='3'>"
           "<tr><td><b>Ctrl+F</b></td><td>filter the operations (a substring or a glob: <code>api.*</code>)</td></tr>"
           "<tr><td><b>Space</b></td><td>pause or resume the view (data keeps arriving)</td></tr>"
           "<tr><td><b>Ctrl+A</b> / <b>Ctrl+L</b></td><td>attach to a process / launch a program</td></tr>"
           "<tr><td><b>Ctrl+O</b> / <b>Ctrl+S</b></td><td>open / save a capture</td></tr>"
           "<tr><td><b>Ctrl+E</b></td><td>export the statistics as CSV</td></tr>"
           "<tr><td><b>Ctrl+B</b></td><td>budgets and thresholds</td></tr>"
           "<tr><td><b>Esc</b></td><td>back from a selected range to the live charts</td></tr>"
           "<tr><td><b>Ctrl+click</b>, <b>Shift+click</b></td><td>select several operations: their percentile on one "
           "chart</td></tr>"
           "<tr><td><b>hover</b> a chart</td><td>crosshair with every series' value at that second</td></tr>"
           "<tr><td><b>drag</b> on a chart</td><td>select a time range: the table's statistics are over it</td></tr>"
           "<tr><td><b>double-click</b> a chart</td><td>back to the live range</td></tr>"
           "<tr><td><b>click</b> a legend entry</td><td>hide or show that series</td></tr>"
           "<tr><td><b>right-click</b> a row</td><td>copy it, copy as CSV, chart, hide</td></tr>"
           "<tr><td><b>right-click</b> a header</td><td>show or hide columns</td></tr>"
           "<tr><th colspan='2' align='left'>CPU profile</th></tr>"
           "<tr><td><b>click</b> a frame</td><td>zoom into it (the top functions follow); click the bars below "
           "it to zoom out</td></tr>"
           "<tr><td><b>Backspace</b> / <b>Esc</b></td><td>zoom out one level / reset the zoom (flame graph "
           "focused)</td></tr>"
           "<tr><td><b>right-click</b> a frame</td><td>copy its name, zoom, focus on the function (every call "
           "merged), show its callers</td></tr>"
           "<tr><td><b>hover</b> a frame</td><td>its whole name, module, self and total samples</td></tr>"
           "<tr><td><b>Icicle</b>, <b>Collapse recursion</b></td><td>the graph of callers (an icicle); "
           "a function's calls of itself merged</td></tr>"
           "<tr><td><b>Mark</b>, <b>Compare with mark</b></td><td>keep the profile now; colour it by what "
           "changed since (red: gained, blue: lost)</td></tr>"
           "<tr><td><b>Mark &gt; Compare with a capture…</b></td><td>the same against this process's "
           "profile in a capture file (a recorded run); <b>Clear mark</b> to stop</td></tr>"
           "<tr><td><b>double-click</b> a function</td><td>top functions: zoom to its heaviest call; trees: its "
           "callers and callees</td></tr>"
           "</table>"));
}

void MainWindow::showInstrumenting()
{
    const QString socket = m_server ? m_server->socketPath() : tr("(this window does not listen: it shows a capture)");
    showText(this, tr("Instrumenting a program"),
        tr("<p>This dashboard listens on <code>%1</code>. A program finds it through "
           "<code>PERFDASH_SOCKET</code> (File &gt; Launch and <code>perfdash -- COMMAND</code> set it).</p>"
           "<h3>C++</h3><pre>#include &lt;perfdash/perfdash.hpp&gt;\n"
           "void query() {\n    PERFDASH_SCOPE(\"db.query\");\n    ...\n}</pre>"
           "<p>Link <code>perfdash_client</code> (CMake: <code>find_package(perfdash)</code>, or pkg-config "
           "<code>perfdash-client</code>).</p>"
           "<h3>C</h3><pre>#include &lt;perfdash/perfdash.h&gt;\n"
           "perfdash_op query;\nperfdash_operation(\"db.query\", &amp;query);\n"
           "perfdash_scope scope;\nperfdash_scope_begin(&amp;scope, query);\n...\nperfdash_scope_end(&amp;scope);</pre>"
           "<h3>Node.js</h3><pre>const perfdash = require('./examples/node/perfdash.js');\n"
           "const rows = await perfdash.track('db.query', () =&gt; db.query(sql));</pre>"
           "<h3>Any language</h3><p>One JSON object a line on the socket: "
           "<code>{\"type\":\"hello\",\"version\":1,\"pid\":1234,\"name\":\"orders-api\"}</code> then "
           "<code>{\"type\":\"op\",\"name\":\"db.query\",\"duration_us\":812.5,\"ok\":true}</code> "
           "(docs/PROTOCOL.md).</p>"
           "<h3>OpenTelemetry</h3><p>Start perfdash with <code>--otlp 4318</code> and point the SDK's OTLP/HTTP "
           "exporter at <code>http://127.0.0.1:4318</code>: each span becomes an operation of its "
           "<code>service.name</code>.</p>"
           "<p>The examples are in <code>examples/</code> (C, C++, Node.js).</p>")
            .arg(socket.toHtmlEscaped()));
}

void MainWindow::showAbout()
{
    QMessageBox::about(this, tr("About perfdash"),
        tr("<h3>perfdash</h3><p>A live profiling dashboard: percentiles, errors, memory and CPU of instrumented "
           "processes, latency heatmaps, budgets and alerts, CSV exports and captures.</p>"
           "<p>Built with Qt %1. Licensed under the GPL-3.0 (the client library under the MIT licence).</p>")
            .arg(QString::fromLatin1(qVersion())));
}

QMenu* MainWindow::operationMenu(int proxyRow)
{
    auto* menu = new QMenu(this);
    QModelIndexList rows = m_operationView->selectionModel()->selectedRows();
    if (rows.isEmpty() || !m_operationView->selectionModel()->isRowSelected(proxyRow, {}))
        rows = { m_operationsProxy->index(proxyRow, 0) };
    QAction* copy = menu->addAction(tr("Copy row"), this, [this, rows] { copyRows(rows, false); });
    copy->setObjectName(QStringLiteral("copyRow"));
    QAction* csv = menu->addAction(tr("Copy as CSV"), this, [this, rows] { copyRows(rows, true); });
    csv->setObjectName(QStringLiteral("copyCsv"));
    QAction* chart = menu->addAction(rows.size() > 1 ? tr("Compare on one chart") : tr("Chart"), this, [this, rows] {
        QList<ChartTarget> targets;
        for (const QModelIndex& index : rows) {
            if (const OperationRow* r = m_operations->rowAt(m_operationsProxy->mapToSource(index).row()))
                targets.append(ChartTarget { r->processKey, r->stats.operation, r->group });
        }
        compareOperations(targets);
    });
    chart->setObjectName(QStringLiteral("chart"));
    QAction* hide = menu->addAction(tr("Hide"), this, [this, rows] { hideOperations(rows); });
    hide->setObjectName(QStringLiteral("hide"));
    return menu;
}

void MainWindow::copyRows(const QModelIndexList& rows, bool csv) const
{
    // The visible columns in their shown order, as the table has them.
    QHeaderView* header = m_operationView->horizontalHeader();
    QList<int> columns;
    for (int visual = 0; visual < header->count(); ++visual) {
        const int logical = header->logicalIndex(visual);
        if (!header->isSectionHidden(logical))
            columns.append(logical);
    }
    const QString separator = csv ? QStringLiteral(",") : QStringLiteral("\t");
    QStringList lines;
    QStringList head;
    for (int c : columns)
        head << (csv ? csvCell(m_operationsProxy->headerData(c, Qt::Horizontal).toString())
                     : m_operationsProxy->headerData(c, Qt::Horizontal).toString());
    lines << head.join(separator);
    for (const QModelIndex& row : rows) {
        QStringList cells;
        for (int c : columns) {
            const QString text = m_operationsProxy->index(row.row(), c).data().toString();
            cells << (csv ? csvCell(text) : text);
        }
        lines << cells.join(separator);
    }
    QApplication::clipboard()->setText(lines.join(u'\n') + u'\n');
}

void MainWindow::hideOperations(const QModelIndexList& rows)
{
    QList<std::pair<quint64, QString>> hidden;
    for (const QModelIndex& index : rows) {
        if (const OperationRow* r = m_operations->rowAt(m_operationsProxy->mapToSource(index).row()))
            hidden.append({ r->processKey, r->stats.operation });
    }
    for (const auto& [key, name] : hidden)
        m_operationsProxy->hide(key, name);
    statusBar()->showMessage(
        tr("%n operation(s) hidden; View > Show hidden operations shows them again", nullptr, int(hidden.size())),
        5000);
}

} // namespace perfdash
