// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "calltree.h"
#include "captureprofiles.h"
#include "operationattribution.h"

#include <QList>
#include <QPointer>
#include <QTimer>
#include <QWidget>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QStackedWidget;
class QTableView;

namespace perfdash {

class FlameGraphWidget;
class ProfileDiffModel;
class Profiler;
class TableColumns;
class TopFunctionsModel;

/**
 * The CPU profile of the selected process: a live flame graph and the top functions, for a time
 * range (last 10 s, last minute, session) and one thread or all, with what the profiler could not
 * see (lost samples, throttling, unknown frames) and, when the kernel refused, why and what fixes
 * it. Snapshots are built on the thread pool, twice a second; stale ones are dropped by job number.
 *
 * Its scope is the whole process (CPU or off-CPU) or, when an operation of the process is selected
 * (setOperation()), that operation's instances: all, slow, typical, slow against typical (a
 * differential flame graph and the functions' shares in both), or its off-CPU time.
 */
class ProcessProfiler;
struct CapturedProfile;

/// The session profiles of @p profilers as captures keep them (thread-safe: for a worker).
QList<CapturedProfile> capturedProfiles(const std::vector<ProcessProfiler*>& profilers);

class ProfilePanel : public QWidget
{
    Q_OBJECT
public:
    /// What the flame graph and the top functions count.
    enum class Scope {
        Process, ///< every CPU sample of the process
        OperationAll, ///< samples inside the operation's instances
        OperationSlow,
        OperationTypical,
        OperationDiff, ///< slow instances drawn against typical ones
        OperationOffCpu, ///< time off CPU inside the operation's instances
        ProcessOffCpu, ///< every off-CPU interval of the process
    };
    /// Where the snapshots of the shown process come from when no live profiler has it (tests: a
    /// fake profile). Called on the thread pool.
    struct Source
    {
        std::function<ProfileSnapshotPtr(const ProfileQuery& query, bool offCpu)> snapshot;
        std::function<std::vector<OperationCpu>()> operations; ///< may be empty
    };
    /// One refresh's result, built on the thread pool.
    struct View
    {
        ProfileSnapshotPtr snapshot;
        ProfileSnapshotPtr typical; ///< OperationDiff: what the slow instances are drawn against
        std::vector<double> shareDelta; ///< OperationDiff: per node of snapshot, slow minus typical share
        QList<ProfileShareChange> changes; ///< OperationDiff: the functions' shares, typical -> slow
        std::optional<OperationCpu> cpu; ///< an operation scope: the operation's CPU and wall time
    };

    explicit ProfilePanel(QWidget* parent = nullptr);

    void setProfiler(Profiler* profiler);
    Profiler* profiler() const;
    /// The process whose profile is shown (0: none).
    void setProcess(qint64 pid, const QString& name = {});
    qint64 process() const { return m_pid; }
    /// The operation selected in the window (of the shown process; empty: none): its scopes are
    /// offered. Without one, an operation scope falls back to the whole process.
    void setOperation(const QString& operation);
    QString operation() const { return m_operation; }
    /// Chooses what is shown (the combo box does this); an operation scope is kept while no
    /// operation is selected, and the whole process shown meanwhile.
    void setScope(Scope scope);
    /// The scope shown: the chosen one, or the whole process when it needs an operation and there is none.
    Scope scope() const;
    static bool isOperationScope(Scope scope) { return scope != Scope::Process && scope != Scope::ProcessOffCpu; }
    static bool isOffCpuScope(Scope scope) { return scope == Scope::OperationOffCpu || scope == Scope::ProcessOffCpu; }
    /// Builds what @p scope shows from @p source (thread-safe: for a worker).
    static View buildView(const Source& source, Scope scope, const ProfileQuery& query);
    QComboBox* scopeBox() const { return m_scopeBox; }
    /// The query a scope asks of the profiler (the range and thread chosen, the operation).
    ProfileQuery queryFor(Scope scope) const;
    /// The shown process's profile from @p source when no live profiler has it; {} to stop.
    void setSource(Source source);
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
    /// The differential's baseline (typical instances) in the slow-vs-typical scope, else null.
    ProfileSnapshotPtr typicalSnapshot() const { return m_view.typical; }
    ProfileDiffModel* differentialFunctions() const { return m_diff; }
    /// The top-functions view in use: the functions of the snapshot, or their shares slow vs typical.
    QTableView* functionsView() const;

Q_SIGNALS:
    void refreshed();

private:
    void apply(quint64 job, ProfileSnapshotPtr snapshot);
    void applyView(quint64 job, View view);
    void updateScopes();
    QString scopeNote() const;
    void updateThreads();
    void updateStatus();
    ProfileSnapshotPtr recordedFor(qint64 pid) const;

    QPointer<Profiler> m_profiler;
    qint64 m_pid = 0;
    QString m_name;
    ProfileQuery m_query;
    QString m_operation;
    Scope m_scope = Scope::Process;
    Source m_source;
    ProfileSnapshotPtr m_snapshot;
    View m_view;
    std::vector<ProfileSnapshotPtr> m_recorded;
    quint64 m_job = 0;
    QTimer m_timer;
    QLabel* m_status;
    QPushButton* m_start;
    QComboBox* m_scopeBox;
    QComboBox* m_range;
    QComboBox* m_threads;
    QLineEdit* m_search;
    QLabel* m_matched;
    FlameGraphWidget* m_flame;
    TopFunctionsModel* m_top;
    QSortFilterProxyModel* m_topProxy;
    QTableView* m_topView;
    TableColumns* m_topColumns;
    ProfileDiffModel* m_diff;
    QSortFilterProxyModel* m_diffProxy;
    QTableView* m_diffView;
    QStackedWidget* m_tables;
};

} // namespace perfdash
