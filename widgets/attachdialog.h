// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <QDialog>
#include <QSet>

class QLineEdit;
class QSortFilterProxyModel;
class QStandardItemModel;
class QTableView;

namespace perfdash {

class WorkerPool;

/// This user's processes from /proc (pid, name, RSS, instrumented or not, command line), with a
/// filter. Read on the worker pool; the chosen pids are in selectedPids() after accept().
class AttachDialog : public QDialog
{
    Q_OBJECT
public:
    /// @p instrumented: pids already streaming to this dashboard, marked in the list.
    AttachDialog(WorkerPool* pool, const QSet<qint64>& instrumented, QWidget* parent = nullptr);

    QList<qint64> selectedPids() const;
    /// The model behind the list (for tests): one row per process, pid in column 0.
    QStandardItemModel* processModel() const { return m_model; }
    void setFilter(const QString& text);

Q_SIGNALS:
    void loaded();

private:
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

private:
    QLineEdit* m_program;
    QLineEdit* m_arguments;
    QLineEdit* m_directory;
};

} // namespace perfdash
