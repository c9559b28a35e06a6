// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "core/dashboardsnapshot.h"
#include "http/listenerrefusals.h"
#include "toolkit/debouncer.h"
#include "toolkit/workerpool.h"

#include <QMainWindow>
#include <QModelIndex>
#include <QPointer>
#include <QSet>
#include <QTimer>

#include <functional>
#include <memory>
#include <vector>

class QAction;
class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QMenu;
class QProgressBar;
class QPushButton;
class QProcess;
class QSortFilterProxyModel;
class QSplitter;
class QTabWidget;
class QTableView;
class QToolButton;

namespace perfdash {

class AlertsFilterModel;
class AlertsModel;
class OperationsFilterModel;
class ChartsPanel;
class TableColumns;
class IngestServer;
class MetricsEndpoint;
class OperationsModel;
class OtlpReceiver;
class ProcessesModel;
class ProfilePanel;
class MemoryPanel;
class HeapProfiler;
class Profiler;
struct Alert;
struct CaptureLoad;

/**
 * The dashboard window: processes, operations, live charts and alerts. Every 100 ms a snapshot of
 * the store is built on the worker pool (never on the GUI thread) through a debouncer, and
 * applied to the models and charts; stale snapshots are dropped by job number. Pause freezes the
 * view while ingest goes on.
 *
 * Its implementation is split by job: mainwindow.cpp (the refresh loop, selection and what is
 * charted), mainwindowlayout.cpp (toolbar, tables, splitters, the views' tabs), mainwindowmenus.cpp
 * (menus, Help, the rows' context menu), mainwindowstatus.cpp (the status bar),
 * mainwindowfiles.cpp (exports and captures), mainwindowprocesses.cpp (attach, launch, quitting
 * with launched programs), mainwindowsettings.cpp (what is remembered).
 */
class MainWindow : public QMainWindow
{
    Q_OBJECT
public:
    enum class ExportKind { Statistics, Series, Memory, Trace };

    /// @p server may be null (a store fed by other means, as in tests).
    MainWindow(MetricsStore* store, IngestServer* server, QWidget* parent = nullptr);
    ~MainWindow() override;

    /// Writes one export on the worker pool; the future holds an error sentence, empty on success.
    /// Statistics are over @p window (the whole session by default).
    QFuture<QString> exportCsv(ExportKind kind, const QString& path, StatsWindow window = StatsWindow::session());
    void selectOperation(quint64 processKey, const QString& operation);
    void selectProcess(quint64 key);
    void applyBudgets(const QList<Budget>& budgets, const Thresholds& thresholds);
    void setPaused(bool paused);
    void setGroupByPrefix(bool group);
    /// Attaches to @p pid and selects it (the attach dialog does this for each process chosen);
    /// false with @p error.
    bool attach(qint64 pid, QString* error);
    /// Launches @p program with PERFDASH_SOCKET set and attaches to it; false with @p error.
    /// Launches @p program with PERFDASH_SOCKET set, its heap tracked when @p trackHeap (and a heap
    /// profiler was given); a heap that cannot be tracked is said, not a failure.
    bool launch(const QString& program, const QStringList& arguments, const QString& directory, QString* error,
        bool trackHeap = false);
    void requestRefresh();
    /// Writes everything the store holds into a capture file (on the worker pool); the future
    /// holds an error sentence, empty on success.
    QFuture<QString> saveCapture(const QString& path);
    /// Opens a capture read-only in a window of its own.
    static MainWindow* openCaptureWindow(const QString& path, QString* error);
    /// Shows what a loaded capture holds besides its store: its name, any damage, its alerts, and
    /// its CPU profiles (read-only in the profile view, once read on the worker pool).
    void showCapture(const QString& path, const CaptureLoad& load);

    /// The HTTP endpoints (--prometheus, --otlp; either may be null): their problems are said in
    /// the status bar and their refused connections counted with the socket's.
    void setHttpEndpoints(MetricsEndpoint* metrics, OtlpReceiver* otlp);
    /// Another listener (--otlp-grpc): its refusals (@p refusals, asked at each refresh) counted and
    /// described with the others in the status bar. Its problems are the caller's to show.
    void addListener(std::function<ListenerRefusals()> refusals);
    /// Says in the status bar that the session is being recorded to @p path (--record).
    void setRecording(const QString& path);
    /// Adds a view beside the charts (a tab: "Charts", "Profile"...).
    void addView(QWidget* view, const QString& title);
    /// Statistics over a time range (as a range dragged on a chart), or back to the window (0, 0).
    void setStatisticsRange(qint64 fromMs, qint64 toMs);
    /// Charts several operations' chosen percentile on one chart (one alone: its usual charts).
    void compareOperations(const QList<ChartTarget>& targets);

    ChartsPanel* charts() const { return m_charts; }
    /// The CPU profile beside the charts (true) or in a tab of its own, each then full width.
    void setProfileBeside(bool beside);
    bool profileBeside() const;
    /// Brings the CPU profile into view (its tab, unless it is beside the charts).
    void showProfile();
    /// The CPU profile tab, beside the charts; @p profiler may be null (no profiling).
    void setProfiler(Profiler* profiler);
    /// --profile: every process attached or launched from the window is profiled too (a refusal
    /// is said in the profile view and the status bar).
    void setProfileEveryProcess(bool on) { m_profileEveryProcess = on; }
    bool profilesEveryProcess() const { return m_profileEveryProcess; }
    ProfilePanel* profilePanel() const { return m_profile; }
    /// The heap tracker of the programs launched with "Track allocations" (and --heap), shown in
    /// the Memory view; null: none is offered.
    void setHeapProfiler(HeapProfiler* heap);
    MemoryPanel* memoryPanel() const { return m_memory; }
    /// The Memory view in front.
    void showMemory();
    QTableView* operationView() const { return m_operationView; }
    QTableView* processView() const { return m_processView; }
    QTableView* alertView() const { return m_alertView; }
    AlertsFilterModel* alertsFilter() const { return m_alertsProxy; }
    OperationsFilterModel* operationsProxy() const { return m_operationsProxy; }
    QTabWidget* views() const { return m_views; }
    /// "Alerts — 1,000 kept of 2,358 raised": what the alerts' title says.
    QString alertsTitle() const;
    /// The rows' context menu actions, for the operation at @p proxyRow (tests call them).
    QMenu* operationMenu(int proxyRow);
    ProcessesModel* processesModel() const { return m_processes; }
    OperationsModel* operationsModel() const { return m_operations; }
    /// The pool the snapshots are built on (tests hold it up to land a snapshot late).
    WorkerPool* workerPool() { return &m_pool; }
    AlertsModel* alertsModel() const { return m_alerts; }

Q_SIGNALS:
    /// A snapshot was applied to the views.
    void refreshed();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildUi();
    void buildToolbar();
    QWidget* buildAlertsBox();
    void buildStatusBar();
    void buildMenus();
    void buildHelpMenu();
    void connectSelection();
    void fitTableHeights();
    /// The tables as wide as their columns (within bounds), the views the rest: once, when the
    /// first rows came and no width was remembered.
    void splitForColumns();
    /// Hides @p view's less used columns (the header's menu shows them again) until the others
    /// fit in @p width without scrolling, or none is left to hide; the width they need.
    int hideColumnsToFit(QTableView* view, TableColumns* columns, int width);
    void onOperationSelectionChanged();
    void onProcessSelectionChanged(const QModelIndex& current);
    /// Makes both tables' selections say what the rest of the window shows (the selected process,
    /// the charted operations), through the selection models' signals so that the views repaint;
    /// a process or operation the models do not list yet leaves its table with no selection.
    void showSelection();
    void updateCharts(const DashboardSnapshot& s);
    void updateAlertsTitle();
    void updateSymbolsStatus();
    void updateAlertProcesses(const DashboardSnapshot& s);
    void updateRangeLabel(const DashboardSnapshot& s);
    void copyRows(const QModelIndexList& rows, bool csv) const;
    void hideOperations(const QModelIndexList& rows);
    void showShortcuts();
    void showInstrumenting();
    void showAbout();
    bool confirmQuit();
    void restoreSettings();
    void saveSettings() const;
    void startSnapshot();
    /// What is asked of the snapshots changed (selection, filter, window, range): one already being
    /// built is answered for the old request and is dropped when it lands, then built again.
    void requestChanged();
    void apply(const SnapshotPtr& snapshot);
    SnapshotRequest currentRequest() const;
    void queueAlert(Alert alert);
    void exportWithDialog(ExportKind kind);
    void showAttachDialog();
    /// With --profile (setProfileEveryProcess), profiles @p pid.
    void profileIfAsked(qint64 pid);
    void showLaunchDialog();
    void showBudgetsDialog();
    void saveCaptureWithDialog();
    void openCaptureWithDialog();
    void compareWithDialog();
    void updateStatus(const DashboardSnapshot& s);

    MetricsStore* m_store;
    QPointer<IngestServer> m_server;
    QPointer<MetricsEndpoint> m_metrics;
    QPointer<OtlpReceiver> m_otlp;
    QList<std::function<ListenerRefusals()>> m_listeners;
    WorkerPool m_pool;
    Debouncer<void> m_debouncer;
    QTimer m_tick;
    quint64 m_job = 0;
    quint64 m_appliedJob = 0;
    quint64 m_firstCurrentJob = 0; // snapshots of an older job were built for another request
    bool m_inFlight = false;
    bool m_dirty = false;
    bool m_paused = false;
    qint64 m_pausedAtMs = 0;
    SnapshotPtr m_last;

    ProcessesModel* m_processes;
    OperationsModel* m_operations;
    AlertsModel* m_alerts;
    QSortFilterProxyModel* m_processesProxy;
    OperationsFilterModel* m_operationsProxy;
    QTableView* m_processView;
    QTableView* m_operationView;
    QTableView* m_alertView;
    ChartsPanel* m_charts;
    QSplitter* m_mainSplitter;
    QSplitter* m_tablesSplitter;
    QTabWidget* m_views;
    QSplitter* m_viewsSplitter;
    QAction* m_profileBesideAction = nullptr;
    bool m_autoSplit = false; ///< no remembered splitter: splitForColumns() once rows are there
    ProfilePanel* m_profile = nullptr;
    TableColumns* m_operationColumns;
    TableColumns* m_processColumns;
    TableColumns* m_alertColumns;
    AlertsFilterModel* m_alertsProxy;
    QComboBox* m_alertKind;
    QComboBox* m_alertProcess;
    QLineEdit* m_alertOperation;
    QLabel* m_rangeLabel;
    QPushButton* m_rangeReset;
    QLabel* m_statusRecording;
    QLabel* m_statusSymbols; ///< debuginfod: fetching, or not found
    QComboBox* m_window;
    QComboBox* m_range;
    QCheckBox* m_log;
    QCheckBox* m_group;
    QToolButton* m_pause;
    QLineEdit* m_filter;
    QLabel* m_statusSocket;
    QLabel* m_statusConnections;
    QLabel* m_statusRate;
    QLabel* m_statusDrops;
    QLabel* m_statusAlerts;
    QLabel* m_alertsTitle;
    QProgressBar* m_exportProgress;
    int m_exportsRunning = 0;

    quint64 m_selectedProcess = 0; // whose memory is charted
    quint64 m_chartProcess = 0; // the selected operation
    QString m_chartOperation;
    bool m_chartGroup = false;
    QList<ChartTarget> m_compare; // two or more: compared on one chart
    bool m_operationChosen = false; // by the user; else the costliest operation is charted
    bool m_showingSelection = false; // showSelection() is changing the views' selections
    qint64 m_statsFromMs = 0; // a range chosen on the charts (both 0: the window)
    qint64 m_statsToMs = 0;
    QList<Alert> m_pendingAlerts;
    quint64 m_droppedAlerts = 0;
    QString m_exportFolder;
    std::vector<std::unique_ptr<QProcess>> m_launched;
    MemoryPanel* m_memory = nullptr;
    QPointer<HeapProfiler> m_heap;
    bool m_cpuColumnShown = false; ///< the CPU column was shown once its first value came
    bool m_profileEveryProcess = false;
};

} // namespace perfdash
