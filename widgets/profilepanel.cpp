// SPDX-License-Identifier: GPL-3.0-or-later
#include "profilepanel.h"
#include "tablecolumns.h"

#include "captureprofiles.h"
#include "flamegraphwidget.h"
#include "foldedexport.h"
#include "profiler.h"
#include "topfunctionsmodel.h"

#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QTableView>
#include <QThreadPool>
#include <QVBoxLayout>

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
    , m_range(new QComboBox(this))
    , m_threads(new QComboBox(this))
    , m_search(new QLineEdit(this))
    , m_matched(new QLabel(this))
    , m_flame(new FlameGraphWidget(this))
    , m_top(new TopFunctionsModel(this))
    , m_topProxy(new QSortFilterProxyModel(this))
    , m_topView(new QTableView(this))
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

    auto* splitter = new QSplitter(Qt::Vertical, this);
    splitter->addWidget(m_flame);
    splitter->addWidget(m_topView);
    splitter->setStretchFactor(0, 3);
    splitter->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(controls);
    layout->addWidget(m_status);
    layout->addWidget(splitter, 1);

    connect(m_start, &QPushButton::clicked, this, &ProfilePanel::startProfiling);
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
    m_threads->blockSignals(true);
    m_threads->clear();
    m_threads->addItem(tr("All threads"), qint64(0));
    m_threads->blockSignals(false);
    m_flame->resetZoom();
    refresh();
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

void ProfilePanel::refresh()
{
    ProcessProfiler* profiler = m_profiler ? m_profiler->profilerFor(m_pid) : nullptr;
    const quint64 job = ++m_job;
    if (!profiler) {
        apply(job, recordedFor(m_pid)); // a capture's, or none
        return;
    }
    // The tree is merged under the profiler's lock on a worker, never on the GUI thread.
    QPointer<ProfilePanel> self(this);
    QPointer<ProcessProfiler> source(profiler);
    const ProfileQuery query = m_query;
    QThreadPool::globalInstance()->start([self, source, query, job] {
        if (!source)
            return;
        ProfileSnapshotPtr snapshot = source->snapshot(query);
        QMetaObject::invokeMethod(
            self.data(),
            [self, job, snapshot] {
                if (self)
                    self->apply(job, snapshot);
            },
            Qt::QueuedConnection);
    });
}

void ProfilePanel::apply(quint64 job, ProfileSnapshotPtr snapshot)
{
    if (job != m_job) // a newer request is on its way
        return;
    m_snapshot = std::move(snapshot);
    m_flame->setSnapshot(m_snapshot);
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
              .arg(m_snapshot->totalSamples())
              .arg(100 * s.cfiStacks / stacks)
              .arg(100 * s.framePointerStacks / stacks);
    if (s.lost || s.throttled || s.unknownFrames || s.truncatedStacks)
        text += tr("; lost %1, throttled %2 times, %3 unknown frames, %4 truncated stacks")
                    .arg(s.lost)
                    .arg(s.throttled)
                    .arg(s.unknownFrames)
                    .arg(s.truncatedStacks);
    return text + kernelNote(s); // how much of the CPU the graph explains
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
        QMetaObject::invokeMethod(
            self.data(),
            [self, error] {
                if (self && !error.isEmpty())
                    QMessageBox::warning(self, tr("Export profile"), error);
            },
            Qt::QueuedConnection);
    });
}

} // namespace perfdash
