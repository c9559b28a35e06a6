// SPDX-License-Identifier: GPL-3.0-or-later
#include "mainwindow.h"

#include "alertsmodel.h"
#include "attachdialog.h"
#include "budgetsdialog.h"
#include "capture.h"
#include "chartspanel.h"
#include "comparisonwindow.h"
#include "csvwriter.h"
#include "format.h"
#include "ingestserver.h"
#include "operationsmodel.h"
#include "processesmodel.h"
#include "traceexport.h"

#include <QAction>
#include <QApplication>
#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QFileDialog>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QProcess>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTableView>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

namespace perfdash {

namespace {
    constexpr int RefreshMs = 100;
    constexpr int MaxPendingAlerts = 2000;

    struct Choice
    {
        const char* label;
        int value;
    };
    constexpr Choice Windows[] = { { "last 10 s", 10 }, { "last 1 min", 60 }, { "last 5 min", 300 }, { "session", 0 } };
    constexpr Choice Ranges[] = { { "1 min", 60 }, { "5 min", 300 }, { "1 hour", 3600 }, { "session", 0 } };

    QTableView* makeTable(QWidget* parent)
    {
        auto* view = new QTableView(parent);
        view->setSelectionBehavior(QAbstractItemView::SelectRows);
        view->setSelectionMode(QAbstractItemView::SingleSelection);
        view->setAlternatingRowColors(true);
        view->setWordWrap(false);
        view->verticalHeader()->hide();
        view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
        view->horizontalHeader()->setHighlightSections(false);
        view->horizontalHeader()->setSectionsMovable(true);
        return view;
    }

    QLabel* section(const QString& text, QWidget* parent)
    {
        auto* label = new QLabel(text, parent);
        QFont f = label->font();
        f.setBold(true);
        label->setFont(f);
        label->setContentsMargins(4, 4, 4, 2);
        return label;
    }

    /// "failed, table=users, rows=3": what the alerts table says of a slow operation.
    QString describeSample(const QVariantMap& metadata, bool ok)
    {
        QStringList parts;
        for (auto it = metadata.cbegin(); it != metadata.cend(); ++it)
            parts << it.key() + u'=' + it.value().toString();
        if (!ok)
            parts.prepend(MainWindow::tr("failed"));
        return parts.join(QStringLiteral(", "));
    }
} // namespace

MainWindow::MainWindow(MetricsStore* store, IngestServer* server, QWidget* parent)
    : QMainWindow(parent)
    , m_store(store)
    , m_server(server)
    , m_pool(2)
    , m_debouncer(DebounceConfig { 90, 100, true, false }) // at most 10 refreshes a second
    , m_processes(new ProcessesModel(this))
    , m_operations(new OperationsModel(this))
    , m_alerts(new AlertsModel(this))
    , m_processesProxy(new QSortFilterProxyModel(this))
    , m_operationsProxy(new QSortFilterProxyModel(this))
{
    qRegisterMetaType<perfdash::SnapshotPtr>();
    setWindowTitle(tr("perfdash"));
    buildUi();
    buildMenus();
    restoreSettings();

    connect(m_store, &MetricsStore::slowOperation, this, [this](quint64 key, const OperationSample& s) {
        queueAlert(Alert { s.severity == OperationSample::Severity::VerySlow ? Alert::Kind::VerySlow : Alert::Kind::Slow,
            s.timestampMs, m_store->processName(key), s.operation, s.durationNs, describeSample(s.metadata, s.ok) });
    });
    connect(m_store, &MetricsStore::budgetViolationChanged, this,
        [this](quint64 key, const BudgetViolation& v, bool broken) {
            queueAlert(Alert { broken ? Alert::Kind::BudgetBroken : Alert::Kind::BudgetRecovered,
                QDateTime::currentMSecsSinceEpoch(), m_store->processName(key), v.operation, v.actualNs,
                tr("p%1 %2 against a budget of %3 (%4×)")
                    .arg(v.budget.percentile)
                    .arg(formatDuration(v.actualNs), formatDuration(v.budget.limitNs))
                    .arg(v.severity, 0, 'f', 2) });
        });

    m_tick.setInterval(RefreshMs);
    connect(&m_tick, &QTimer::timeout, this, &MainWindow::requestRefresh);
    m_tick.start();
    requestRefresh();
}

MainWindow::~MainWindow()
{
    m_tick.stop();
    m_debouncer.cancel();
    m_pool.cancelQueued();
    m_pool.waitForDone();
    for (auto& p : m_launched) {
        if (p->state() != QProcess::NotRunning) {
            p->terminate();
            if (!p->waitForFinished(2000))
                p->kill();
        }
    }
}

void MainWindow::buildUi()
{
    auto* toolbar = addToolBar(tr("View"));
    toolbar->setObjectName(QStringLiteral("viewToolbar"));
    toolbar->setMovable(false);
    toolbar->addWidget(new QLabel(tr(" Statistics over "), this));
    m_window = new QComboBox(this);
    for (const Choice& c : Windows)
        m_window->addItem(tr(c.label), c.value);
    m_window->setCurrentIndex(1);
    toolbar->addWidget(m_window);
    toolbar->addWidget(new QLabel(tr("  Charts "), this));
    m_range = new QComboBox(this);
    for (const Choice& c : Ranges)
        m_range->addItem(tr(c.label), c.value);
    m_range->setCurrentIndex(1);
    toolbar->addWidget(m_range);
    m_log = new QCheckBox(tr("log latency"), this);
    toolbar->addWidget(m_log);
    m_pause = new QToolButton(this);
    m_pause->setText(tr("Pause"));
    m_pause->setCheckable(true);
    m_pause->setToolTip(tr("Freeze the view; data keeps arriving"));
    toolbar->addWidget(m_pause);
    toolbar->addSeparator();
    m_group = new QCheckBox(tr("group by prefix"), this);
    m_group->setToolTip(tr("Add a merged row for each name prefix shared by several operations (api.*)"));
    toolbar->addWidget(m_group);
    m_filter = new QLineEdit(this);
    m_filter->setPlaceholderText(tr("Filter operations (api.*)"));
    m_filter->setClearButtonEnabled(true);
    m_filter->setMaximumWidth(260);
    toolbar->addWidget(m_filter);

    m_processesProxy->setSourceModel(m_processes);
    m_processesProxy->setSortRole(ProcessesModel::SortRole);
    m_operationsProxy->setSourceModel(m_operations);
    m_operationsProxy->setSortRole(OperationsModel::SortRole);
    m_operationsProxy->setFilterKeyColumn(OperationsModel::Operation);
    m_operationsProxy->setFilterCaseSensitivity(Qt::CaseInsensitive);

    m_processView = makeTable(this);
    m_processView->setModel(m_processesProxy);
    m_processView->setSortingEnabled(true);
    m_processView->sortByColumn(-1, Qt::AscendingOrder);
    m_processView->horizontalHeader()->setSectionResizeMode(ProcessesModel::Name, QHeaderView::Stretch);
    m_operationView = makeTable(this);
    m_operationView->setModel(m_operationsProxy);
    m_operationView->setSortingEnabled(true);
    m_operationView->sortByColumn(OperationsModel::Operation, Qt::AscendingOrder);
    m_operationView->horizontalHeader()->setSectionResizeMode(OperationsModel::Operation, QHeaderView::Stretch);
    m_alertView = makeTable(this);
    m_alertView->setModel(m_alerts);
    m_alertView->horizontalHeader()->setSectionResizeMode(AlertsModel::Details, QHeaderView::Stretch);
    m_charts = new ChartsPanel(this);

    auto* processBox = new QWidget(this);
    auto* pl = new QVBoxLayout(processBox);
    pl->setContentsMargins(0, 0, 0, 0);
    pl->setSpacing(0);
    auto* processHeader = new QHBoxLayout;
    processHeader->addWidget(section(tr("Processes"), processBox));
    processHeader->addStretch();
    auto* allProcesses = new QPushButton(tr("All processes"), processBox);
    allProcesses->setToolTip(tr("Selecting a process shows only its operations; this shows them all again"));
    processHeader->addWidget(allProcesses);
    pl->addLayout(processHeader);
    pl->addWidget(m_processView);
    connect(allProcesses, &QPushButton::clicked, this, [this] {
        m_processView->selectionModel()->clear();
        m_selectedProcess = 0;
        requestRefresh();
    });
    auto* operationBox = new QWidget(this);
    auto* ol = new QVBoxLayout(operationBox);
    ol->setContentsMargins(0, 0, 0, 0);
    ol->setSpacing(0);
    ol->addWidget(section(tr("Operations"), operationBox));
    ol->addWidget(m_operationView);
    auto* alertBox = new QWidget(this);
    auto* al = new QVBoxLayout(alertBox);
    al->setContentsMargins(0, 0, 0, 0);
    al->setSpacing(0);
    auto* alertHeader = new QHBoxLayout;
    m_alertsTitle = section(tr("Alerts"), alertBox);
    alertHeader->addWidget(m_alertsTitle);
    alertHeader->addStretch();
    auto* clear = new QPushButton(tr("Clear"), alertBox);
    alertHeader->addWidget(clear);
    al->addLayout(alertHeader);
    al->addWidget(m_alertView);
    connect(clear, &QPushButton::clicked, m_alerts, &AlertsModel::clear);

    m_tablesSplitter = new QSplitter(Qt::Vertical, this);
    m_tablesSplitter->addWidget(processBox);
    m_tablesSplitter->addWidget(operationBox);
    m_tablesSplitter->setStretchFactor(0, 1);
    m_tablesSplitter->setStretchFactor(1, 3);
    m_mainSplitter = new QSplitter(Qt::Horizontal, this);
    m_mainSplitter->addWidget(m_tablesSplitter);
    m_mainSplitter->addWidget(m_charts);
    m_mainSplitter->setStretchFactor(0, 3);
    m_mainSplitter->setStretchFactor(1, 2);
    m_verticalSplitter = new QSplitter(Qt::Vertical, this);
    m_verticalSplitter->addWidget(m_mainSplitter);
    m_verticalSplitter->addWidget(alertBox);
    m_verticalSplitter->setStretchFactor(0, 4);
    m_verticalSplitter->setStretchFactor(1, 1);
    setCentralWidget(m_verticalSplitter);

    m_statusSocket = new QLabel(this);
    m_statusConnections = new QLabel(this);
    m_statusRate = new QLabel(this);
    m_statusDrops = new QLabel(this);
    m_statusAlerts = new QLabel(this);
    m_exportProgress = new QProgressBar(this);
    m_exportProgress->setRange(0, 0); // busy: the writer does not know the size in advance
    m_exportProgress->setMaximumWidth(120);
    m_exportProgress->hide();
    statusBar()->addPermanentWidget(m_exportProgress);
    for (QLabel* l : { m_statusSocket, m_statusConnections, m_statusRate, m_statusDrops, m_statusAlerts })
        statusBar()->addPermanentWidget(l);
    m_statusSocket->setTextInteractionFlags(Qt::TextSelectableByMouse);

    connect(m_window, &QComboBox::currentIndexChanged, this, &MainWindow::requestRefresh);
    connect(m_range, &QComboBox::currentIndexChanged, this, &MainWindow::requestRefresh);
    connect(m_log, &QCheckBox::toggled, m_charts, &ChartsPanel::setLogScale);
    connect(m_pause, &QToolButton::toggled, this, &MainWindow::setPaused);
    connect(m_group, &QCheckBox::toggled, this, &MainWindow::setGroupByPrefix);
    connect(m_filter, &QLineEdit::textChanged, this, [this](const QString& text) {
        m_operationsProxy->setFilterRegularExpression(
            QRegularExpression::fromWildcard(text.contains(u'*') || text.contains(u'?') ? text : u'*' + text + u'*',
                Qt::CaseInsensitive, QRegularExpression::UnanchoredWildcardConversion));
    });
    connect(m_processView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex& current) {
            m_selectedProcess = current.isValid() ? current.data(ProcessesModel::KeyRole).toULongLong() : 0;
            requestRefresh();
        });
    connect(m_operationView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex& current) {
            if (!current.isValid())
                return;
            m_chartProcess = current.data(OperationsModel::ProcessKeyRole).toULongLong();
            m_chartOperation = current.data(OperationsModel::OperationRole).toString();
            requestRefresh();
        });
}

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
    file->addSeparator();
    file->addAction(tr("Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu* view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Budgets and thresholds…"), QKeySequence(tr("Ctrl+B")), this, &MainWindow::showBudgetsDialog);
    QAction* pause = view->addAction(tr("Pause"), QKeySequence(tr("Space")), m_pause, &QToolButton::toggle);
    pause->setShortcutContext(Qt::ApplicationShortcut);
    view->addAction(tr("Clear alerts"), m_alerts, &AlertsModel::clear);
}

void MainWindow::restoreSettings()
{
    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("window/geometry")).toByteArray());
    if (!settings.contains(QStringLiteral("window/geometry")))
        resize(1400, 880);
    if (!m_mainSplitter->restoreState(settings.value(QStringLiteral("window/mainSplitter")).toByteArray()))
        m_mainSplitter->setSizes({ 780, 620 });
    if (!m_tablesSplitter->restoreState(settings.value(QStringLiteral("window/tablesSplitter")).toByteArray()))
        m_tablesSplitter->setSizes({ 170, 480 });
    if (!m_verticalSplitter->restoreState(settings.value(QStringLiteral("window/verticalSplitter")).toByteArray()))
        m_verticalSplitter->setSizes({ 700, 160 });
    m_operationView->horizontalHeader()->restoreState(settings.value(QStringLiteral("window/operationColumns")).toByteArray());
    m_processView->horizontalHeader()->restoreState(settings.value(QStringLiteral("window/processColumns")).toByteArray());
    m_window->setCurrentIndex(std::clamp(settings.value(QStringLiteral("view/window"), 1).toInt(), 0, m_window->count() - 1));
    m_range->setCurrentIndex(std::clamp(settings.value(QStringLiteral("view/range"), 1).toInt(), 0, m_range->count() - 1));
    m_log->setChecked(settings.value(QStringLiteral("view/log"), false).toBool());
    m_group->setChecked(settings.value(QStringLiteral("view/group"), false).toBool());
    m_exportFolder = settings.value(QStringLiteral("export/folder"), QDir::homePath()).toString();
    const Thresholds thresholds = loadThresholds();
    m_store->setSlowThreshold(std::chrono::nanoseconds(thresholds.slowNs), std::chrono::nanoseconds(thresholds.verySlowNs));
    m_store->setBudgets(loadBudgets());
}

void MainWindow::saveSettings() const
{
    QSettings settings;
    settings.setValue(QStringLiteral("window/geometry"), saveGeometry());
    settings.setValue(QStringLiteral("window/mainSplitter"), m_mainSplitter->saveState());
    settings.setValue(QStringLiteral("window/tablesSplitter"), m_tablesSplitter->saveState());
    settings.setValue(QStringLiteral("window/verticalSplitter"), m_verticalSplitter->saveState());
    settings.setValue(QStringLiteral("window/operationColumns"), m_operationView->horizontalHeader()->saveState());
    settings.setValue(QStringLiteral("window/processColumns"), m_processView->horizontalHeader()->saveState());
    settings.setValue(QStringLiteral("view/window"), m_window->currentIndex());
    settings.setValue(QStringLiteral("view/range"), m_range->currentIndex());
    settings.setValue(QStringLiteral("view/log"), m_log->isChecked());
    settings.setValue(QStringLiteral("view/group"), m_group->isChecked());
    settings.setValue(QStringLiteral("export/folder"), m_exportFolder);
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    saveSettings();
    event->accept();
}

void MainWindow::requestRefresh()
{
    if (!m_paused)
        m_debouncer.call([this] { startSnapshot(); });
}

SnapshotRequest MainWindow::currentRequest() const
{
    SnapshotRequest r;
    r.job = m_job;
    const int window = m_window->currentData().toInt();
    r.window = window ? StatsWindow::last(window) : StatsWindow::session();
    r.processFilter = m_selectedProcess; // selecting a process filters the operations
    r.groupByPrefix = m_group->isChecked();
    r.chartProcess = m_chartProcess;
    r.chartOperation = m_chartOperation;
    r.memoryProcess = m_selectedProcess ? m_selectedProcess : m_chartProcess;
    r.rangeMs = qint64(m_range->currentData().toInt()) * 1000;
    return r;
}

void MainWindow::startSnapshot()
{
    if (m_inFlight) {
        m_dirty = true; // one more when this one is back
        return;
    }
    m_inFlight = true;
    ++m_job;
    const SnapshotRequest request = currentRequest();
    MetricsStore* store = m_store;
    m_pool.submit(QStringLiteral("snapshot"), [store, request] {
              store->checkBudgets();
              return buildSnapshot(*store, request);
          })
        .then(this, [this](const SnapshotPtr& snapshot) {
            m_inFlight = false;
            apply(snapshot);
            if (std::exchange(m_dirty, false))
                startSnapshot();
        });
}

void MainWindow::apply(const SnapshotPtr& snapshot)
{
    if (!snapshot || snapshot->job < m_appliedJob || m_paused)
        return;
    m_appliedJob = snapshot->job;
    m_last = snapshot;
    const DashboardSnapshot& s = *snapshot;

    const bool firstRows = m_operations->rowCount() == 0 && !s.operations.isEmpty();
    m_processes->setProcesses(s.processes);
    m_operations->setRows(s.operations);
    if (firstRows) {
        m_operationView->resizeColumnsToContents();
        m_processView->resizeColumnsToContents();
    }
    // Nothing chosen yet: chart the busiest operation, so the charts are never empty for long.
    if (m_chartOperation.isEmpty() && !s.operations.isEmpty()) {
        const auto busiest = std::max_element(s.operations.begin(), s.operations.end(),
            [](const OperationRow& a, const OperationRow& b) { return a.stats.count < b.stats.count; });
        selectOperation(busiest->processKey, busiest->stats.operation);
    }
    // A reset loses the selection: put it back on the same operation.
    if (!m_chartOperation.isEmpty() && !m_operationView->selectionModel()->hasSelection()) {
        const int row = m_operations->rowOf(m_chartProcess, m_chartOperation);
        if (row >= 0)
            m_operationView->selectRow(m_operationsProxy->mapFromSource(m_operations->index(row, 0)).row());
    }

    // The charts span the chosen range, or less while the session is younger than that.
    qint64 sessionStart = s.takenAtMs - 60'000;
    for (const ProcessInfo& p : s.processes)
        sessionStart = std::min(sessionStart, p.firstSeenMs);
    const qint64 rangeMs = qint64(m_range->currentData().toInt()) * 1000;
    const qint64 from = rangeMs ? std::max(s.takenAtMs - rangeMs, sessionStart) : sessionStart;
    QString operationTitle;
    if (!m_chartOperation.isEmpty()) {
        const int row = m_processes->rowOf(m_chartProcess);
        operationTitle = m_chartOperation + (row >= 0 ? QStringLiteral(" — %1").arg(m_processes->processAt(row)->name) : QString());
    }
    m_charts->setLatency(operationTitle, s.latency, from, s.takenAtMs);
    const quint64 memoryKey = m_selectedProcess ? m_selectedProcess : m_chartProcess;
    const int memoryRow = m_processes->rowOf(memoryKey);
    m_charts->setMemory(memoryRow >= 0 ? m_processes->processAt(memoryRow)->name : QString(), s.memory, from, s.takenAtMs);

    if (!m_pendingAlerts.isEmpty())
        m_alerts->add(std::exchange(m_pendingAlerts, {}));
    updateStatus(s);
    Q_EMIT refreshed();
}

void MainWindow::updateStatus(const DashboardSnapshot& s)
{
    double rate = 0;
    quint64 drops = 0;
    int live = 0;
    for (const ProcessInfo& p : s.processes) {
        rate += p.operationsPerSecond;
        drops += p.drops();
        live += p.state == ProcessInfo::State::Live ? 1 : 0;
    }
    m_statusSocket->setText(m_server ? tr("Socket: %1").arg(m_server->socketPath()) : tr("Not listening"));
    m_statusConnections->setText(tr("%n connection(s)", nullptr, m_server ? m_server->stats().connections : live));
    m_statusRate->setText(tr("%1 ops/s").arg(rate, 0, 'f', 0));
    m_statusDrops->setText(tr("%1 dropped").arg(drops + m_droppedAlerts));
    m_statusAlerts->setText(tr("%1 alerts, %2 budgets broken").arg(m_alerts->total()).arg(s.violations));
    m_alertsTitle->setText(tr("Alerts (%1)").arg(m_alerts->total()));
}

void MainWindow::queueAlert(Alert alert)
{
    if (m_pendingAlerts.size() >= MaxPendingAlerts) {
        ++m_droppedAlerts; // a storm of slow operations: the table keeps the newest anyway
        m_pendingAlerts.removeFirst();
    }
    m_pendingAlerts.append(std::move(alert));
}

void MainWindow::setPaused(bool paused)
{
    m_paused = paused;
    m_pause->setChecked(paused);
    m_pause->setText(paused ? tr("Resume") : tr("Pause"));
    if (!paused)
        requestRefresh();
}

void MainWindow::setGroupByPrefix(bool group)
{
    m_group->setChecked(group);
    requestRefresh();
}

void MainWindow::selectOperation(quint64 processKey, const QString& operation)
{
    m_chartProcess = processKey;
    m_chartOperation = operation;
    const int row = m_operations->rowOf(processKey, operation);
    if (row >= 0)
        m_operationView->selectRow(m_operationsProxy->mapFromSource(m_operations->index(row, 0)).row());
    requestRefresh();
}

void MainWindow::selectProcess(quint64 key)
{
    m_selectedProcess = key;
    const int row = m_processes->rowOf(key);
    if (row >= 0)
        m_processView->selectRow(m_processesProxy->mapFromSource(m_processes->index(row, 0)).row());
    requestRefresh();
}

void MainWindow::applyBudgets(const QList<Budget>& budgets, const Thresholds& thresholds)
{
    m_store->setSlowThreshold(std::chrono::nanoseconds(thresholds.slowNs), std::chrono::nanoseconds(thresholds.verySlowNs));
    m_store->setBudgets(budgets);
    saveBudgets(budgets);
    saveThresholds(thresholds);
    requestRefresh();
}

QFuture<QString> MainWindow::exportCsv(ExportKind kind, const QString& path)
{
    MetricsStore* store = m_store;
    return m_pool.submit(QStringLiteral("export"), [store, kind, path] {
        QString error;
        if (kind == ExportKind::Trace) {
            traceexport::writeFile(*store, path, &error);
            return error;
        }
        csvexport::writeFile(
            path,
            [&](CsvWriter& csv) {
                switch (kind) {
                case ExportKind::Statistics: csvexport::writeStatistics(csv, store->statistics()); break;
                case ExportKind::Series: csvexport::writeSeries(csv, store->series()); break;
                case ExportKind::Memory: csvexport::writeMemory(csv, store->memoryRecords()); break;
                case ExportKind::Trace: break;
                }
            },
            &error);
        return error;
    });
}

void MainWindow::exportWithDialog(ExportKind kind)
{
    static const char* const names[] = { "statistics.csv", "series.csv", "memory.csv", "trace.json" };
    const QString suggested = QDir(m_exportFolder).filePath(QString::fromLatin1(names[int(kind)]));
    const bool trace = kind == ExportKind::Trace;
    const QString path = QFileDialog::getSaveFileName(this, trace ? tr("Export Chrome trace") : tr("Export CSV"),
        suggested, trace ? tr("Trace files (*.json)") : tr("CSV files (*.csv)"));
    if (path.isEmpty())
        return;
    m_exportFolder = QFileInfo(path).absolutePath();
    statusBar()->showMessage(tr("Exporting %1…").arg(path));
    ++m_exportsRunning;
    m_exportProgress->show();
    exportCsv(kind, path).then(this, [this, path](const QString& error) {
        if (--m_exportsRunning == 0)
            m_exportProgress->hide();
        if (error.isEmpty()) {
            statusBar()->showMessage(tr("Exported %1").arg(path), 5000);
        } else {
            statusBar()->clearMessage();
            QMessageBox::warning(this, tr("Export failed"), error);
        }
    });
}

void MainWindow::showAttachDialog()
{
    QSet<qint64> instrumented;
    if (m_last) {
        for (const ProcessInfo& p : m_last->processes) {
            if (p.state == ProcessInfo::State::Live)
                instrumented.insert(p.pid);
        }
    }
    AttachDialog dialog(&m_pool, instrumented, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    for (qint64 pid : dialog.selectedPids()) {
        QString error;
        const quint64 key = m_store->attachPid(pid, &error);
        if (!key)
            QMessageBox::warning(this, tr("Cannot attach"), error);
        else
            selectProcess(key);
    }
}

bool MainWindow::launch(const QString& program, const QStringList& arguments, const QString& directory, QString* error)
{
    auto process = std::make_unique<QProcess>();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    if (m_server)
        env.insert(QStringLiteral("PERFDASH_SOCKET"), m_server->socketPath());
    process->setProcessEnvironment(env);
    process->setWorkingDirectory(directory);
    process->setProcessChannelMode(QProcess::ForwardedChannels);
    process->start(program, arguments);
    if (!process->waitForStarted(10'000)) {
        if (error)
            *error = tr("cannot launch %1: %2").arg(program, process->errorString());
        return false;
    }
    if (const quint64 key = m_store->attachPid(process->processId()))
        selectProcess(key);
    m_launched.push_back(std::move(process));
    return true;
}

void MainWindow::showLaunchDialog()
{
    LaunchDialog dialog(this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    QString error;
    if (!launch(dialog.program(), dialog.arguments(), dialog.workingDirectory(), &error))
        QMessageBox::warning(this, tr("Cannot launch"), error);
}

QFuture<QString> MainWindow::saveCapture(const QString& path)
{
    MetricsStore* store = m_store;
    return m_pool.submit(QStringLiteral("save capture"), [store, path] {
        CaptureRecorder recorder(store);
        QString error;
        if (recorder.start(path, &error))
            recorder.flush(&error);
        return error;
    });
}

MainWindow* MainWindow::openCaptureWindow(const QString& path, QString* error)
{
    auto capture = std::make_shared<LoadedCapture>(openCapture(path));
    if (!capture->load.ok) {
        if (error)
            *error = capture->load.error;
        return nullptr;
    }
    auto* window = new MainWindow(capture->store.get(), nullptr);
    window->setAttribute(Qt::WA_DeleteOnClose);
    window->showCapture(path, capture->load);
    // The store lives as long as the window: the lambda holding it goes with the window.
    connect(window, &QObject::destroyed, window, [capture] {});
    return window;
}

void MainWindow::showCapture(const QString& path, const CaptureLoad& load)
{
    setWindowTitle(tr("perfdash — %1 (capture, read-only)").arg(QFileInfo(path).fileName()));
    if (!load.problems.isEmpty())
        statusBar()->showMessage(tr("Partly damaged capture: %1").arg(load.problems.join(QStringLiteral("; "))));
    QList<Alert> alerts;
    alerts.reserve(load.alerts.size());
    for (const CapturedAlert& a : load.alerts) {
        Alert alert { Alert::Kind::Slow, a.timestampMs, m_store->processName(a.processKey), a.operation, a.valueNs, a.details };
        if (a.kind == QLatin1String("very slow"))
            alert.kind = Alert::Kind::VerySlow;
        else if (a.kind == QLatin1String("budget broken"))
            alert.kind = Alert::Kind::BudgetBroken;
        else if (a.kind == QLatin1String("budget met"))
            alert.kind = Alert::Kind::BudgetRecovered;
        if (alert.kind == Alert::Kind::Slow || alert.kind == Alert::Kind::VerySlow)
            alert.details = describeSample(QJsonDocument::fromJson(a.details.toUtf8()).object().toVariantMap(), a.ok);
        alerts.append(std::move(alert));
    }
    m_alerts->add(alerts);
    requestRefresh();
}

void MainWindow::openCaptureWithDialog()
{
    const QString path = QFileDialog::getOpenFileName(this, tr("Open capture"), m_exportFolder,
        tr("perfdash captures (*.pdcap *.sqlite *.db);;All files (*)"));
    if (path.isEmpty())
        return;
    QString error;
    if (MainWindow* window = openCaptureWindow(path, &error))
        window->show();
    else
        QMessageBox::warning(this, tr("Cannot open the capture"), error);
}

void MainWindow::compareWithDialog()
{
    const QString filter = tr("perfdash captures (*.pdcap *.sqlite *.db);;All files (*)");
    const QString base = QFileDialog::getOpenFileName(this, tr("Base capture (before)"), m_exportFolder, filter);
    if (base.isEmpty())
        return;
    const QString next = QFileDialog::getOpenFileName(this, tr("New capture (after)"), QFileInfo(base).absolutePath(), filter);
    if (next.isEmpty())
        return;
    QString error;
    if (ComparisonWindow* window = ComparisonWindow::open(base, next, &error))
        window->show();
    else
        QMessageBox::warning(this, tr("Cannot compare"), error);
}

void MainWindow::saveCaptureWithDialog()
{
    const QString path = QFileDialog::getSaveFileName(this, tr("Save capture"),
        QDir(m_exportFolder).filePath(QStringLiteral("perfdash.pdcap")), tr("perfdash captures (*.pdcap)"));
    if (path.isEmpty())
        return;
    m_exportFolder = QFileInfo(path).absolutePath();
    statusBar()->showMessage(tr("Saving %1…").arg(path));
    saveCapture(path).then(this, [this, path](const QString& error) {
        if (error.isEmpty()) {
            statusBar()->showMessage(tr("Saved %1").arg(path), 5000);
        } else {
            statusBar()->clearMessage();
            QMessageBox::warning(this, tr("Save failed"), error);
        }
    });
}

void MainWindow::showBudgetsDialog()
{
    BudgetsDialog dialog(m_store->budgets(), m_store->thresholds(), this);
    if (dialog.exec() == QDialog::Accepted)
        applyBudgets(dialog.budgets(), dialog.thresholds());
}

} // namespace perfdash
