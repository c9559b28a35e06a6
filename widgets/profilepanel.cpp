// SPDX-License-Identifier: GPL-3.0-or-later
#include "profilepanel.h"
#include "tablecolumns.h"

#include "captureprofiles.h"
#include "flamegraphwidget.h"
#include "foldedexport.h"
#include "format.h"
#include "profilediffmodel.h"
#include "profiler.h"
#include "topfunctionsmodel.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableView>
#include <QThreadPool>
#include <QVBoxLayout>

#include <algorithm>

namespace perfdash {

QList<CapturedProfile> capturedProfiles(const std::vector<ProcessProfiler*>& profilers)
{
    QList<CapturedProfile> profiles;
    for (ProcessProfiler* profiler : profilers) {
        const ProfileSnapshotPtr s = profiler->snapshot({});
        CapturedProfile profile { s->pid, s->process, s->folded(), {}, {} };
        // Per operation only for a client whose operations were traced: otherwise
        // operationSnapshots() is the whole profile again, with no operation in it.
        if (profiler->stats().operationsTraced) {
            for (const ProfileSnapshotPtr& part : profiler->operationSnapshots(false))
                profile.byOperation += part->folded();
            for (const ProfileSnapshotPtr& part : profiler->operationSnapshots(true))
                profile.offCpu += part->folded();
        }
        profiles.append(std::move(profile));
    }
    return profiles;
}

ProfilePanel::ProfilePanel(QWidget* parent)
    : QWidget(parent)
    , m_status(new QLabel(this))
    , m_start(new QPushButton(tr("Profile"), this))
    , m_scopeBox(new QComboBox(this))
    , m_range(new QComboBox(this))
    , m_threads(new QComboBox(this))
    , m_search(new QLineEdit(this))
    , m_matched(new QLabel(this))
    , m_flame(new FlameGraphWidget(this))
    , m_top(new TopFunctionsModel(this))
    , m_topProxy(new QSortFilterProxyModel(this))
    , m_topView(new QTableView(this))
    , m_diff(new ProfileDiffModel(this))
    , m_diffProxy(new QSortFilterProxyModel(this))
    , m_diffView(new QTableView(this))
    , m_tables(new QStackedWidget(this))
{
    m_status->setWordWrap(true);
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_start->setToolTip(tr("Sample this process's CPU (perf_event_open, user space, whole stacks)"));
    m_range->addItem(tr("Last 10 s"), 10);
    m_range->addItem(tr("Last minute"), 60);
    m_range->addItem(tr("Session"), 0);
    m_range->setCurrentIndex(2);
    m_threads->addItem(tr("All threads"), qint64(0));
    m_search->setPlaceholderText(tr("Search functions"));
    m_search->setClearButtonEnabled(true);
    auto* zoomOut = new QPushButton(tr("Reset zoom"), this);

    m_scopeBox->setToolTip(tr("What the flame graph counts: the whole process, or the instances of the operation "
                              "selected in the Operations table (all, slow, typical, slow against typical, off CPU)"));
    // Operation names are long: the box does not widen the tab (and squeeze the tables beside it).
    m_scopeBox->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_scopeBox->setMinimumContentsLength(16);
    updateScopes();

    auto* controls = new QHBoxLayout;
    controls->addWidget(m_start);
    controls->addWidget(m_range);
    controls->addWidget(m_threads);
    controls->addWidget(m_search, 1);
    controls->addWidget(m_matched);
    controls->addWidget(zoomOut);

    m_topProxy->setSourceModel(m_top);
    m_topProxy->setSortRole(TopFunctionsModel::SortRole);
    m_topView->setModel(m_topProxy);
    m_topView->setSortingEnabled(true);
    m_topView->sortByColumn(TopFunctionsModel::Self, Qt::DescendingOrder);
    m_topView->verticalHeader()->hide();
    m_topView->setSelectionBehavior(QAbstractItemView::SelectRows);
    // Numbers fit their values, the function's name takes the rest, and 48 characters of it at
    // least in a narrow tab (C++ names are long; the rest of the row scrolls); the callers (a list
    // of names, in full in the tooltip), the module and the location are cut short, or they would
    // take the room the function's name is read in.
    m_topColumns = new TableColumns(m_topView, TopFunctionsModel::Function);
    m_topColumns->setNameLimit(48);
    m_topColumns->setMaximumChars(TopFunctionsModel::Callers, 32);
    m_topColumns->setMaximumChars(TopFunctionsModel::Module, 20);
    m_topColumns->setMaximumChars(TopFunctionsModel::Location, 20);

    // Slow against typical: each function's share of the samples in both, largest change first.
    m_diff->setLabels(tr("typical"), tr("slow"));
    m_diffProxy->setSourceModel(m_diff);
    m_diffProxy->setSortRole(ProfileDiffModel::SortRole);
    m_diffView->setModel(m_diffProxy);
    m_diffView->setSortingEnabled(true);
    m_diffView->sortByColumn(-1, Qt::AscendingOrder);
    m_diffView->verticalHeader()->hide();
    m_diffView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_diffView->hideColumn(ProfileDiffModel::Process); // one process
    m_diffView->horizontalHeader()->setSectionResizeMode(ProfileDiffModel::Function, QHeaderView::Stretch);
    m_tables->addWidget(m_topView);
    m_tables->addWidget(m_diffView);

    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_flame);
    splitter->addWidget(m_tables);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    // A row of its own: the scope names an operation, and the row above is full.
    auto* scopeRow = new QHBoxLayout;
    scopeRow->addWidget(new QLabel(tr("Scope"), this));
    scopeRow->addWidget(m_scopeBox, 1);
    scopeRow->addStretch(1);
    layout->addLayout(scopeRow);
    layout->addWidget(m_status);
    layout->addWidget(splitter, 1);

    connect(m_start, &QPushButton::clicked, this, &ProfilePanel::startProfiling);
    connect(m_scopeBox, &QComboBox::activated, this, [this] { setScope(Scope(m_scopeBox->currentData().toInt())); });
    connect(m_range, &QComboBox::currentIndexChanged, this, [this] { setTimeRange(m_range->currentData().toInt()); });
    connect(
        m_threads, &QComboBox::currentIndexChanged, this, [this] { setThread(m_threads->currentData().toLongLong()); });
    connect(m_search, &QLineEdit::textChanged, m_flame, &FlameGraphWidget::setSearch);
    connect(m_flame, &FlameGraphWidget::searchMatched, this, [this](quint64 matched, quint64 total) {
        m_matched->setText(m_search->text().trimmed().isEmpty() || total == 0
                ? QString()
                : tr("matched %1% of samples").arg(100.0 * double(matched) / double(total), 0, 'f', 1));
    });
    connect(zoomOut, &QPushButton::clicked, m_flame, &FlameGraphWidget::resetZoom);
    // A double click on a function zooms the flame graph into its heaviest frame.
    connect(m_topView, &QTableView::doubleClicked, this, [this](const QModelIndex& index) {
        const FunctionCost* cost = m_top->costAt(m_topProxy->mapToSource(index).row());
        if (!cost || !m_snapshot)
            return;
        std::uint32_t best = 0;
        for (std::uint32_t i = 1; i < m_snapshot->nodes.size(); ++i) {
            if (m_snapshot->nodes[i].function == cost->function
                && m_snapshot->nodes[i].total > m_snapshot->nodes[best].total)
                best = i;
        }
        m_flame->zoomTo(best);
    });
    m_timer.setInterval(500);
    connect(&m_timer, &QTimer::timeout, this, &ProfilePanel::refresh);
    m_timer.start();
    updateStatus();
}

void ProfilePanel::setProfiler(Profiler* profiler)
{
    m_profiler = profiler;
    if (profiler) {
        connect(profiler, &Profiler::problem, this, [this](qint64 pid, const QString&) {
            if (pid == m_pid)
                updateStatus();
        });
        connect(profiler, &Profiler::profilingStarted, this, [this](qint64 pid) {
            if (pid == m_pid)
                refresh();
        });
    }
    refresh();
}

Profiler* ProfilePanel::profiler() const
{
    return m_profiler.data();
}

void ProfilePanel::setProcess(qint64 pid, const QString& name)
{
    if (pid == m_pid)
        return;
    m_pid = pid;
    m_name = name;
    m_query.tid = 0;
    m_operation.clear(); // another process's: the window says which of this one's is selected
    updateScopes();
    m_threads->blockSignals(true);
    m_threads->clear();
    m_threads->addItem(tr("All threads"), qint64(0));
    m_threads->blockSignals(false);
    m_flame->resetZoom();
    refresh();
}

void ProfilePanel::setOperation(const QString& operation)
{
    if (operation == m_operation)
        return;
    const Scope before = scope();
    m_operation = operation;
    updateScopes();
    if (isOperationScope(before) || isOperationScope(scope())) {
        m_flame->resetZoom();
        refresh();
    }
}

ProfilePanel::Scope ProfilePanel::scope() const
{
    return isOperationScope(m_scope) && m_operation.isEmpty() ? Scope::Process : m_scope;
}

void ProfilePanel::setScope(Scope scope)
{
    if (scope == m_scope)
        return;
    m_scope = scope;
    updateScopes();
    m_flame->resetZoom();
    refresh();
}

void ProfilePanel::setSource(Source source)
{
    m_source = std::move(source);
    refresh();
}

void ProfilePanel::updateScopes()
{
    const QSignalBlocker block(m_scopeBox);
    m_scopeBox->clear();
    m_scopeBox->addItem(tr("Whole process"), int(Scope::Process));
    if (!m_operation.isEmpty()) {
        m_scopeBox->addItem(tr("%1: all instances").arg(m_operation), int(Scope::OperationAll));
        m_scopeBox->addItem(tr("%1: slow instances").arg(m_operation), int(Scope::OperationSlow));
        m_scopeBox->addItem(tr("%1: typical instances").arg(m_operation), int(Scope::OperationTypical));
        m_scopeBox->addItem(tr("%1: slow vs typical").arg(m_operation), int(Scope::OperationDiff));
        m_scopeBox->addItem(tr("%1: off-CPU (where it waits)").arg(m_operation), int(Scope::OperationOffCpu));
    }
    m_scopeBox->addItem(tr("Whole process: off-CPU"), int(Scope::ProcessOffCpu));
    m_scopeBox->setCurrentIndex(std::max(0, m_scopeBox->findData(int(scope()))));
}

ProfileQuery ProfilePanel::queryFor(Scope scope) const
{
    ProfileQuery query = m_query;
    query.operation = isOperationScope(scope) ? m_operation : QString();
    query.instances = scope == Scope::OperationSlow || scope == Scope::OperationDiff ? InstanceFilter::Slow
        : scope == Scope::OperationTypical                                           ? InstanceFilter::Typical
                                                                                     : InstanceFilter::All;
    return query;
}

ProfilePanel::View ProfilePanel::buildView(const Source& source, Scope scope, const ProfileQuery& query)
{
    View view;
    if (!source.snapshot)
        return view;
    view.snapshot = source.snapshot(query, isOffCpuScope(scope));
    if (scope == Scope::OperationDiff && view.snapshot) {
        ProfileQuery typical = query;
        typical.instances = InstanceFilter::Typical;
        view.typical = source.snapshot(typical, false);
        if (view.typical) {
            view.shareDelta = differentialShares(*view.snapshot, *view.typical);
            view.changes
                = diffProfiles({ { view.typical->pid, view.typical->process, view.typical->folded(), {}, {} } },
                    { { view.snapshot->pid, view.snapshot->process, view.snapshot->folded(), {}, {} } });
        }
    }
    if (!query.operation.isEmpty() && source.operations) {
        for (OperationCpu& cpu : source.operations()) {
            if (cpu.operation == query.operation)
                view.cpu = std::move(cpu);
        }
    }
    return view;
}

QTableView* ProfilePanel::functionsView() const
{
    return static_cast<QTableView*>(m_tables->currentWidget());
}

void ProfilePanel::setRecordedProfiles(std::vector<ProfileSnapshotPtr> profiles)
{
    m_recorded = std::move(profiles);
    refresh();
}

ProfileSnapshotPtr ProfilePanel::recordedFor(qint64 pid) const
{
    for (const ProfileSnapshotPtr& p : m_recorded) {
        if (p->pid == pid)
            return p;
    }
    return nullptr;
}

bool ProfilePanel::showsRecorded() const
{
    return m_snapshot && m_snapshot == recordedFor(m_pid);
}

bool ProfilePanel::startProfiling()
{
    if (!m_profiler || m_pid <= 0)
        return false;
    const bool started = m_profiler->profile(m_pid) != nullptr;
    refresh();
    return started;
}

void ProfilePanel::setTimeRange(int lastSeconds)
{
    m_query.lastSeconds = lastSeconds;
    const int index = m_range->findData(lastSeconds);
    if (index >= 0 && index != m_range->currentIndex())
        m_range->setCurrentIndex(index);
    refresh();
}

void ProfilePanel::setThread(qint64 tid)
{
    m_query.tid = tid;
    refresh();
}

void ProfilePanel::setSearch(const QString& text)
{
    m_search->setText(text);
}

namespace {

/// Runs `then` on the GUI thread if the panel is still there by then. A worker never touches the
/// panel, not even through its QPointer: the panel may be in its destructor (it dies on the GUI
/// thread, where the check is made).
template <typename Then> void whenStillThere(const QPointer<ProfilePanel>& self, Then then)
{
    QMetaObject::invokeMethod(
        QCoreApplication::instance(),
        [self, then = std::move(then)]() mutable {
            if (self)
                then(self.data());
        },
        Qt::QueuedConnection);
}

} // namespace

void ProfilePanel::refresh()
{
    ProcessProfiler* profiler = m_profiler ? m_profiler->profilerFor(m_pid) : nullptr;
    const quint64 job = ++m_job;
    Source source;
    if (profiler) {
        QPointer<ProcessProfiler> live(profiler);
        source.snapshot = [live](const ProfileQuery& query, bool offCpu) {
            return live ? live->snapshot(query, offCpu) : ProfileSnapshotPtr();
        };
        source.operations = [live] { return live ? live->operations() : std::vector<OperationCpu> {}; };
    } else if (m_source.snapshot && m_pid > 0) {
        source = m_source;
    } else {
        apply(job, recordedFor(m_pid)); // a capture's, or none
        return;
    }
    // The trees are merged under the profiler's lock on a worker, never on the GUI thread.
    QPointer<ProfilePanel> self(this);
    const Scope scope = this->scope();
    const ProfileQuery query = queryFor(scope);
    QThreadPool::globalInstance()->start([self, source, scope, query, job] {
        auto view = std::make_shared<View>(buildView(source, scope, query));
        whenStillThere(self, [job, view](ProfilePanel* panel) { panel->applyView(job, std::move(*view)); });
    });
}

void ProfilePanel::apply(quint64 job, ProfileSnapshotPtr snapshot)
{
    View view;
    view.snapshot = std::move(snapshot);
    applyView(job, std::move(view));
}

void ProfilePanel::applyView(quint64 job, View view)
{
    if (job != m_job) // a newer request is on its way
        return;
    m_view = std::move(view);
    m_snapshot = m_view.snapshot;
    const bool diff = m_view.typical && m_snapshot;
    if (diff) {
        m_flame->setDifferential(m_snapshot, m_view.typical, m_view.shareDelta);
        m_diff->setChanges(m_view.changes);
    } else {
        m_flame->setSnapshot(m_snapshot);
        m_diff->setChanges({});
    }
    const Scope shown = scope();
    m_flame->setEmptyText(isOffCpuScope(shown) ? tr("No off-CPU time recorded")
            : isOperationScope(shown)          ? tr("No samples inside %1 in this range").arg(m_operation)
                                               : QString());
    m_tables->setCurrentWidget(diff ? static_cast<QWidget*>(m_diffView) : m_topView);
    m_top->setSnapshot(m_snapshot);
    m_topColumns->fit();
    updateThreads();
    updateStatus();
    Q_EMIT refreshed();
}

void ProfilePanel::updateThreads()
{
    if (!m_snapshot)
        return;
    for (const ProfileThread& thread : m_snapshot->threads) {
        const QString label = tr("%1 (tid %2)").arg(thread.name.isEmpty() ? tr("thread") : thread.name).arg(thread.tid);
        const int index = m_threads->findData(thread.tid);
        if (index < 0)
            m_threads->addItem(label, thread.tid);
        else if (m_threads->itemText(index) != label)
            m_threads->setItemText(index, label);
    }
}

QString ProfilePanel::statusText() const
{
    if (m_pid <= 0)
        return tr("Select a process to see its CPU profile.");
    const QString problem = m_profiler ? m_profiler->problemFor(m_pid) : QString();
    if (!problem.isEmpty())
        return problem;
    if (!m_snapshot)
        return tr("Process %1 is not profiled: press Profile (or start perfdash with --profile).").arg(m_pid);
    const ProfileStats& s = m_snapshot->stats;
    const std::uint64_t stacks = std::max<std::uint64_t>(1, s.cfiStacks + s.framePointerStacks + s.ipOnlyStacks);
    QString text = showsRecorded()
        ? tr("%1 (pid %2), recorded in the capture (read-only): %3 samples of the whole session")
              .arg(m_snapshot->process)
              .arg(m_pid)
              .arg(m_snapshot->totalSamples())
        : tr("%1 (pid %2)%3: %4 samples at %5 Hz; %6 in this view; stacks: %7% CFI, %8% frame pointers")
              .arg(m_snapshot->process)
              .arg(m_pid)
              .arg(s.exited ? tr(", exited") : QString())
              .arg(s.samples)
              .arg(s.frequencyHz)
              .arg(m_snapshot->offCpu ? tr("%1 ms off CPU").arg(double(m_snapshot->totalSamples()) / 1000.0, 0, 'f', 1)
                                      : tr("%1 samples").arg(m_snapshot->totalSamples()))
              .arg(100 * s.cfiStacks / stacks)
              .arg(100 * s.framePointerStacks / stacks);
    if (s.lost || s.throttled || s.unknownFrames || s.truncatedStacks)
        text += tr("; lost %1, throttled %2 times, %3 unknown frames, %4 truncated stacks")
                    .arg(s.lost)
                    .arg(s.throttled)
                    .arg(s.unknownFrames)
                    .arg(s.truncatedStacks);
    text += kernelNote(s); // how much of the CPU the graph explains
    const QString scope = scopeNote();
    return scope.isEmpty() ? text : text + u'\n' + scope;
}

QString ProfilePanel::scopeNote() const
{
    if (!m_snapshot || showsRecorded())
        return {};
    const ProfileStats& s = m_snapshot->stats;
    const Scope shown = scope();
    QStringList parts;
    if (isOperationScope(shown)) {
        const QString name = m_scopeBox->currentText();
        if (m_view.typical)
            parts << tr("%1: %2 samples in slow instances against %3 in typical ones (red: a larger share when slow, "
                        "blue: a smaller one)")
                         .arg(name)
                         .arg(m_snapshot->totalSamples())
                         .arg(m_view.typical->totalSamples());
        // The operation's split of its wall time, from the samples (and the switches, where recorded).
        if (const std::optional<OperationCpu>& cpu = m_view.cpu; cpu && cpu->cpuShare() >= 0) {
            QString split = tr("%1: %2% on CPU (%3 CPU of %4 wall time over %5 instances")
                                .arg(m_operation)
                                .arg(100.0 * cpu->cpuShare(), 0, 'f', 0)
                                .arg(formatDuration(cpu->cpuNs), formatDuration(cpu->wallNs))
                                .arg(cpu->instances);
            if (cpu->offCpuNs)
                split += tr(", %1 off CPU recorded").arg(formatDuration(cpu->offCpuNs));
            else if (cpu->wallNs > cpu->cpuNs)
                split += tr(", about %1 waiting: wall time minus CPU").arg(formatDuration(cpu->wallNs - cpu->cpuNs));
            parts << split + u')';
        } else if (s.operationsTraced) {
            parts << tr("%1: no instance ended while profiled").arg(m_operation);
        }
    }
    if (isOffCpuScope(shown) && m_snapshot->totalSamples() == 0)
        parts << tr("no off-CPU time recorded");
    if ((isOperationScope(shown) || isOffCpuScope(shown)) && !s.offCpuRecorded)
        parts << (s.offCpuProblem.isEmpty() ? tr("off-CPU time not recorded") : s.offCpuProblem)
                + tr("; on/off-CPU split from CPU samples only");
    parts << attributionNote(s);
    return parts.join(QStringLiteral("; "));
}

void ProfilePanel::updateStatus()
{
    const QString text = statusText();
    m_status->setText(text);
    const bool refused = m_profiler && !m_profiler->problemFor(m_pid).isEmpty();
    m_status->setStyleSheet(refused ? QStringLiteral("color: #b00020") : QString());
    ProcessProfiler* profiler = m_profiler ? m_profiler->profilerFor(m_pid) : nullptr;
    m_start->setEnabled(m_profiler && m_pid > 0 && (!profiler || profiler->hasExited()) && !showsRecorded());
}

QString ProfilePanel::exportFolded(const QString& path) const
{
    if (!m_profiler)
        return tr("nothing is profiled");
    QString error;
    foldedexport::writeFile(path, m_profiler->sessionSnapshots(), &error);
    return error;
}

void ProfilePanel::exportWithDialog()
{
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Export profile (folded stacks)"), QString(), tr("Folded stacks (*.folded *.txt);;All files (*)"));
    if (path.isEmpty())
        return;
    QPointer<ProfilePanel> self(this);
    QThreadPool::globalInstance()->start([self, path, profiler = m_profiler] {
        QString error;
        if (profiler)
            foldedexport::writeFile(path, profiler->sessionSnapshots(), &error);
        if (!error.isEmpty())
            whenStillThere(self, [error](ProfilePanel* panel) {
                QMessageBox::warning(panel, tr("Export profile"), error);
            });
    });
}

} // namespace perfdash
