// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgets/memorypanel.h"

#include "models/format.h"
#include "widgets/profilepanel.h"

#include <QComboBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QPushButton>
#include <QVBoxLayout>

namespace perfdash {

MemoryPanel::MemoryPanel(QWidget* parent)
    : QWidget(parent)
    , m_viewBox(new QComboBox(this))
    , m_markButton(new QPushButton(tr("Set mark"), this))
    , m_totals(new QLabel(this))
    , m_profile(new ProfilePanel(this))
{
    m_viewBox->addItem(tr("Live bytes"), int(HeapView::Live));
    m_viewBox->addItem(tr("Allocation rate"), int(HeapView::AllocationRate));
    m_viewBox->addItem(tr("Growth since mark"), int(HeapView::Growth));
    m_viewBox->setToolTip(tr("Live bytes: held now, by the call site that allocated them. Allocation rate: bytes "
                             "allocated per second over the last %1 s. Growth since mark: live bytes that "
                             "were not there at the mark (what kept growing)")
                              .arg(HeapProfiler::RateSeconds));
    m_markButton->setToolTip(tr("Keep the live bytes by call site as they are now: the growth view shows what "
                                "grows from here"));
    m_totals->setWordWrap(true);
    m_totals->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_totals->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred); // wraps, never widens the view
    m_profile->setSamplingControlsVisible(false);
    m_profile->setCaptureKind(ProfilePanel::CaptureKind::Heap); // "Compare with a capture" reads its heaps

    auto* bar = new QHBoxLayout;
    bar->setContentsMargins(4, 2, 4, 0);
    bar->addWidget(new QLabel(tr("Show"), this));
    bar->addWidget(m_viewBox);
    bar->addWidget(m_markButton);
    bar->addStretch();
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    layout->addLayout(bar);
    layout->addWidget(m_totals);
    layout->addWidget(m_profile, 1);

    connect(m_viewBox, &QComboBox::currentIndexChanged, this, [this] { updateSource(); });
    connect(m_markButton, &QPushButton::clicked, this, &MemoryPanel::setMark);
    m_timer.setInterval(500);
    connect(&m_timer, &QTimer::timeout, this, &MemoryPanel::updateTotals);
    m_timer.start();
    updateTotals();
}

void MemoryPanel::setHeapProfiler(HeapProfiler* heap)
{
    m_heap = heap;
    updateSource();
}

void MemoryPanel::setProcess(qint64 pid, const QString& name)
{
    if (pid == m_pid && (name.isEmpty() || name == m_name))
        return;
    m_pid = pid;
    m_name = name;
    updateSource();
}

void MemoryPanel::setView(HeapView view)
{
    m_viewBox->setCurrentIndex(m_viewBox->findData(int(view)));
}

HeapView MemoryPanel::view() const
{
    return HeapView(m_viewBox->currentData().toInt());
}

void MemoryPanel::setMark()
{
    if (!m_heap || m_pid <= 0)
        return;
    m_heap->setMark(m_pid);
    setView(HeapView::Growth);
    m_profile->refresh();
}

void MemoryPanel::updateSource()
{
    ProfilePanel::Source source;
    if (m_heap) {
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
    updateTotals();
}

QString MemoryPanel::totalsText() const
{
    const QString name = m_name.isEmpty() ? tr("this process") : m_name;
    if (m_pid <= 0)
        return tr("Select a process. The heap by call site is tracked for the programs perfdash launches with "
                  "the heap preload (perfdash --heap -- COMMAND, or File > Launch program with \u201cTrack "
                  "allocations\u201d).");
    const std::vector<HeapTotals> all = m_heap ? m_heap->totals() : std::vector<HeapTotals>();
    const auto it = std::find_if(all.begin(), all.end(), [this](const HeapTotals& t) { return t.pid == m_pid; });
    if (it == all.end())
        return tr("The heap of %1 is not tracked: a running process cannot be given the heap preload, only a "
                  "program perfdash launches (perfdash --heap -- COMMAND, or File > Launch program with \u201cTrack "
                  "allocations\u201d). The charts show its RSS, and its heap in use when it links the client "
                  "library with PERFDASH_HEAP=1.")
            .arg(name);
    const HeapTotals& t = *it;
    if (!t.problem.isEmpty())
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
    return text + u'.';
}

void MemoryPanel::updateTotals()
{
    if (!isVisible() && m_totals->text().size() > 0)
        return;
    const QString text = totalsText();
    if (text != m_totals->text())
        m_totals->setText(text);
    m_markButton->setEnabled(m_heap && m_pid > 0);
}

} // namespace perfdash
