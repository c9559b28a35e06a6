// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/memorypanel.h"

#include "core/errors.h"
#include "models/format.h"
#include "widgets/profilepanel.h"

#include <QComboBox>
#include <QCoreApplication>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QSignalBlocker>
#include <QStandardItemModel>
#include <QVBoxLayout>

#include <algorithm>

namespace perfdash {

namespace {
/// The mark button's tooltip when it can be used.
QString markToolTip()
{
    return QCoreApplication::translate("perfdash::MemoryPanel",
        "Keep the live bytes by call site as they are now: the growth view shows what grows from here");
}
} // namespace

MemoryPanel::MemoryPanel(QWidget* parent)
    : QWidget(parent)
    , m_viewBox(new QComboBox(this))
    , m_markButton(new QPushButton(tr("Set mark"), this))
    , m_totals(new QLabel(this))
    , m_profile(new ProfilePanel(this))
{
    m_viewBox->addItem(tr("Live bytes"), int(HeapView::Live));
    m_viewBox->addItem(tr("Allocation rate"), int(HeapView::AllocationRate));
    m_viewBox->addItem(QString(), int(HeapView::Growth)); // named by updateControls(): since a mark, or the start
    m_viewBox->setToolTip(tr("Live bytes: held now, by the call site that allocated them. Allocation rate: bytes "
                             "allocated per second over the last %1 s. Growth: live bytes that were not there at "
                             "the mark (what kept growing), or at the start when no mark is set")
                              .arg(HeapProfiler::RateSeconds));
    m_viewBox->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    m_markButton->setToolTip(markToolTip());
    m_totals->setWordWrap(true);
    m_totals->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_totals->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred); // wraps, never widens the view
    // The heap's own mark (above) is the one way to mark here: the CPU profile's is hidden with its
    // sampling controls.
    m_profile->setSamplingControlsVisible(false);
    m_profile->fitFunctionsToWidth();
    m_profile->setCaptureKind(ProfilePanel::CaptureKind::Heap); // "Compare with a capture" reads its heaps

    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(4, 2, 4, 0);
    bar->addWidget(new QLabel(tr("Show"), this));
    bar->addWidget(m_viewBox);
    bar->addWidget(m_markButton);
    // The live heap against a capture's (a recorded run of the same program), coloured by change.
    auto* compare = new QPushButton(tr("Compare with a capture\u2026"), this);
    compare->setToolTip(tr("Take this program's heap in a capture file (a run recorded with --heap --record) as "
                           "the mark, and colour the heap now by what changed against it"));
    connect(compare, &QPushButton::clicked, m_profile, &ProfilePanel::compareWithCaptureWithDialog);
    bar->addWidget(compare);
    bar->addStretch();
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(bar);
    layout->addWidget(m_totals);
    layout->addWidget(m_profile, 1);

    connect(m_viewBox, &QComboBox::currentIndexChanged, this, [this] {
        updateSource();
        updateTotals();
    });
    connect(m_markButton, &QPushButton::clicked, this, &MemoryPanel::setMark);
    m_timer.setInterval(500);
    connect(&m_timer, &QTimer::timeout, this, &MemoryPanel::updateTotals);
    m_timer.start();
    updateControls();
    updateTotals();
}

void MemoryPanel::setHeapProfiler(HeapProfiler* heap)
{
    m_heap = heap;
    updateControls();
    updateSource();
    updateTotals();
}

void MemoryPanel::setRecordedHeaps(std::vector<ProfileSnapshotPtr> heaps)
{
    m_recorded = std::move(heaps);
    updateControls();
    updateSource();
    updateTotals();
}

ProfileSnapshotPtr MemoryPanel::recordedFor(qint64 pid) const
{
    if (pid <= 0)
        return nullptr;
    const auto it = std::find_if(
        m_recorded.begin(), m_recorded.end(), [pid](const ProfileSnapshotPtr& h) { return h && h->pid == pid; });
    return it != m_recorded.end() ? *it : nullptr;
}

bool MemoryPanel::showsRecorded() const
{
    if (!recordedFor(m_pid))
        return false;
    if (!m_heap)
        return true;
    const std::vector<HeapTotals> all = m_heap->totals();
    return std::none_of(all.begin(), all.end(), [this](const HeapTotals& t) { return t.pid == m_pid; });
}

QString MemoryPanel::shownName() const
{
    if (!m_name.isEmpty())
        return m_name;
    if (const ProfileSnapshotPtr recorded = recordedFor(m_pid); recorded && !recorded->process.isEmpty())
        return recorded->process;
    return tr("this process");
}

void MemoryPanel::setProcess(qint64 pid, const QString& name)
{
    if (pid == m_pid && (name.isEmpty() || name == m_name))
        return;
    m_pid = pid;
    m_name = name;
    updateControls();
    updateSource();
    updateTotals();
}

void MemoryPanel::setView(HeapView view)
{
    if (!canShow(view, nullptr))
        return;
    m_viewBox->setCurrentIndex(m_viewBox->findData(int(view)));
}

HeapView MemoryPanel::view() const
{
    return HeapView(m_viewBox->currentData().toInt());
}

bool MemoryPanel::canShow(HeapView view, QString* why) const
{
    if (view == HeapView::Live || !showsRecorded())
        return true;
    return failWith(why,
        view == HeapView::AllocationRate
            ? tr("A capture keeps the live bytes by call site when its run ended, not the allocations over time: "
                 "no allocation rate")
            : tr("A capture keeps the live bytes by call site when its run ended, nothing after a mark: no growth"));
}

bool MemoryPanel::canSetMark(QString* why) const
{
    if (m_pid <= 0)
        return failWith(why, tr("Select a process whose heap is tracked"));
    if (showsRecorded())
        return failWith(why,
            tr("The heap of %1 is from the capture (read-only): the live bytes when its run ended, with "
               "nothing after them to grow from a mark")
                .arg(shownName()));
    const std::vector<HeapTotals> all = m_heap ? m_heap->totals() : std::vector<HeapTotals>();
    const auto it = std::find_if(all.begin(), all.end(), [this](const HeapTotals& t) { return t.pid == m_pid; });
    if (it == all.end())
        return failWith(why,
            tr("The heap of %1 is not tracked: nothing to mark (only a program perfdash launches with the heap "
               "preload has its heap by call site)")
                .arg(shownName()));
    if (!it->reporting)
        return failWith(why, tr("Waiting for the heap preload of %1 to report").arg(shownName()));
    if (it->ended)
        return failWith(
            why, tr("%1 has ended: its heap no longer changes, nothing can grow from a mark").arg(shownName()));
    return true;
}

void MemoryPanel::setMark()
{
    if (!canSetMark(nullptr))
        return;
    m_heap->setMark(m_pid);
    m_marks.insert(m_pid, QTime::currentTime());
    updateControls();
    setView(HeapView::Growth);
    m_profile->refresh();
    updateTotals();
}

void MemoryPanel::updateControls()
{
    auto* items = qobject_cast<QStandardItemModel*>(m_viewBox->model());
    Q_ASSERT(items);
    const auto mark = m_marks.constFind(m_pid);
    for (int row = 0; row < m_viewBox->count(); ++row) {
        const HeapView itemView = HeapView(m_viewBox->itemData(row).toInt());
        QString why;
        const bool offered = canShow(itemView, &why);
        QStandardItem* item = items->item(row);
        if (itemView == HeapView::Growth)
            item->setText(mark != m_marks.constEnd()
                    ? tr("Growth since mark (%1)").arg(mark->toString(QStringLiteral("HH:mm:ss")))
                    : tr("Growth since the start (no mark set)"));
        item->setEnabled(offered);
        item->setToolTip(why);
    }
    if (!canShow(view(), nullptr)) { // a capture's heap: its live bytes
        const QSignalBlocker block(m_viewBox); // the caller updates the source
        m_viewBox->setCurrentIndex(m_viewBox->findData(int(HeapView::Live)));
    }
    QString why;
    const bool markable = canSetMark(&why);
    m_markButton->setEnabled(markable);
    m_markButton->setToolTip(markable ? markToolTip() : why);
}

void MemoryPanel::updateSource()
{
    ProfilePanel::Source source;
    if (const ProfileSnapshotPtr recorded = showsRecorded() ? recordedFor(m_pid) : nullptr) {
        source.snapshot = [recorded](const ProfileQuery&, bool) { return recorded; };
    } else if (m_heap) {
        QPointer<HeapProfiler> heap = m_heap;
        const qint64 pid = m_pid;
        const HeapView shown = view();
        // Called on the thread pool: the profiler locks.
        source.snapshot = [heap, pid, shown](const ProfileQuery&, bool) {
            return heap ? heap->snapshot(pid, shown) : ProfileSnapshotPtr();
        };
    }
    m_profile->setSource(source);
    m_profile->setProcess(m_pid, m_name);
    m_profile->refresh();
}

QString MemoryPanel::totalsText() const
{
    const QString name = shownName();
    if (m_pid <= 0)
        return tr("Select a process. The heap by call site is tracked for the programs perfdash launches with "
                  "the heap preload (perfdash --heap -- COMMAND, or File > Launch program with \u201cTrack "
                  "allocations\u201d).");
    if (const ProfileSnapshotPtr recorded = showsRecorded() ? recordedFor(m_pid) : nullptr)
        return tr("The heap of %1 from the capture: %2 live when its run ended, by the call site that allocated "
                  "it (estimated from sampled allocations). Read-only: a capture keeps the live bytes, not the "
                  "allocation rate nor a growth since a mark.")
            .arg(name, formatBytes(qint64(recorded->totalSamples())));
    const std::vector<HeapTotals> all = m_heap ? m_heap->totals() : std::vector<HeapTotals>();
    const auto it = std::find_if(all.begin(), all.end(), [this](const HeapTotals& t) { return t.pid == m_pid; });
    if (it == all.end()) {
        if (!m_heap) // an opened capture
            return tr("The capture holds no heap profile of %1: a capture keeps the heap of the programs its run "
                      "launched with the heap preload (perfdash --heap --record FILE -- COMMAND). The charts show "
                      "its RSS, and its heap in use if it linked the client library with PERFDASH_HEAP=1.")
                .arg(name);
        return tr("The heap of %1 is not tracked: a running process cannot be given the heap preload, only a "
                  "program perfdash launches (perfdash --heap -- COMMAND, or File > Launch program with \u201cTrack "
                  "allocations\u201d). The charts show its RSS, and its heap in use when it links the client "
                  "library with PERFDASH_HEAP=1.")
            .arg(name);
    }
    const HeapTotals& t = *it;
    if (!t.problem.isEmpty() && !t.reporting)
        return tr("The heap of %1: %2.").arg(name, t.problem);
    if (!t.reporting)
        return tr("Waiting for the heap preload of %1 to report\u2026").arg(name);
    const QLocale locale;
    QString text = tr("Heap in use %1 in %2 blocks (exact); %3 allocated in %4 calls since the start; %5 blocks "
                      "sampled for the call sites; malloc of %6")
                       .arg(formatBytes(qint64(t.liveBytes)), locale.toString(qulonglong(t.liveBlocks)),
                           formatBytes(qint64(t.allocatedBytes)), locale.toString(qulonglong(t.allocations)),
                           locale.toString(qulonglong(t.samples)), t.allocator.isEmpty() ? tr("?") : t.allocator);
    if (t.lost > 0)
        text += tr("; %1 samples lost (the call sites may be off)").arg(locale.toString(qulonglong(t.lost)));
    text += u'.';
    if (t.ended)
        text += u' ' + tr("%1 has ended: these are its last numbers (no allocation rate).").arg(name);
    // What the numbers leave out (a wrapper's exec, child processes), beside them, not instead.
    if (!t.problem.isEmpty())
        text += u' ' + tr("Note: %1.").arg(t.problem);
    if (view() == HeapView::Growth) {
        const auto mark = m_marks.constFind(m_pid);
        text += mark != m_marks.constEnd()
            ? tr(" Growth since the mark set at %1.").arg(mark->toString(QStringLiteral("HH:mm:ss")))
            : tr(" Growth since the start (no mark set): the live bytes; Set mark to see what grows from now on.");
    }
    return text;
}

void MemoryPanel::updateTotals()
{
    if (!isVisible() && m_totals->text().size() > 0)
        return;
    const QString text = totalsText();
    if (text != m_totals->text())
        m_totals->setText(text);
    updateControls();
}

} // namespace perfdash
