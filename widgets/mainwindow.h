// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "dashboardsnapshot.h"
#include "debouncer.h"
#include "workerpool.h"

#include <QMainWindow>
#include <QPointer>
#include <QTimer>

#include <memory>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QProcess;
class QSortFilterProxyModel;
class QSplitter;
class QTableView;
class QToolButton;

namespace perfdash {

class AlertsModel;
class ChartsPanel;
class IngestServer;
class OperationsModel;
class ProcessesModel;
struct Alert;
struct CaptureLoad;

/**
 * The dashboard window: processes, operations, live charts and alerts. Every 100 ms a snapshot of
 * the store is built on the worker pool (never on the GUI thread) through a debouncer, and
 * applied to the models and charts; stale snapshots are dropped by job number. Pause freezes the
 * view while ingest goes on.
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
    QFuture<QString> exportCsv(ExportKind kind, const QString& path);
    void selectOperation(quint64 processKey, const QString& operation);
    void selectProcess(quint64 key);
    void applyBudgets(const QList<Budget>& budgets, const Thresholds& thresholds);
    void setPaused(bool paused);
    void setGroupByPrefix(bool group);
    /// Launches @p program with PERFDASH_SOCKET set and attaches to it; false with @p error.
    bool launch(const QString& program, const QStringList& arguments, const QString& directory, QString* error);
    void requestRefresh();
    /// Writes everything the store holds into a capture file (on the worker pool); the future
    /// holds an error sentence, empty on success.
    QFuture<QString> saveCapture(const QString& path);
    /// Opens a capture read-only in a window of its own.
    static MainWindow* openCaptureWindow(const QString& path, QString* error);
    /// Shows what a loaded capture holds besides its store: its name, any damage, its alerts.
    void showCapture(const QString& path, const CaptureLoad& load);

    ChartsPanel* charts() const { return m_charts; }
    ProcessesModel* processesModel() const { return m_processes; }
    OperationsModel* operationsModel() const { return m_operations; }
    AlertsModel* alertsModel() const { return m_alerts; }

Q_SIGNALS:
    /// A snapshot was applied to the views.
    void refreshed();

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    void buildUi();
    void buildMenus();
    void restoreSettings();
    void saveSettings() const;
    void startSnapshot();
    void apply(const SnapshotPtr& snapshot);
    SnapshotRequest currentRequest() const;
    void queueAlert(Alert alert);
    void exportWithDialog(ExportKind kind);
    void showAttachDialog();
    void showLaunchDialog();
    void showBudgetsDialog();
    void saveCaptureWithDialog();
    void openCaptureWithDialog();
    void compareWithDialog();
    void updateStatus(const DashboardSnapshot& s);

    MetricsStore* m_store;
    QPointer<IngestServer> m_server;
    WorkerPool m_pool;
    Debouncer<void> m_debouncer;
    QTimer m_tick;
    quint64 m_job = 0;
    quint64 m_appliedJob = 0;
    bool m_inFlight = false;
    bool m_dirty = false;
    bool m_paused = false;
    SnapshotPtr m_last;

    ProcessesModel* m_processes;
    OperationsModel* m_operations;
    AlertsModel* m_alerts;
    QSortFilterProxyModel* m_processesProxy;
    QSortFilterProxyModel* m_operationsProxy;
    QTableView* m_processView;
    QTableView* m_operationView;
    QTableView* m_alertView;
    ChartsPanel* m_charts;
    QSplitter* m_mainSplitter;
    QSplitter* m_tablesSplitter;
    QSplitter* m_verticalSplitter;
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
    QList<Alert> m_pendingAlerts;
    quint64 m_droppedAlerts = 0;
    QString m_exportFolder;
    std::vector<std::unique_ptr<QProcess>> m_launched;
};

} // namespace perfdash
