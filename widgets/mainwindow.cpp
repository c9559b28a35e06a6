// SPDX-License-Identifier: GPL-3.0-or-later
// The refresh loop, the selection, and what the charts show. See mainwindow.h for the other files.
#include "widgets/mainwindow.h"
#include "profiler/heapprofiler.h"
#include "widgets/memorypanel.h"

#include "ipc/ingestserver.h"
#include "models/alertsfiltermodel.h"
#include "models/alertsmodel.h"
#include "models/chartaxes.h"
#include "models/format.h"
#include "models/operationsfiltermodel.h"
#include "models/operationsmodel.h"
#include "models/processesmodel.h"
#include "profiler/profiler.h"
#include "widgets/budgetsdialog.h"
#include "widgets/chartspanel.h"
#include "widgets/mainwindowhelpers.h"
#include "widgets/profilepanel.h"
#include "widgets/tablecolumns.h"

#include <QCheckBox>
#include <QCloseEvent>
#include <QComboBox>
#include <QDateTime>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QProcess>
#include <QScopedValueRollback>
#include <QTableView>
#include <QToolButton>

namespace perfdash {

namespace {
constexpr int RefreshMs = 100;
constexpr int MaxPendingAlerts = 2000;
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
    , m_operationsProxy(new OperationsFilterModel(this))
{
    qRegisterMetaType<perfdash::SnapshotPtr>();
    setWindowTitle(tr("perfdash"));
    buildUi();
    buildMenus();
    restoreSettings();

    connect(m_store, &MetricsStore::slowOperation, this, [this](quint64 key, const OperationSample& s) {
        queueAlert(Alert {
            s.severity == OperationSample::Severity::VerySlow ? Alert::Kind::VerySlow : Alert::Kind::Slow,
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

void MainWindow::closeEvent(QCloseEvent* event)
{
    if (!confirmQuit()) {
        event->ignore();
        return;
    }
    saveSettings();
    event->accept();
}

void MainWindow::requestChanged()
{
    m_firstCurrentJob = m_job + 1;
    requestRefresh();
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
    r.chartGroup = m_chartGroup;
    r.compare = m_compare;
    r.chartCostliest = !m_operationChosen;
    r.memoryProcess
        = m_selectedProcess ? m_selectedProcess : (m_operationChosen ? m_chartProcess : 0); // 0: the costliest's
    // Several operations: the memory and CPU of their processes (not of a process selected before).
    for (const ChartTarget& t : m_compare) {
        if (!r.memoryProcesses.contains(t.processKey))
            r.memoryProcesses.append(t.processKey);
    }
    if (r.memoryProcesses.size() == 1)
        r.memoryProcess = r.memoryProcesses.first();
    if (r.memoryProcesses.size() < 2)
        r.memoryProcesses.clear();
    r.rangeMs = qint64(m_range->currentData().toInt()) * 1000;
    r.statsFromMs = m_statsFromMs;
    r.statsToMs = m_statsToMs;
    if (r.rangeMs && m_statsFromMs) // the charts keep showing a chosen range older than the live one
        r.rangeMs = std::max(r.rangeMs, m_store->clock()->wallMs() - m_statsFromMs + 1000);
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
    m_pool
        .submit(QStringLiteral("snapshot"),
            [store, request] {
                store->checkBudgets();
                return buildSnapshot(*store, request);
            })
        .then(this, [this](const SnapshotPtr& snapshot) {
            m_inFlight = false;
            if (snapshot && snapshot->job < m_firstCurrentJob)
                m_dirty = true; // built for what was asked before: chart nothing of it, ask again
            else
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

    m_processes->setProcesses(s.processes);
    m_operations->setRows(s.operations);
    if (!m_cpuColumnShown && m_operations->hasCpu()) {
        m_cpuColumnShown = true; // once: the user may hide it again from the header's menu
        // Room for it, from the less used columns; none left to hide: it stays in the header's menu.
        m_operationView->horizontalHeader()->setSectionHidden(OperationsModel::Cpu, false);
        m_operationColumns->fit();
        if (hideColumnsToFit(m_operationView, m_operationColumns, m_operationView->width()) > m_operationView->width())
            m_operationView->horizontalHeader()->setSectionHidden(OperationsModel::Cpu, true);
    }
    m_operationColumns->fit();
    m_processColumns->fit();
    if (!m_operationChosen) { // the charts show the costliest operation: so does the selection
        m_chartProcess = s.charted.processKey;
        m_chartOperation = s.charted.operation;
        m_chartGroup = s.charted.group;
    }
    showSelection();
    updateCharts(s);
    qint64 selectedPid = 0, chartedPid = 0;
    for (const ProcessInfo& p : s.processes) {
        if (m_selectedProcess && p.key == m_selectedProcess)
            selectedPid = p.pid;
        if (m_chartProcess && p.key == m_chartProcess)
            chartedPid = p.pid;
    }
    const Profiler* profiler = m_profile->profiler();
    if (const qint64 shown
        = profileToShow(selectedPid, chartedPid, profiler ? profiler->requested() : std::vector<qint64> {})) {
        QString name;
        for (const ProcessInfo& p : s.processes)
            name = p.pid == shown ? p.name : name;
        m_profile->setProcess(shown, name);
        // The charted operation of the shown process is offered as the profile's scope.
        m_profile->setOperation(shown == chartedPid && !m_chartGroup ? m_chartOperation : QString());
    }
    if (const qint64 heapShown
        = selectedPid ? selectedPid : chartedPid) { // the selected process's heap, or the charted one's
        for (const ProcessInfo& p : s.processes) {
            if (p.pid == heapShown)
                m_memory->setProcess(heapShown, p.name);
        }
    }
    updateRangeLabel(s);
    updateAlertProcesses(s);

    if (!m_pendingAlerts.isEmpty())
        m_alerts->add(std::exchange(m_pendingAlerts, {}));
    if (m_droppedAlerts) // counted in the total, so that the title says how many were raised
        m_alerts->addDropped(std::exchange(m_droppedAlerts, 0));
    updateStatus(s);
    updateAlertsTitle();
    Q_EMIT refreshed();
}

void MainWindow::updateCharts(const DashboardSnapshot& s)
{
    // Every chart spans the chosen range, but starts where the data does until that range is full.
    const qint64 rangeMs = qint64(m_range->currentData().toInt()) * 1000;
    qint64 firstData = s.takenAtMs;
    const auto seen = [&firstData](qint64 ms) { firstData = std::min(firstData, ms); };
    if (!s.latency.empty())
        seen(s.latency.front().timestampMs);
    for (const auto& series : s.compared) {
        if (!series.empty())
            seen(series.front().timestampMs);
    }
    if (!s.memory.isEmpty())
        seen(s.memory.front().timestampMs);
    for (const auto& records : s.memories) {
        if (!records.isEmpty())
            seen(records.front().timestampMs);
    }
    const chartaxes::TimeRange range = chartaxes::liveRange(s.takenAtMs, rangeMs, firstData);
    const qint64 from = range.fromMs, to = range.toMs;

    // From the snapshot: the store's own answer merges every operation's histograms under its lock
    // (the operations count), which the GUI thread must not do at each refresh.
    const auto processInfo = [&s, this](quint64 key) {
        for (const ProcessInfo& p : s.processes) {
            if (p.key == key)
                return std::optional<ProcessInfo>(p);
        }
        // Attached since this snapshot was taken: the store knows it already.
        return key ? m_store->process(key) : std::nullopt;
    };
    const auto processName = [&](quint64 key) {
        const std::optional<ProcessInfo> info = processInfo(key);
        // Just attached, not read from /proc yet: its pid says which it is.
        return !info ? QString() : info->name.isEmpty() ? tr("pid %1").arg(info->pid) : info->name;
    };
    // "db.query — orders-api": two processes may both have a db.query.
    const auto targetName = [&](quint64 process, const QString& operation) {
        const QString name = processName(process);
        return name.isEmpty() ? operation : operation + QStringLiteral(" — %1").arg(name);
    };
    const QString operationTitle
        = m_chartOperation.isEmpty() ? QString() : targetName(m_chartProcess, m_chartOperation);
    const bool comparing = m_compare.size() >= 2 && s.compared.size() == std::size_t(m_compare.size());

    // A process that streams no operations (attached, not instrumented) has no operation charts:
    // its memory and CPU take their room (and its profile is in the profile view).
    bool operations = true;
    QString note;
    if (m_selectedProcess && m_chartOperation.isEmpty() && !comparing) {
        operations = std::any_of(s.operations.cbegin(), s.operations.cend(),
            [this](const OperationRow& row) { return row.processKey == m_selectedProcess; });
        if (!operations)
            note = tr("%1 streams no operations (it is not instrumented, or has not sent any yet): its memory "
                      "and CPU are charted here, its CPU profile is in the CPU profile view.")
                       .arg(processName(m_selectedProcess));
    }
    m_charts->setOperationChartsShown(operations, note);

    if (comparing) {
        QStringList names;
        for (const ChartTarget& t : std::as_const(m_compare))
            names << targetName(t.processKey, t.operation);
        m_charts->setComparison(names, s.compared, from, to);
        // The heatmap cannot hold several operations: the current row's, and its title says so.
        m_charts->setHeatmap(tr("%1 (the current row)").arg(operationTitle), s.heatmap, from, to);
    } else {
        m_charts->setLatency(operationTitle, s.latency, from, to);
        m_charts->setHeatmap(operationTitle, s.heatmap, from, to);
    }
    if (comparing && m_compare.size() >= 2 && s.memories.size() >= 2) {
        QStringList processes;
        QSet<quint64> keys;
        for (const ChartTarget& t : std::as_const(m_compare)) {
            if (!keys.contains(t.processKey)) {
                keys.insert(t.processKey);
                processes << processName(t.processKey);
            }
        }
        m_charts->setMemories(processes, s.memories, from, to);
    } else {
        quint64 memoryKey = m_selectedProcess ? m_selectedProcess : m_chartProcess;
        if (comparing) // one process for all the operations compared
            memoryKey = m_compare.first().processKey;
        const std::optional<ProcessInfo> memoryProcess = processInfo(memoryKey);
        m_charts->setMemory(processName(memoryKey), s.memory, from, to,
            m_heap && memoryProcess ? m_heap->siteHistory(memoryProcess->pid) : std::vector<HeapSiteSeries>());
    }
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
    requestChanged();
}

void MainWindow::selectOperation(quint64 processKey, const QString& operation)
{
    m_operationChosen = true;
    m_chartProcess = processKey;
    m_chartOperation = operation;
    m_compare.clear();
    const OperationRow* r = m_operations->rowAt(m_operations->rowOf(processKey, operation));
    m_chartGroup = r && r->group;
    showSelection();
    requestChanged();
}

void MainWindow::compareOperations(const QList<ChartTarget>& targets)
{
    m_operationChosen = !targets.isEmpty();
    m_chartProcess = targets.isEmpty() ? 0 : targets.first().processKey;
    m_chartOperation = targets.isEmpty() ? QString() : targets.first().operation;
    m_chartGroup = !targets.isEmpty() && targets.first().group;
    m_compare = targets.size() >= 2 ? targets : QList<ChartTarget> {};
    showSelection();
    requestChanged();
}

void MainWindow::onOperationSelectionChanged()
{
    if (m_showingSelection)
        return;
    // What is selected is what is charted: one row its charts, several their compared percentile;
    // none: the costliest again.
    QList<ChartTarget> targets;
    const QModelIndex current = m_operationView->selectionModel()->currentIndex();
    const QModelIndexList rows = m_operationView->selectionModel()->selectedRows();
    for (const QModelIndex& index : rows) {
        const OperationRow* r = m_operations->rowAt(m_operationsProxy->mapToSource(index).row());
        if (!r)
            continue;
        ChartTarget t { r->processKey, r->stats.operation, r->group };
        if (index.row() == current.row())
            targets.prepend(t); // the current row's heatmap and throughput are shown
        else
            targets.append(t);
    }
    compareOperations(targets);
}

void MainWindow::onProcessSelectionChanged(const QModelIndex& current)
{
    if (m_showingSelection)
        return;
    selectProcess(current.isValid() ? current.data(ProcessesModel::KeyRole).toULongLong() : 0);
}

void MainWindow::selectProcess(quint64 key)
{
    const bool changed = key != m_selectedProcess;
    m_selectedProcess = key;
    const std::optional<ProcessInfo> info = key ? m_store->process(key) : std::nullopt;
    m_profile->setProcess(info ? info->pid : 0, info ? info->name : QString());
    m_memory->setProcess(info ? info->pid : 0, info ? info->name : QString());
    if (changed) {
        // Another process's operations are listed now: chart its costliest until one is chosen.
        m_operationChosen = false;
        m_chartProcess = 0;
        m_chartOperation.clear();
        m_chartGroup = false;
        m_compare.clear();
    }
    showSelection();
    requestChanged();
}

void MainWindow::showSelection()
{
    const QScopedValueRollback<bool> showing(m_showingSelection, true);
    // The process: its row, or none while the table does not list it yet (just attached).
    QItemSelectionModel* processes = m_processView->selectionModel();
    const int processRow = m_selectedProcess ? m_processes->rowOf(m_selectedProcess) : -1;
    if (processRow < 0) {
        if (processes->hasSelection() || processes->currentIndex().isValid())
            processes->clear();
    } else {
        const QModelIndex index = m_processesProxy->mapFromSource(m_processes->index(processRow, 0));
        if (processes->selectedRows() != QModelIndexList { index } || processes->currentIndex().row() != index.row())
            processes->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    }
    // The operations charted: the compared ones, or the one.
    QList<ChartTarget> charted = m_compare;
    if (charted.isEmpty() && !m_chartOperation.isEmpty())
        charted.append(ChartTarget { m_chartProcess, m_chartOperation, m_chartGroup });
    QItemSelection wanted;
    QModelIndex first;
    for (const ChartTarget& t : std::as_const(charted)) {
        const int row = m_operations->rowOf(t.processKey, t.operation);
        if (row < 0)
            continue;
        const QModelIndex index = m_operationsProxy->mapFromSource(m_operations->index(row, 0));
        if (!index.isValid())
            continue; // filtered out
        wanted.select(index, index.siblingAtColumn(m_operationsProxy->columnCount() - 1));
        if (!first.isValid())
            first = index;
    }
    QItemSelectionModel* operations = m_operationView->selectionModel();
    QModelIndexList have = operations->selectedRows();
    QModelIndexList want;
    for (const QItemSelectionRange& range : std::as_const(wanted))
        want.append(range.topLeft());
    std::sort(have.begin(), have.end());
    std::sort(want.begin(), want.end());
    if (have != want)
        operations->select(wanted, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    if (first.isValid() && operations->currentIndex().row() != first.row())
        operations->setCurrentIndex(first, QItemSelectionModel::NoUpdate);
}

void MainWindow::setStatisticsRange(qint64 fromMs, qint64 toMs)
{
    if (toMs <= fromMs)
        fromMs = toMs = 0;
    m_statsFromMs = fromMs;
    m_statsToMs = toMs;
    if (m_charts->zoomFrom() != fromMs || m_charts->zoomTo() != toMs)
        m_charts->setZoom(fromMs, toMs);
    m_window->setEnabled(!toMs);
    requestRefresh();
}

void MainWindow::applyBudgets(const QList<Budget>& budgets, const Thresholds& thresholds)
{
    m_store->setSlowThreshold(
        std::chrono::nanoseconds(thresholds.slowNs), std::chrono::nanoseconds(thresholds.verySlowNs));
    m_store->setBudgets(budgets);
    saveBudgets(budgets);
    saveThresholds(thresholds);
    requestChanged();
}

void MainWindow::addView(QWidget* view, const QString& title)
{
    m_views->addTab(view, title);
}

void MainWindow::setProfiler(Profiler* profiler)
{
    m_profile->setProfiler(profiler);
    // The operations' CPU column: copied from the profiler once per process at each refresh.
    QPointer<Profiler> source(profiler);
    m_operations->setCpuSource(profiler ? OperationsModel::CpuSource([source](qint64 pid) {
        return source ? source->operationCpu(pid) : std::vector<OperationCpu> {};
    })
                                        : OperationsModel::CpuSource());
}

} // namespace perfdash
