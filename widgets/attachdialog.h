// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QDialog>
#include <QSet>

#include <memory>

class QCheckBox;
class QLineEdit;
class QSortFilterProxyModel;
class QStandardItemModel;
class QTableView;
class QTimer;

namespace perfdash {

class ProcessList;
class WorkerPool;
struct ProcessSample;

/// This user's processes from /proc (pid, name, CPU, RSS, instrumented or not, command line), the
/// busiest first, with a filter; the dashboard itself is not among them. Read on the worker pool,
/// and read again every RefreshMs while the dialog is open (a process that was "bash" between fork
/// and exec gets its real name; new ones come, gone ones go; the selection stays). CPU is measured
/// over the interval between two reads (the first one is followed by another after FirstCpuMs).
/// Enter in the filter attaches to the only match. The chosen pids are in selectedPids() after accept().
class AttachDialog : public QDialog
{
    Q_OBJECT
public:
    /// @p instrumented: pids already streaming to this dashboard, marked in the list.
    AttachDialog(WorkerPool* pool, const QSet<qint64>& instrumented, QWidget* parent = nullptr);

    static constexpr int RefreshMs = 2000;
    static constexpr int FirstCpuMs = 500;
    enum Column { PidColumn, NameColumn, CpuColumn, RssColumn, InstrumentedColumn, CommandColumn, ColumnCount };

    QList<qint64> selectedPids() const;
    /// Reads the processes again (the timer does it on its own).
    void reload();
    /// The model behind the list (for tests): one row per process, its pid in PidColumn's Qt::UserRole.
    QStandardItemModel* processModel() const { return m_model; }
    void setFilter(const QString& text);

Q_SIGNALS:
    void loaded();

private:
    void applyProcesses(const QList<ProcessSample>& processes);
    void acceptSingleMatch();

    WorkerPool* m_pool;
    std::shared_ptr<ProcessList> m_processes; // shared with the pool's job, which may outlive the dialog
    QSet<qint64> m_instrumented;
    bool m_loading = false;
    QStandardItemModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_view;
    QLineEdit* m_filter;
};

/// Program, arguments and working directory of a process to launch with PERFDASH_SOCKET set.
class LaunchDialog : public QDialog
{
    Q_OBJECT
public:
    explicit LaunchDialog(QWidget* parent = nullptr);
    QString program() const;
    QStringList arguments() const;
    QString workingDirectory() const;
    /// Whether its heap is tracked by call site (the heap preload in its LD_PRELOAD).
    bool trackHeap() const;
    /// Splits @p text into arguments as a POSIX shell would quote them: 'single' (literal),
    /// "double" (backslash escapes \" \\ \$ \`), a backslash outside quotes; no expansion. An
    /// unclosed quote runs to the end.
    static QStringList splitArguments(const QString& text);

private:
    QLineEdit* m_program;
    QLineEdit* m_arguments;
    QLineEdit* m_directory;
    QCheckBox* m_trackHeap;
};

} // namespace perfdash
