// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"

#include <QList>
#include <QPointer>
#include <QTimer>
#include <QWidget>

#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace perfdash {

class FlameGraphWidget;
class Profiler;
class TableColumns;
class TopFunctionsModel;

/**
 * The CPU profile of the selected process: a live flame graph and the top functions, for a time
 * range (last 10 s, last minute, session) and one thread or all, with what the profiler could not
 * see (lost samples, throttling, unknown frames) and, when the kernel refused, why and what fixes
 * it. Snapshots are built on the thread pool, twice a second; stale ones are dropped by job number.
 */
class ProcessProfiler;
struct CapturedProfile;

/// The session profiles of @p profilers as captures keep them (thread-safe: for a worker).
QList<CapturedProfile> capturedProfiles(const std::vector<ProcessProfiler*>& profilers);

class ProfilePanel : public QWidget
{
    Q_OBJECT
public:
    explicit ProfilePanel(QWidget* parent = nullptr);

    void setProfiler(Profiler* profiler);
    Profiler* profiler() const;
    /// The process whose profile is shown (0: none).
    void setProcess(qint64 pid, const QString& name = {});
    qint64 process() const { return m_pid; }
    /// Profiles that no longer change (a capture's): shown, read-only, for their process when no
    /// live profiler has one. Their time range is the session; they keep no threads.
    void setRecordedProfiles(std::vector<ProfileSnapshotPtr> profiles);
    /// The shown profile is a recorded one.
    bool showsRecorded() const;
    /// Starts profiling the shown process (the button does this).
    bool startProfiling();
    /// Writes every profiled process's session profile as folded stacks; the error sentence, empty on success.
    QString exportFolded(const QString& path) const;
    void exportWithDialog();
    void setTimeRange(int lastSeconds);
    void setThread(qint64 tid);
    void setSearch(const QString& text);
    /// Builds a snapshot now (tests; the timer does it otherwise).
    void refresh();

    FlameGraphWidget* flameGraph() const { return m_flame; }
    TopFunctionsModel* topFunctions() const { return m_top; }
    QString statusText() const;
    ProfileSnapshotPtr snapshot() const { return m_snapshot; }

Q_SIGNALS:
    void refreshed();

private:
    void apply(quint64 job, ProfileSnapshotPtr snapshot);
    void updateThreads();
    void updateStatus();
    ProfileSnapshotPtr recordedFor(qint64 pid) const;

    QPointer<Profiler> m_profiler;
    qint64 m_pid = 0;
    QString m_name;
    ProfileQuery m_query;
    ProfileSnapshotPtr m_snapshot;
    std::vector<ProfileSnapshotPtr> m_recorded;
    quint64 m_job = 0;
    QTimer m_timer;
    QLabel* m_status;
    QPushButton* m_start;
    QComboBox* m_range;
    QComboBox* m_threads;
    QLineEdit* m_search;
    QLabel* m_matched;
    FlameGraphWidget* m_flame;
    TopFunctionsModel* m_top;
    QSortFilterProxyModel* m_topProxy;
    QTableView* m_topView;
    TableColumns* m_topColumns;
};

} // namespace perfdash
