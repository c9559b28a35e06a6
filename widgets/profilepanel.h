// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "capture/captureprofiles.h"
#include "models/profiletrees.h"
#include "profiler/calltree.h"
#include "profiler/operationattribution.h"

#include <QDateTime>
#include <QList>
#include <QPointer>
#include <QSet>
#include <QTimer>
#include <QWidget>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

class QAction;
class QComboBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QScrollArea;
class QSplitter;
class QSortFilterProxyModel;
class QStackedWidget;
class QTabWidget;
class QTableView;
class QToolBar;
class QToolButton;
class QTreeView;

namespace perfdash {

class CallTreeModel;
class CallerCalleeModel;
class FlameGraphWidget;
class ProfileDiffModel;
class Profiler;
class TableColumns;
class TopFunctionsModel;

/**
 * The CPU profile of the selected process, for a time range (last 10 s, last minute, session) and
 * one thread or all, in the views profilers have (Hotspot's): a live flame graph (or its bottom-up
 * graph of callers) with the top functions of its zoom, top-down and bottom-up trees, and callers
 * and callees of a function; recursion can be collapsed, one function focused on, and the profile
 * compared with a mark the user set (or a capture file's profile of the process). With what the
 * profiler could not see (lost samples, throttling, unknown frames) and, when the kernel refused,
 * why and what fixes it. Snapshots, and the trees of the view shown, are built on the thread pool,
 * twice a second; stale ones are dropped by job number.
 *
 * Its scope is the whole process (CPU or off-CPU) or, when an operation of the process is selected
 * (setOperation()), that operation's instances: all, slow, typical, slow against typical (a
 * differential flame graph and the functions' shares in both), or its off-CPU time.
 */

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
    /// What comparing with a capture reads of it: its CPU profiles, or the heaps (the Memory view).
    enum class CaptureKind { Cpu, Heap };
    /// One process's profile in a capture file.
    struct CapturedProcess
    {
        QString name; ///< as the capture's tables name it, else as its profiler did
        QString program; ///< as its profiler named it (the program's comm)
        ProfileSnapshotPtr profile;
    };
    /// A capture file's profiles of one kind, to compare the shown process with.
    struct CaptureProfiles
    {
        QString fileName; ///< without its folder
        QDateTime recorded; ///< invalid: not known
        std::vector<CapturedProcess> processes; ///< those with a profile of the kind read
    };
    /// The views of the profile, in the order of their tabs.
    enum class Tab { FlameGraph, TopDown, BottomUp, CallerCallee };
    /// How a refresh shapes the samples (the panel's toggles), and what it builds besides them.
    struct Options
    {
        bool collapseRecursion = false;
        bool bottomUpFlame = false; ///< the flame graph draws the callers of the functions sampled
        QString focus; ///< a function whose calls are merged and shown alone; empty: none
        Tab tab = Tab::FlameGraph; ///< the trees built are this tab's
        ProfileSnapshotPtr mark; ///< compare against it (not in the slow-vs-typical scope); null: no
        bool markFromCapture = false; ///< the mark is another session's: shares only, never subtracted
    };
    /// One refresh's result, built on the thread pool.
    struct View
    {
        ProfileSnapshotPtr raw; ///< as the profiler gave it: what a mark keeps
        ProfileSnapshotPtr snapshot; ///< shaped by the options (collapsed, focused, since the mark)
        ProfileSnapshotPtr typical; ///< OperationDiff: what the slow instances are drawn against; or the mark
        ProfileSnapshotPtr flame; ///< what the flame graph draws: snapshot, or its bottom-up graph
        ProfileSnapshotPtr flameBaseline; ///< and its baseline, in a differential
        std::vector<double> shareDelta; ///< per node of flame, its share minus the baseline's
        QList<ProfileShareChange> changes; ///< the functions' shares, baseline -> snapshot
        std::optional<OperationCpu> cpu; ///< an operation scope: the operation's CPU and wall time
        bool againstMark = false;
        bool sinceMark = false; ///< snapshot holds only the samples since the mark (a session range)
        ProfileTreePtr tree; ///< the top-down or bottom-up tab's tree
        CallerCalleePtr callerCallee; ///< the caller/callee tab's
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
    static View buildView(const Source& source, Scope scope, const ProfileQuery& query, const Options& options);
    static View buildView(const Source& source, Scope scope, const ProfileQuery& query);
    QComboBox* scopeBox() const { return m_scopeBox; }
    /// The query a scope asks of the profiler (the range and thread chosen, the operation).
    ProfileQuery queryFor(Scope scope) const;
    /// The shown process's profile from @p source when no live profiler has it; {} to stop.
    void setSource(Source source);
    /// Shows the sampling profiler's own controls and status (the Profile button, scopes, range,
    /// threads, its mark and the comparison with it); off, the panel shows what its Source gives (a
    /// heap profile) with its views alone.
    void setSamplingControlsVisible(bool visible);
    /// The top functions' table fits the panel's width: the function's name stretches, the other
    /// text columns are cut short (a location in the middle) with their full text in a tooltip.
    void fitFunctionsToWidth();
    /// Profiles that no longer change (a capture's): shown, read-only, for their process when no
    /// live profiler has one. Their time range is the session; they keep no threads.
    void setRecordedProfiles(std::vector<ProfileSnapshotPtr> profiles);
    /// The shown profile is a recorded one.
    bool showsRecorded() const;
    /// Starts profiling the shown process (the button does this).
    bool startProfiling();
    /// Writes every profiled process's session profile as folded stacks; the error sentence, empty on success.
    QString exportFolded(const QString& path) const;
    /// Every profiled process's session profile into @p path: gzipped pprof profile.proto when the
    /// name ends in .pb.gz, .pb or .pprof (as `--export-pprof`), else folded stacks; the error, or empty.
    QString exportProfile(const QString& path) const;
    void exportWithDialog();
    void setTimeRange(int lastSeconds);
    void setThread(qint64 tid);
    void setSearch(const QString& text);
    /// Builds a snapshot now (tests; the timer does it otherwise).
    void refresh();

    /// The process as the tables name it (setProcess()), else as the profiler does.
    QString processName() const;
    /// What the thread filter calls @p thread: its own name, or the process's with "main" or "thread".
    QString threadLabel(const ProfileThread& thread) const;
    QComboBox* threadBox() const { return m_threads; }

    void setTab(Tab tab);
    Tab tab() const;
    void setCollapseRecursion(bool collapse);
    void setBottomUpFlameGraph(bool bottomUp);
    /// Shows only the calls of @p function, merged (empty: everything again).
    void setFocusFunction(const QString& function);
    QString focusFunction() const { return m_focus; }
    /// Keeps the profile shown now (as the profiler gave it) to compare later ones with.
    void setMark();
    void clearMark();
    ProfileSnapshotPtr mark() const { return m_mark; }
    /// What "Compare with a capture" reads (CaptureKind::Cpu unless set).
    void setCaptureKind(CaptureKind kind) { m_captureKind = kind; }
    CaptureKind captureKind() const { return m_captureKind; }
    /// Reads the capture file at @p path on the thread pool, then takes its profile of the shown
    /// process as the mark (matched by the name the tables give it, then by its program; the one
    /// with the most samples of several; the capture's only process when none matches) and
    /// compares with it. What went wrong, or the processes to choose from when several are there
    /// and none matches, is said in the mark line (markText()). Emits captureRead() when done.
    void compareWithCapture(const QString& path);
    /// Asks for a capture file (File > Open capture's filters), then compareWithCapture().
    void compareWithCaptureWithDialog();
    /// The processes of the capture read last that are offered to choose from: none matched the
    /// shown one. Empty otherwise.
    QStringList captureChoices() const;
    /// Compares with captureChoices()[@p index]; false with @p error when there is no such choice.
    bool compareWithCaptureProcess(int index, QString* error = nullptr);
    /// The mark line: what the mark is ("Mark: capture run.perfdash, orders-api, 12,345 samples,
    /// recorded 14:05"), a capture being read, or why a capture cannot be compared with; empty:
    /// no mark and nothing to say.
    QString markText() const;
    /// The capture's processes whose profile is the one of the process @p name (as the tables
    /// name it) or, when none is, of the program @p program; the one with the most samples of
    /// several; -1: none.
    static int matchCapturedProcess(const CaptureProfiles& capture, const QString& name, const QString& program);
    /// The @p kind profiles of the capture file at @p path (thread-safe: for a worker); nothing,
    /// with @p error, when the file cannot be read or is not a capture.
    static std::optional<CaptureProfiles> loadCaptureProfiles(const QString& path, CaptureKind kind, QString* error);
    /// The flame graph and the tables show the profile against the mark.
    void setCompareWithMark(bool compare);
    /// Shows the callers and callees of @p function (the caller/callee tab).
    void showCallers(const QString& function);
    QString callerCalleeFunction() const { return m_callerFunction; }

    FlameGraphWidget* flameGraph() const { return m_flame; }
    QScrollArea* flameScrollArea() const { return m_flameScroll; }
    CallTreeModel* topDownModel() const { return m_topDownModel; }
    CallTreeModel* bottomUpModel() const { return m_bottomUpModel; }
    QTreeView* topDownView() const { return m_topDownView; }
    CallerCalleeModel* callerCalleeFunctions() const { return m_ccFunctions; }
    CallerCalleeModel* callersModel() const { return m_callers; }
    CallerCalleeModel* calleesModel() const { return m_callees; }
    QLineEdit* searchBox() const { return m_search; }
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
    /// A capture asked for by compareWithCapture() was read: its profile is the mark (@p marked),
    /// or the mark line says why not.
    void captureRead(bool marked);

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    void apply(quint64 job, ProfileSnapshotPtr snapshot);
    void applyView(quint64 job, View view);
    void updateScopes();
    QString scopeNote() const;
    void updateThreads();
    void updateStatus();
    void updateToggles();
    void applyTree(QTreeView* view, CallTreeModel* model, QSet<QString>* expanded, ProfileTreePtr tree);
    /// Opens the nodes at @p paths; none there: the hot path, as far as one callee holds most of its caller.
    static void restoreExpanded(
        QTreeView* view, CallTreeModel* model, QSet<QString>* expanded, const QSet<QString>& paths);
    /// The trees keep the paths to the functions the search matches, all open.
    void searchTrees();
    /// A tree view's index as its CallTreeModel's (the view shows it through the search's filter).
    static QModelIndex treeSourceIndex(const QModelIndex& viewIndex);
    static QModelIndex treeViewIndex(const QTreeView* view, std::uint32_t node);
    void applyCallerCallee(CallerCalleePtr callers);
    void functionMenu(const QString& function, const QPoint& globalPos);
    ProfileSnapshotPtr recordedFor(qint64 pid) const;
    void applyCapture(quint64 job, std::shared_ptr<const CaptureProfiles> capture, const QString& error);
    /// Takes @p capture's process @p index as the mark and compares with it; @p note says how it was chosen.
    void markFromCapture(const CaptureProfiles& capture, std::size_t index, const QString& note);
    /// Says something about a capture in the mark line instead of the mark (@p problem: in red).
    void sayAboutCapture(const QString& text, bool problem);
    void updateMarkLine();

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
    QToolBar* m_scopeBar = nullptr; ///< what is counted: the whole process or an operation's instances
    QList<QAction*> m_samplingActions; ///< the tool bar's mark and comparison
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
    QTabWidget* m_viewTabs;
    QScrollArea* m_flameScroll;
    bool m_flameAtEnd = true; ///< the flame graph's scroll follows its root
    CallTreeModel* m_topDownModel;
    CallTreeModel* m_bottomUpModel;
    QTreeView* m_topDownView;
    QTreeView* m_bottomUpView;
    bool m_searchingTrees = false; ///< the search filters the trees: what it opens is not remembered
    QSet<QString> m_expandedTopDown; ///< paths of expanded nodes, kept across snapshots
    QSet<QString> m_expandedBottomUp;
    CallerCalleeModel* m_ccFunctions;
    CallerCalleeModel* m_callers;
    CallerCalleeModel* m_callees;
    QSortFilterProxyModel* m_ccFunctionsProxy;
    QTableView* m_ccFunctionsView;
    QString m_callerFunction;
    bool m_callerPicked = false; ///< m_callerFunction was chosen by the panel, not the user
    QSplitter* m_ccSplitter = nullptr; ///< functions | callers and callees; stacked when narrow
    QSplitter* m_ccRight = nullptr;
    QAction* m_bottomUpAction;
    QAction* m_collapseAction;
    QAction* m_compareAction;
    QAction* m_unfocusAction;
    QAction* m_compareCaptureAction;
    QToolButton* m_markButton;
    QWidget* m_markRow; ///< the mark line with its buttons, shown when there is something to say
    QLabel* m_markLine;
    QToolButton* m_chooseButton; ///< the capture's processes, when none matched
    QToolButton* m_clearMarkButton;
    bool m_collapse = false;
    bool m_bottomUpFlame = false;
    QString m_focus;
    ProfileSnapshotPtr m_mark;
    bool m_markFromCapture = false;
    QDateTime m_markTime;
    QString m_markCapture; ///< a capture's mark: its file name
    QString m_markDescription; ///< a capture's mark: what the mark line says of it
    bool m_compare = false;
    CaptureKind m_captureKind = CaptureKind::Cpu;
    quint64 m_captureJob = 0; ///< the capture read last asked for; older ones are dropped
    QString m_captureNote; ///< being read, or why the capture asked for is not the mark
    bool m_captureProblem = false; ///< m_captureNote says what went wrong
    bool m_captureReading = false;
    std::shared_ptr<const CaptureProfiles> m_captureChoices; ///< none matched: the processes to choose from
};

} // namespace perfdash
